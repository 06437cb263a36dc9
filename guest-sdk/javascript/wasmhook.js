// Helpers for wasmhook rules written in JavaScript and built with jco (componentize-js), for every
// hook: shared ones first, then registration, token, password import, telephony, user import,
// SAML and event helpers, and outbound HTTP. A rule exports the object of its hook (`registration`,
// `token`, `saml`, `passwordImport`, `telephony`, `userImport` or `event`) and is built for that hook's
// world; it may also export `settings` (`{ validateSettings(settings) }`) to check its settings at load.
//
// The component's types come from wit/ when the rule is built (records are plain objects with
// camelCase fields, enums are kebab-case strings, variants are `{ tag, val }`; test an option with
// `!= null`, and leave one out with `undefined`); this module only adds builders and accessors. A registration denial is a DENY
// command *and* an `error`, which is what Okta needs to show field errors.
//
// Wrap the exported object in `rule(...)`: an exception its functions throw then reaches the server
// as the rule's `err` with its type, message and where it was thrown (`describeError`), rather
// than QuickJS's bare message (`not a function`).

import { log as hostLog } from 'wasmhook:rule/log@0.1.0';
import { send as hostSend } from 'wasmhook:rule/http-client@0.1.0';

// Errors. QuickJS hands the server only an Error's `message`, and traps on a thrown value that is
// not a string or an Error; `rule` turns both into one line that says what and where.

/** Most stack frames, and most characters of an error's message, that `describeError` keeps. */
const FRAMES = 3;
const MESSAGE_CHARS = 500;
// `at name (file:line:column)` or `at file:line:column`, as QuickJS writes a frame.
const FRAME = /^\s*at (?:(.*?) \()?(.*?):(\d+):(\d+)\)?$/;

/** Where bundle line `line`, column `column` (1-based) came from: `{ file, line, column }`, if known. */
function sourceOf(line, column) {
  // Appended to the bundle by rules/javascript/bundle.config.mjs.
  const table = globalThis['wasmhook:source-lines'];
  const entries = table?.lines?.[line - 1];
  if (!entries) return undefined;
  let found;
  for (let i = 0; i < entries.length && entries[i] <= column - 1; i += 4) found = i;
  if (found === undefined) found = entries.length > 0 ? 0 : undefined;
  if (found === undefined) return undefined;
  return { file: table.files[entries[found + 1]], line: entries[found + 2], column: entries[found + 3] };
}

/** The frames of `stack` as `name (file:line:column)`, innermost first, in original files where known. */
function framesOf(stack) {
  if (typeof stack !== 'string') return [];
  const frames = [];
  for (const text of stack.split('\n')) {
    const match = FRAME.exec(text);
    if (!match) continue;
    const [, name, file, line, column] = match;
    const source = sourceOf(Number(line), Number(column));
    // `rule`'s own frame says nothing about the rule.
    if (name === 'wasmhookReportErrors') continue;
    const where = source
      ? `${source.file}:${source.line}:${source.column}`
      : `${file.replace(/^\//, '')}:${line}:${column}`;
    frames.push(name ? `${name} (${where})` : where);
  }
  return frames;
}

function oneLine(text, max) {
  const line = String(text).replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

/**
 * `error` on one line: its type, message and innermost frames, each joined to its caller by
 * ` <- `: `TypeError: not a function at evaluate (rules/javascript/email-domain/rule.js:9:27)`.
 * A thrown string is the rule's own `err` message and is kept as it is.
 */
export function describeError(error) {
  if (typeof error === 'string') return error;
  if (error instanceof Error || (error !== null && typeof error === 'object' && 'message' in error)) {
    const name = oneLine(error.name ?? 'Error', 100);
    const message = oneLine(error.message ?? '', MESSAGE_CHARS);
    const text = message === '' ? name : `${name}: ${message}`;
    const frames = framesOf(error.stack).slice(0, FRAMES);
    return frames.length === 0 ? text : `${text} at ${frames.join(' <- ')}`;
  }
  let shown;
  try {
    shown = JSON.stringify(error);
  } catch {
    shown = undefined;
  }
  return `threw a value that is not an Error: ${oneLine(shown ?? String(error), MESSAGE_CHARS)}`;
}

/**
 * The hook's exported object with every function wrapped, so that an exception reaches the
 * server as `describeError` describes it: `export const registration = rule({ evaluate(request) { … } });`.
 */
export function rule(exported) {
  const wrapped = {};
  for (const [key, value] of Object.entries(exported)) {
    wrapped[key] = typeof value !== 'function' ? value : function wasmhookReportErrors(...args) {
      try {
        return value.apply(exported, args);
      } catch (error) {
        throw describeError(error);
      }
    };
  }
  return wrapped;
}

/** Gives up: the server answers with the route's failure policy and logs `message` as it is. */
export function fail(message) {
  throw String(message);
}

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

// Password import hook (`password-import-rule`). `request.credential.password` is the plaintext
// password: never log it or put it in the answer.

/** `VERIFIED`: the password is right; Okta signs the user in and keeps it. */
export function verified() {
  return { verdict: 'verified', debugContext: undefined };
}

/** `UNVERIFIED`: the password is wrong (or the user unknown); the sign-in fails. */
export function unverified() {
  return { verdict: 'unverified', debugContext: undefined };
}

// Telephony hook (`telephony-rule`). `request.messageProfile.otpCode` is the one-time code
// (`msgTemplate` holds it too): never log it or put it in the answer.

/** Whether the code goes by voice call rather than SMS. */
export function isVoiceCall(request) {
  return request.messageProfile.deliveryChannel.toLowerCase() === 'voice call';
}

/** How the delivery went: `status` is `'successful'`, `'pending'` or `'failed'`; `provider` sent it as `transactionId`. */
export function sent(status, provider, transactionId, { metadata, debugContext } = {}) {
  return {
    status,
    provider,
    transactionId,
    transactionMetadata: metadata,
    debugContext: debugContext === undefined ? undefined : JSON.stringify(debugContext),
  };
}

// User import hook (`user-import-rule`).

/** A user import decision that changes nothing (answered with 204): the import goes on as Okta planned. */
export function noImportChange() {
  return {
    appUserProfileUpdate: [],
    userProfileUpdate: [],
    action: undefined,
    linkUserId: undefined,
    error: undefined,
    debugContext: undefined,
  };
}

/** Records this user's import as failed in Okta's System Log, with `summary`. */
export function importError(summary) {
  return { ...noImportChange(), error: { errorSummary: summary, errorCauses: [] } };
}

/** Sets attribute `name` of the Okta user to `value` (any JSON value). */
export function updateUser(decision, name, value) {
  decision.userProfileUpdate.push({ name, value: JSON.stringify(value) });
  return decision;
}

/** Sets attribute `name` of the app user to `value` (any JSON value). */
export function updateAppUser(decision, name, value) {
  decision.appUserProfileUpdate.push({ name, value: JSON.stringify(value) });
  return decision;
}

/** Links the app user to the existing Okta user `userId` (LINK_USER). */
export function linkTo(decision, userId) {
  decision.action = 'link-user';
  decision.linkUserId = userId;
  return decision;
}

/** Creates a new Okta user, whatever the matching found (CREATE_USER). */
export function createUser(decision) {
  decision.action = 'create-user';
  decision.linkUserId = undefined;
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

// Event hook (`event-rule`): `event.handle(request)` acts on one System Log event after it
// happened. Returning means done; throwing (or `fail`) means not done, and the server tries again
// later. A rule runs at least once per event: make its effect idempotent (key it by
// `request.event.uuid`).

/** The event's targets (`event.target`) of `kind`: `User`, `AppInstance`, `UserGroup`, … */
export function targets(event, kind) {
  return event.target.filter((entity) => entity.kind === kind);
}

/** Writes to the server's log, tagged with the call. Never log secrets or personal data. */
export function log(message, level = 'info') {
  hostLog(level, message);
}

// Outbound HTTP, on the routes that grant it (`allowed_outbound_hosts`), over
// `wasmhook:rule/http-client`: one blocking call per request. The server decides what a request
// may reach (its grant, the call's deadline, the caps) and adds upstream API keys itself. QuickJS
// has no TextEncoder/TextDecoder, so bodies are converted to and from UTF-8 here.

function utf8Bytes(text) {
  const binary = unescape(encodeURIComponent(text));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function utf8Text(bytes) {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  try {
    return decodeURIComponent(escape(binary));
  } catch {
    return binary;
  }
}

/** Sends one request and reads the whole response: `{ status, headers, body, header(name), text(), json() }`. Throws when there is none, with a message that says what to change when the server refused it. */
function request(method, url, { headers = [], body } = {}) {
  const bytes = body == null ? new Uint8Array(0) : typeof body === 'string' ? utf8Bytes(body) : body;
  let response;
  try {
    response = hostSend({ method: method.toUpperCase(), url, headers, body: bytes });
  } catch (error) {
    // jco throws a result's `err` as an error whose payload is the message.
    throw new Error(typeof error?.payload === 'string' ? error.payload : String(error?.message ?? error));
  }
  const received = new Uint8Array(response.body);
  return {
    status: response.status,
    headers: response.headers,
    body: received,
    header(name) {
      const wanted = name.toLowerCase();
      const found = response.headers.find(([n]) => n === wanted);
      return found ? found[1] : undefined;
    },
    text() {
      return utf8Text(received);
    },
    json() {
      return JSON.parse(utf8Text(received));
    },
  };
}

/** Outbound HTTP: `http.get(url)`, `http.postJson(url, value)`, `http.request(method, url, { headers, body })`. */
export const http = {
  request,
  get(url, options) {
    return request('GET', url, options);
  },
  postJson(url, value, { headers = [] } = {}) {
    return request('POST', url, { headers: [['content-type', 'application/json'], ...headers], body: JSON.stringify(value) });
  },
};
