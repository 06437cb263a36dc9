// Helpers for wasmhook rules written in JavaScript and built with jco (componentize-js).
//
// The component's types come from wit/ when the rule is built (records are plain objects with
// camelCase fields, enums are kebab-case strings, variants are `{ tag, val }`); this module only
// adds builders and accessors. A denial is a DENY command *and* an `error`, which is what Okta
// needs to show field errors.

import { log as hostLog } from 'wasmhook:rule/log@0.1.0';

/** The route's settings, parsed. */
export function settings(request) {
  return JSON.parse(request.settings);
}

/** The attributes being submitted: `userProfile` on registration, `userProfileUpdate` on progressive profiling. */
export function submitted(request) {
  return request.flow === 'progressive-profile' ? request.userProfileUpdate : request.userProfile;
}

/** An attribute's value (any JSON type), or undefined when absent. */
export function get(profile, name) {
  const attribute = profile.find((a) => a.name === name);
  return attribute === undefined ? undefined : JSON.parse(attribute.value);
}

/** The lowercased text after the last `@`; compare it for equality, never by substring. */
export function emailDomain(email) {
  if (typeof email !== 'string') return undefined;
  const trimmed = email.trim();
  const at = trimmed.lastIndexOf('@');
  if (at <= 0 || at === trimmed.length - 1) return undefined;
  return trimmed.slice(at + 1).toLowerCase();
}

/** No change: answered with 204. */
export function allow() {
  return { commands: [], error: undefined, debugContext: undefined };
}

/** A denial: a DENY command and an `error` with `causes` (see `fieldError`). */
export function deny(summary, ...causes) {
  return {
    commands: [{ tag: 'deny' }],
    error: { errorSummary: summary, errorCauses: causes },
    debugContext: undefined,
  };
}

/** An error shown next to the form field at `location`, e.g. `data.userProfile.email`. */
export function fieldError(location, reason, summary) {
  return { errorSummary: summary, reason, locationType: 'body', location, domain: 'end-user' };
}

/** Adds `com.okta.user.profile.update` (self-service registration only). */
export function updateProfile(decision, attributes) {
  const val = Object.entries(attributes).map(([name, value]) => ({ name, value: JSON.stringify(value) }));
  decision.commands.push({ tag: 'update-profile', val });
  return decision;
}

/** Writes to the server's log, tagged with the call. Never log secrets or personal data. */
export function log(message, level = 'info') {
  hostLog(level, message);
}
