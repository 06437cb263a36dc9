// Helpers for wasmhook rules written in JavaScript and built with jco (componentize-js), for every
// hook: shared ones first, then registration, token and SAML builders. A rule exports the object of
// its hook (`registration`, `token` or `saml`) and is built for that hook's world; it may also
// export `settings` (`{ validateSettings(settings) }`) to check its settings at load.
//
// The component's types come from wit/ when the rule is built (records are plain objects with
// camelCase fields, enums are kebab-case strings, variants are `{ tag, val }`; test an option with
// `!= null`, and leave one out with `undefined`); this module only adds builders and accessors. A registration denial is a DENY
// command *and* an `error`, which is what Okta needs to show field errors.

import { log as hostLog } from 'wasmhook:rule/log@0.1.0';

/** The route's settings, parsed. */
export function settings(request) {
  return JSON.parse(request.settings);
}

/** Settings as `validateSettings` receives them (JSON text), parsed; throws unless an object. */
export function parseSettings(settings) {
  const value = JSON.parse(settings);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error('the settings must be an object');
  }
  return value;
}

/**
 * The settings check a rule gets unless it exports its own `settings` (see rules/build.sh): it
 * accepts every settings. A rule's own `settings.validateSettings(settings)` throws to refuse
 * them, with a message that says what is wrong.
 */
export const acceptAllSettings = {
  validateSettings(_settings) {},
};

/** The attributes being submitted: `userProfile` on registration, `userProfileUpdate` on progressive profiling. */
export function submitted(request) {
  return request.flow === 'progressive-profile' ? request.userProfileUpdate : request.userProfile;
}

/** The value (any JSON type) of the attribute or claim `name` in `items`, or undefined when absent. */
export function get(items, name) {
  const item = items.find((a) => a.name === name);
  return item === undefined ? undefined : JSON.parse(item.value);
}

/** A JSON Pointer from `segments`, each escaped as RFC 6901 says: `pointer('claims', 'http://x/role')`. */
export function pointer(...segments) {
  return segments.map((s) => '/' + s.replaceAll('~', '~0').replaceAll('/', '~1')).join('');
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

/** Adds `com.okta.user.progressive.profile.update` (progressive profiling only). */
export function updateProgressiveProfile(decision, attributes) {
  const val = Object.entries(attributes).map(([name, value]) => ({ name, value: JSON.stringify(value) }));
  decision.commands.push({ tag: 'update-progressive-profile', val });
  return decision;
}

// Token hook (`token-rule`): patch only tokens the request carries (`request.access`,
// `request.identity`); the server refuses what Okta would reject.

const LIFETIME = '/token/lifetime/expiration';

function operation(op, path, value) {
  return { op, path, value: value === undefined ? undefined : JSON.stringify(value) };
}

/** A token decision that changes nothing (answered with 204); add patches to it. */
export function noTokenChange() {
  return { identityPatch: [], accessPatch: [], error: undefined, debugContext: undefined };
}

/** Mints no token: the client receives `server_error` with `summary` as its description. */
export function tokenError(summary) {
  return { ...noTokenChange(), error: { errorSummary: summary, errorCauses: [] } };
}

/** Adds claim `name` (or replaces it, if it exists) in the access token. */
export function addAccessClaim(decision, name, value) {
  decision.accessPatch.push(operation('add', pointer('claims', name), value));
  return decision;
}

/** Adds claim `name` (or replaces it, if it exists) in the ID token. */
export function addIdentityClaim(decision, name, value) {
  decision.identityPatch.push(operation('add', pointer('claims', name), value));
  return decision;
}

/** Replaces the existing claim `name` of the access token. */
export function replaceAccessClaim(decision, name, value) {
  decision.accessPatch.push(operation('replace', pointer('claims', name), value));
  return decision;
}

/** Replaces the existing claim `name` of the ID token. */
export function replaceIdentityClaim(decision, name, value) {
  decision.identityPatch.push(operation('replace', pointer('claims', name), value));
  return decision;
}

/** Removes the existing claim `name` from the access token. */
export function removeAccessClaim(decision, name) {
  decision.accessPatch.push(operation('remove', pointer('claims', name)));
  return decision;
}

/** Removes the existing claim `name` from the ID token. */
export function removeIdentityClaim(decision, name) {
  decision.identityPatch.push(operation('remove', pointer('claims', name)));
  return decision;
}

/** Sets how long the access token is valid (Okta accepts 300–86400 seconds). */
export function accessLifetime(decision, seconds) {
  decision.accessPatch.push(operation('replace', LIFETIME, seconds));
  return decision;
}

/** Sets how long the ID token is valid (Okta accepts 300–86400 seconds). */
export function identityLifetime(decision, seconds) {
  decision.identityPatch.push(operation('replace', LIFETIME, seconds));
  return decision;
}

// SAML assertion hook (`saml-rule`).

/** `NameFormat` of an attribute whose name has no particular format. */
export const UNSPECIFIED = 'urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified';

/** A SAML decision that changes nothing (answered with 204); add patches to it. */
export function noAssertionChange() {
  return { assertionPatch: [], error: undefined, debugContext: undefined };
}

/** Denies the SAML request: the user sees an error page with `summary`. */
export function samlError(summary) {
  return { ...noAssertionChange(), error: { errorSummary: summary, errorCauses: [] } };
}

/** Adds attribute `name` with `values` (strings), by default `xs:string` with an unspecified NameFormat. */
export function addAttribute(decision, name, values, { nameFormat = UNSPECIFIED, xsiType = 'xs:string' } = {}) {
  const attributeValues = [values].flat().map((value) => ({ attributes: { 'xsi:type': xsiType }, value }));
  return patchAssertion(decision, 'add', pointer('claims', name), {
    attributes: { NameFormat: nameFormat },
    attributeValues,
  });
}

/** Adds (`'add'`) or replaces (`'replace'`) the member at `path`, under `/subject/`, `/authentication/`, `/conditions/` or `/claims/`. */
export function patchAssertion(decision, op, path, value) {
  decision.assertionPatch.push(operation(op, path, value));
  return decision;
}

/** Writes to the server's log, tagged with the call. Never log secrets or personal data. */
export function log(message, level = 'info') {
  hostLog(level, message);
}
