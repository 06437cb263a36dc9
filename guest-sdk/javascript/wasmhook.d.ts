// Type declarations for wasmhook.js, the helpers of JavaScript rules (issue #12). Editors and `tsc`
// pick them up beside wasmhook.js; a rule stays plain JavaScript. The request and decision types
// are the WIT package `wasmhook:rule@0.1.0` (wit/*.wit) as jco maps it: records are objects with
// camelCase fields, `option<T>` is `T | undefined`, `list<T>` is `T[]`, enums are string literal
// unions, variants are `{ tag, val }`, `json` is JSON text. Keep every declaration in step with
// wasmhook.js (in the wasmhook repository, tests/integration/typings.rs checks the exports both ways).
//
// A rule can give `evaluate` its request type with JSDoc, e.g. `/** @param {sdk.TokenRequest} request */`.

// ---------------------------------------------------------------------------------------------
// Shared shapes (wit/types.wit, interface `types`).

/** A JSON document as UTF-8 text (`"abc"`, `12`, `["a"]`, `{"k": 1}`, `null`): WIT `json`. */
export type Json = string;

/** A value `JSON.stringify` turns into JSON: what the builders accept as a claim or attribute value. */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/** One attribute of an Okta user profile; `value` is JSON text (`"1234"` and `1234` stay different). */
export interface Attribute {
  /** The attribute's name in the Okta user schema, e.g. `email`. */
  name: string;
  /** The attribute's value as JSON text. */
  value: Json;
}

/** Profile attributes in the order Okta sent them (or, in an answer, the order to apply them). */
export type Profile = Attribute[];

/** The envelope every Okta inline hook request carries. */
export interface Envelope {
  /** `eventId`: unique per call; a retried call may repeat it. */
  eventId: string;
  /** `eventTime`, ISO-8601. */
  eventTime: string;
  /** `eventType`, e.g. `com.okta.user.pre-registration`. */
  eventType: string;
  /** `eventTypeVersion`, normally `1.0`. */
  eventTypeVersion: string;
  /** `contentType`, normally `application/json`. */
  contentType: string;
  /** `cloudEventVersion`, normally `0.1`. */
  cloudEventVersion: string;
  /** `source`: opaque; its format differs per hook type. */
  source: string;
  /** `requestType` when Okta sent one (Identity Engine); undefined on Classic Engine. */
  requestType?: string | undefined;
}

/** The end user's HTTP request that triggered the hook (`data.context.request`). */
export interface RequestContext {
  /** Okta's request id. */
  id?: string | undefined;
  /** HTTP method, normally `POST`. */
  method?: string | undefined;
  /** The end user's IP address as Okta saw it. */
  ipAddress?: string | undefined;
  /** The path of the request (`url.value`), e.g. `/idp/idx/enroll/new`. */
  url?: string | undefined;
}

/** One problem to show (`error.errorCauses[]`); Okta requires all five fields (see `fieldError`). */
export interface ErrorCause {
  /** Human-readable text, shown next to the field named by `location`. */
  errorSummary: string;
  /** Machine-readable code, e.g. `INVALID_EMAIL_DOMAIN`. */
  reason: string;
  /** Where `location` points: `body`, `header`, `url` or `query`. */
  locationType: string;
  /** JSON path into the request, e.g. `data.userProfile.email`. */
  location: string;
  /** Who the error is for, e.g. `end-user`. */
  domain: string;
}

/** The `error` member of an answer: its presence alone fails the operation and voids every command. */
export interface HookError {
  /** Top-level summary. */
  errorSummary: string;
  /** Per-field causes, possibly empty. */
  errorCauses: ErrorCause[];
}

/** The Okta user a hook call is about (`data.context.user`). */
export interface User {
  /** Okta user id. */
  id?: string | undefined;
  /** When the password last changed, ISO-8601. */
  passwordChanged?: string | undefined;
  /** The user's profile attributes. */
  profile: Profile;
}

/** The end user's Okta session (`data.context.session`). */
export interface Session {
  /** Session id. */
  id?: string | undefined;
  /** The signed-in user's id. */
  userId?: string | undefined;
  /** The signed-in user's login. */
  login?: string | undefined;
  /** `ACTIVE`, … */
  status?: string | undefined;
  /** ISO-8601. */
  createdAt?: string | undefined;
  /** ISO-8601. */
  expiresAt?: string | undefined;
  /** Authentication methods used, e.g. `PASSWORD`. */
  amr: string[];
  /** The identity provider's id (`idp.id`). */
  idpId?: string | undefined;
  /** The identity provider's type (`idp.type`), e.g. `OKTA`. */
  idpType?: string | undefined;
  /** Whether the session used multi-factor authentication. */
  mfaActive?: boolean | undefined;
}

/** What a JSON Patch operation does (WIT enum `patch-op`). */
export type PatchOp = 'add' | 'replace' | 'remove';

/** One operation of a patch command (`com.okta.identity.patch`, `com.okta.assertion.patch`, …). */
export interface PatchOperation {
  /** `add`, `replace` or `remove`. */
  op: PatchOp;
  /** A JSON Pointer (RFC 6901) such as `/claims/department` (see `pointer`). */
  path: string;
  /** The value as JSON text; required by `add` and `replace`, undefined for `remove`. */
  value?: Json | undefined;
}

/** Severity of a log line (WIT enum `level`). */
export type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error';

// ---------------------------------------------------------------------------------------------
// Registration hook (wit/registration.wit, world `registration-rule`, export `registration`).

/** Which registration flow called the hook (WIT enum `flow`). */
export type Flow = 'self-service-registration' | 'progressive-profile';

/** The existing user, on progressive profiling (`data.context.user`). */
export interface ExistingUser {
  /** Okta user id. */
  id?: string | undefined;
  /** When the password last changed, ISO-8601. */
  passwordChanged?: string | undefined;
  /** The user's current attributes. */
  profile: Profile;
}

/** A registration hook request, typed, plus everything else as raw JSON. */
export interface RegistrationRequest {
  /** The envelope fields. */
  envelope: Envelope;
  /** The flow, derived from `requestType`. */
  flow: Flow;
  /** `data.context.request`. */
  context: RequestContext;
  /** `data.context.user`: present on progressive profiling only. */
  user?: ExistingUser | undefined;
  /** `data.userProfile`: the attributes submitted on self-service registration (empty otherwise). */
  userProfile: Profile;
  /** `data.userProfileUpdate`: the attributes being changed on progressive profiling (empty otherwise). */
  userProfileUpdate: Profile;
  /** `data.action`: `ALLOW` on Identity Engine, undefined on Classic Engine. */
  action?: string | undefined;
  /** This route's settings as JSON text (`{}` when none); `settings(request)` parses them. */
  settings: Json;
  /** The whole request body as Okta sent it, as JSON text. */
  raw: Json;
}

/** One registration command for Okta to execute, in order (WIT variant `command`). */
export type RegistrationCommand =
  | { tag: 'allow' }
  | { tag: 'deny' }
  | { tag: 'update-profile'; val: Profile }
  | { tag: 'update-progressive-profile'; val: Profile };

/** A registration rule's answer; no commands, no error and no debug context means "no change" (204). */
export interface RegistrationDecision {
  /** Commands, executed by Okta in this order. */
  commands: RegistrationCommand[];
  /** An error fails the registration or update and voids every command. */
  error?: HookError | undefined;
  /** A JSON object (as text) Okta copies into its System Log. Never put secrets or personal data here. */
  debugContext?: Json | undefined;
}

/** The object a registration rule exports as `registration` (wrap it in `rule`). */
export interface RegistrationHook {
  /** Decides on one call; throwing (or `fail`) is the rule's `err`: the route's failure policy answers. */
  evaluate(request: RegistrationRequest): RegistrationDecision;
}

// ---------------------------------------------------------------------------------------------
// Token hook (wit/token.wit, world `token-rule`, export `token`).

/** A claim of a token, its value kept as JSON text. */
export interface TokenClaim {
  /** The claim's name, e.g. `email` or `groups`. */
  name: string;
  /** The claim's value as JSON text (`get(token.claims, name)` parses it). */
  value: Json;
}

/** A parameter of the original authorization request (`data.context.protocol.request`). */
export interface Parameter {
  /** e.g. `scope`, `redirect_uri`, `client_id`. */
  name: string;
  /** Its value as text. */
  value: string;
}

/** The OAuth client the tokens are for (`data.context.protocol.client`). */
export interface Client {
  /** Client id. */
  id?: string | undefined;
  /** Client name. */
  name?: string | undefined;
  /** `PUBLIC` or `CONFIDENTIAL`. */
  clientType?: string | undefined;
}

/** The OAuth 2.0 / OIDC request that triggered the hook (`data.context.protocol`). */
export interface TokenProtocol {
  /** `type`, normally `OAUTH2.0`. */
  protocolType?: string | undefined;
  /** The original request parameters, in the order Okta sent them. */
  parameters: Parameter[];
  /** The authorization server's issuer URI (`issuer.uri`). */
  issuer?: string | undefined;
  /** The OAuth client. */
  client?: Client | undefined;
}

/** The access policy and rule that let the tokens be minted (`data.context.policy`). */
export interface Policy {
  /** Policy id. */
  id?: string | undefined;
  /** `rule.id`. */
  ruleId?: string | undefined;
}

/** A token Okta is about to mint (`data.identity`, `data.access`). */
export interface Token {
  /** Its claims, in the order Okta sent them. */
  claims: TokenClaim[];
  /** `token.lifetime.expiration`: how many seconds the token will be valid. */
  lifetimeSeconds?: number | undefined;
}

/** A scope granted to the access token (`data.access.scopes`). */
export interface Scope {
  /** e.g. `openid`. */
  name: string;
  /** Scope id. */
  id?: string | undefined;
  /** Normally `GRANT`. */
  action?: string | undefined;
}

/** A token hook request, typed, plus everything else as raw JSON. */
export interface TokenRequest {
  /** The envelope fields. */
  envelope: Envelope;
  /** `data.context.request`. */
  context: RequestContext;
  /** `data.context.protocol`. */
  protocol: TokenProtocol;
  /** `data.context.session`. */
  session?: Session | undefined;
  /** `data.context.user`. */
  user?: User | undefined;
  /** `data.context.policy`. */
  policy?: Policy | undefined;
  /** The ID token (`data.identity`), when one is being minted: test with `!= null`. */
  identity?: Token | undefined;
  /** The access token (`data.access`), when one is being minted: test with `!= null`. */
  access?: Token | undefined;
  /** The access token's scopes (empty without an access token). */
  scopes: Scope[];
  /** `data.refresh_token.jti`, when a refresh token is being minted. */
  refreshTokenId?: string | undefined;
  /** This route's settings as JSON text (`{}` when none); `settings(request)` parses them. */
  settings: Json;
  /** The whole request body as Okta sent it, as JSON text. */
  raw: Json;
}

/** A token rule's answer; empty patches, no error and no debug context means "no change" (204). */
export interface TokenDecision {
  /** `com.okta.identity.patch`: operations on the ID token, in order. */
  identityPatch: PatchOperation[];
  /** `com.okta.access.patch`: operations on the access token, in order. */
  accessPatch: PatchOperation[];
  /** An error makes Okta mint no token: the client gets `server_error` with its summary. */
  error?: HookError | undefined;
  /** A JSON object (as text) Okta copies into its System Log. Never put secrets or personal data here. */
  debugContext?: Json | undefined;
}

/** The object a token rule exports as `token` (wrap it in `rule`). */
export interface TokenHook {
  /** Decides on one call; throwing (or `fail`) is the rule's `err`: the route's failure policy answers. */
  evaluate(request: TokenRequest): TokenDecision;
}

// ---------------------------------------------------------------------------------------------
// SAML assertion hook (wit/saml.wit, world `saml-rule`, export `saml`).

/** One value of an attribute (`attributeValues[]`). */
export interface AttributeValue {
  /** `attributes["xsi:type"]`, e.g. `xs:string` or `xs:integer`. */
  xsiType?: string | undefined;
  /** The value as text. */
  value: string;
}

/** An attribute statement of the assertion (`data.assertion.claims.<name>`). */
export interface SamlClaim {
  /** The attribute's name; it may be a URI. */
  name: string;
  /** `attributes.NameFormat`, e.g. `UNSPECIFIED`. */
  nameFormat?: string | undefined;
  /** Its values, in order. */
  values: AttributeValue[];
}

/** `data.assertion.subject`. */
export interface Subject {
  /** `nameId`. */
  nameId?: string | undefined;
  /** e.g. `urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified`. */
  nameFormat?: string | undefined;
  /** `confirmation.method`, e.g. `urn:oasis:names:tc:SAML:2.0:cm:bearer`. */
  confirmationMethod?: string | undefined;
  /** `confirmation.data.recipient`. */
  recipient?: string | undefined;
}

/** `data.assertion.authentication`. */
export interface Authentication {
  /** `sessionIndex`. */
  sessionIndex?: string | undefined;
  /** `authnContext.authnContextClassRef`. */
  authnContextClassRef?: string | undefined;
}

/** `data.assertion.conditions`. */
export interface Conditions {
  /** `audienceRestriction`: the audiences the assertion is for. */
  audienceRestriction: string[];
}

/** The assertion Okta is about to send (`data.assertion`). */
export interface Assertion {
  /** The subject. */
  subject: Subject;
  /** The authentication statement. */
  authentication: Authentication;
  /** The conditions. */
  conditions: Conditions;
  /** The attribute statements, in the order Okta sent them. */
  claims: SamlClaim[];
  /** `lifetime.expiration`: seconds the assertion is valid. */
  lifetimeSeconds?: number | undefined;
}

/** The SAML app the assertion is for (`data.context.protocol.issuer`). */
export interface Issuer {
  /** App id. */
  id?: string | undefined;
  /** App name. */
  name?: string | undefined;
  /** App URI. */
  uri?: string | undefined;
}

/** `data.context.protocol` of a SAML request. */
export interface SamlProtocol {
  /** `type`, normally `SAML2.0`. */
  protocolType?: string | undefined;
  /** The SAML app. */
  issuer?: Issuer | undefined;
}

/** A SAML assertion hook request, typed, plus everything else as raw JSON. */
export interface SamlRequest {
  /** The envelope fields. */
  envelope: Envelope;
  /** `data.context.request`. */
  context: RequestContext;
  /** `data.context.protocol`. */
  protocol: SamlProtocol;
  /** `data.context.session`. */
  session?: Session | undefined;
  /** `data.context.user`. */
  user?: User | undefined;
  /** The assertion. */
  assertion: Assertion;
  /** This route's settings as JSON text (`{}` when none); `settings(request)` parses them. */
  settings: Json;
  /** The whole request body as Okta sent it, as JSON text. */
  raw: Json;
}

/** A SAML rule's answer; no patch, no error and no debug context means "no change" (204). */
export interface SamlDecision {
  /** `com.okta.assertion.patch`: `add`/`replace` operations on the assertion, in order. */
  assertionPatch: PatchOperation[];
  /** An error denies the SAML request: the user sees an error page with its summary. */
  error?: HookError | undefined;
  /** A JSON object (as text) Okta copies into its System Log. Never put secrets or personal data here. */
  debugContext?: Json | undefined;
}

/** The object a SAML rule exports as `saml` (wrap it in `rule`). */
export interface SamlHook {
  /** Decides on one call; throwing (or `fail`) is the rule's `err`: the route's failure policy answers. */
  evaluate(request: SamlRequest): SamlDecision;
}

// ---------------------------------------------------------------------------------------------
// Password import hook (wit/password-import.wit, world `password-import-rule`, export `passwordImport`).

/** What the user typed (`data.context.credential`). */
export interface Credential {
  /** The username, normally the login. */
  username: string;
  /** The plaintext password. Never log it, never put it in an answer. */
  password: string;
}

/** A password import hook request, typed, plus everything else as raw JSON. */
export interface PasswordImportRequest {
  envelope: Envelope;
  /** `data.context.request`. */
  context: RequestContext;
  credential: Credential;
  /** This route's settings as JSON text (`{}` when none); `settings(request)` parses them. */
  settings: Json;
  /** The whole request body as Okta sent it (the password included), as JSON text. */
  raw: Json;
}

/** `verified` (`VERIFIED`) or `unverified` (`UNVERIFIED`). */
export type Verdict = 'verified' | 'unverified';

/** A password import rule's answer; Okta takes no `error` for this hook. */
export interface PasswordImportDecision {
  verdict: Verdict;
  /** A JSON object (as text) Okta copies into its System Log; dropped if it repeats the password. */
  debugContext?: Json | undefined;
}

/** The object a password import rule exports as `passwordImport` (wrap it in `rule`). */
export interface PasswordImportHook {
  /** Decides on one call; throwing (or `fail`) is the rule's `err`: the answer is 204, Okta's `UNVERIFIED`. */
  evaluate(request: PasswordImportRequest): PasswordImportDecision;
}

// ---------------------------------------------------------------------------------------------
// Telephony hook (wit/telephony.wit, world `telephony-rule`, export `telephony`).

/** Why Okta sends a code (`requestType`). */
export type TelephonyFlow = 'pre-enrollment' | 'mfa-verification' | 'account-unlock' | 'password-reset';

/** The user the code is for (`data.userProfile`). */
export interface TelephonyUserProfile {
  userId?: string | undefined;
  login?: string | undefined;
  firstName?: string | undefined;
  lastName?: string | undefined;
}

/** What to send, and where (`data.messageProfile`). */
export interface MessageProfile {
  phoneNumber: string;
  /** `SMS` or `voice call`. */
  deliveryChannel: string;
  /** The one-time code. Never log it; send it only to the provider. */
  otpCode: string;
  /** The message Okta would send, the code included. */
  msgTemplate: string;
  otpExpires?: string | undefined;
  locale?: string | undefined;
}

/** A telephony hook request, typed, plus everything else as raw JSON. */
export interface TelephonyRequest {
  envelope: Envelope;
  flow: TelephonyFlow;
  /** `data.context.request`. */
  context: RequestContext;
  userProfile: TelephonyUserProfile;
  messageProfile: MessageProfile;
  /** This route's settings as JSON text (`{}` when none); `settings(request)` parses them. */
  settings: Json;
  /** The whole request body as Okta sent it (the code included), as JSON text. */
  raw: Json;
}

/** How the delivery went. */
export type TelephonyStatus = 'successful' | 'pending' | 'failed';

/** A telephony rule's answer: one `com.okta.telephony.action`. */
export interface TelephonyDecision {
  status: TelephonyStatus;
  /** The provider's name; required. */
  provider: string;
  /** The provider's id of the message; required. */
  transactionId: string;
  transactionMetadata?: string | undefined;
  /** A JSON object (as text) Okta copies into its System Log; dropped if it repeats the code. */
  debugContext?: Json | undefined;
}

/** The object a telephony rule exports as `telephony` (wrap it in `rule`). */
export interface TelephonyHook {
  /** Sends the code; throwing (or `fail`) means it was not sent: Okta sends it through its own providers. */
  evaluate(request: TelephonyRequest): TelephonyDecision;
}

// ---------------------------------------------------------------------------------------------
// User import hook (wit/user-import.wit, world `user-import-rule`, export `userImport`).

/** The app the user is imported from (`data.context.application`). */
export interface ImportApplication {
  id?: string | undefined;
  name?: string | undefined;
  label?: string | undefined;
  status?: string | undefined;
}

/** The import job (`data.context.job`). */
export interface ImportJob {
  id?: string | undefined;
  /** e.g. `import:users`. */
  jobType?: string | undefined;
}

/** What Okta does with the imported user: `CREATE_USER` or `LINK_USER`. */
export type ImportResult = 'create-user' | 'link-user';

/** A user import hook request, typed, plus everything else as raw JSON. */
export interface UserImportRequest {
  envelope: Envelope;
  application?: ImportApplication | undefined;
  job?: ImportJob | undefined;
  /** The attributes that conflict with an existing user, e.g. `login`. */
  conflicts: string[];
  /** The ids of the Okta users the import matched. */
  matches: string[];
  /** The match rules in force, e.g. `EMAIL`. */
  policy: string[];
  /** What Okta plans to do (`data.action.result`). */
  planned?: ImportResult | undefined;
  /** `data.appUser.profile`. */
  appUserProfile: Profile;
  /** `data.user.profile`. */
  userProfile: Profile;
  /** `data.user.id`: the matched Okta user, when there is one. */
  userId?: string | undefined;
  /** This route's settings as JSON text (`{}` when none); `settings(request)` parses them. */
  settings: Json;
  /** The whole request body as Okta sent it, as JSON text. */
  raw: Json;
}

/** A user import rule's answer; nothing set means "no change" (204). */
export interface UserImportDecision {
  /** `com.okta.appUser.profile.update`. */
  appUserProfileUpdate: Profile;
  /** `com.okta.user.profile.update`. */
  userProfileUpdate: Profile;
  /** `com.okta.action.update` `{"result": …}`. */
  action?: ImportResult | undefined;
  /** `com.okta.user.update` `{"id": …}`: required with `link-user`, refused otherwise. */
  linkUserId?: string | undefined;
  /** Records this user's import as failed in Okta's System Log. */
  error?: HookError | undefined;
  /** A JSON object (as text) Okta copies into its System Log. Never put secrets or personal data here. */
  debugContext?: Json | undefined;
}

/** The object a user import rule exports as `userImport` (wrap it in `rule`). */
export interface UserImportHook {
  /** Decides on one call; throwing (or `fail`) is the rule's `err`: the route's failure policy answers. */
  evaluate(request: UserImportRequest): UserImportDecision;
}

// ---------------------------------------------------------------------------------------------
// Event hook (wit/event.wit, world `event-rule`, export `event`). Nothing waits for the rule: the
// server queues each delivered event, acknowledges the delivery, then runs the rule once per event
// (at least once: make its effect idempotent, keyed by `uuid`), trying a failed event again later.

/** Who did something, or what it was done to (`actor`, `target[]`). */
export interface Entity {
  /** The Okta id, e.g. `00uz9fj5aT69fHVro1d6`. */
  id: string;
  /** `type`: `User`, `AppInstance`, `AppUser`, `UserGroup`, … */
  kind: string;
  /** `alternateId`: for a user, normally the login. */
  alternateId?: string | undefined;
  /** `displayName`. */
  displayName?: string | undefined;
}

/** One System Log event (`data.events[]`), typed where every event has the field, plus the whole event as raw JSON. */
export interface LogEvent {
  /** `uuid`: unique per event; the server handles each uuid of a tenant once. */
  uuid: string;
  /** `eventType`, e.g. `user.lifecycle.deactivate`. */
  eventType: string;
  /** `published`: when it happened, ISO-8601. */
  published: string;
  /** `displayMessage`, e.g. `Deactivate Okta user`. */
  displayMessage?: string | undefined;
  /** `severity`: `DEBUG`, `INFO`, `WARN` or `ERROR`. */
  severity?: string | undefined;
  /** Who did it. */
  actor?: Entity | undefined;
  /** What it was done to, in the order Okta sent them (see `targets`). */
  target: Entity[];
  /** `outcome.result`: `SUCCESS`, `FAILURE`, `SKIPPED`, `ALLOW`, `DENY`, `CHALLENGE`, … */
  outcome?: string | undefined;
  /** `outcome.reason`. */
  outcomeReason?: string | undefined;
  /** The event exactly as Okta sent it (`client`, `transaction`, `debugContext`, …), as JSON text. */
  raw: Json;
}

/** The delivery that brought the event (the event hook call's envelope). */
export interface Delivery {
  /** `eventId` of the delivery (one delivery carries one or more events). */
  eventId: string;
  /** `eventTime`: when Okta sent it, ISO-8601. */
  eventTime: string;
  /** `source`: the event hook's URL at Okta. */
  source: string;
}

/** One event for the rule. */
export interface EventRequest {
  /** The event. */
  event: LogEvent;
  /** The delivery that brought it. */
  delivery: Delivery;
  /** Which attempt this is: 1 the first time, 2 after one failure, … */
  attempt: number;
  /** This route's settings as JSON text (`{}` when none); `settings(request)` parses them. */
  settings: Json;
}

/** The object an event rule exports as `event` (wrap it in `rule`). */
export interface EventHook {
  /** Acts on one event; returning means done, throwing (or `fail`) means not done: the server tries again later, and after the last attempt keeps the event as a dead letter. */
  handle(request: EventRequest): void;
}

// ---------------------------------------------------------------------------------------------
// Settings check (wit/settings.wit, every world, export `settings`).

/** The object a rule may export as `settings`: `validateSettings` throws to refuse the settings. */
export interface SettingsHook {
  /** Checks the route's settings (JSON text of an object); returning accepts them, throwing refuses them. */
  validateSettings(settings: Json): void;
}

// ---------------------------------------------------------------------------------------------
// Shared helpers.

/** `error` on one line (type, message, innermost frames); a thrown string is kept as it is. */
export function describeError(error: unknown): string;

/** A copy of the hook's object (its own properties: pass an object literal, not a class instance) with every function wrapped so that an exception reaches the server as `describeError` says. */
export function rule<T extends object>(exported: T): T;

/** Gives up: the server answers with the route's failure policy and logs `message` as it is (throws it). */
export function fail(message: string): never;

/** The route's settings (`request.settings`), parsed. */
export function settings(request: { readonly settings: Json }): any;

/** Settings as `validateSettings` receives them (JSON text), parsed; throws unless they are an object. */
export function parseSettings(settings: Json): { [key: string]: any };

/** The settings check a rule gets unless it exports its own `settings`: it accepts every settings. */
export const acceptAllSettings: SettingsHook;

/** The parsed value (any JSON type) of the attribute or claim `name` in `items`, or undefined when absent. */
export function get(items: ReadonlyArray<{ readonly name: string; readonly value: Json }>, name: string): any;

/** A JSON Pointer from `segments`, each escaped as RFC 6901 says: `pointer('claims', 'http://x/role')`. */
export function pointer(...segments: string[]): string;

/** The lowercased text after the last `@` (undefined for a non-string or no domain); compare it for equality. */
export function emailDomain(email: unknown): string | undefined;

/** Writes to the server's log (at `info` unless `level` says otherwise), tagged with the call. Never log secrets or personal data. */
export function log(message: string, level?: Level): void;

// ---------------------------------------------------------------------------------------------
// Registration helpers.

/** The attributes being submitted: `userProfile` on registration, `userProfileUpdate` on progressive profiling. */
export function submitted(request: RegistrationRequest): Profile;

/** No change: answered with 204. */
export function allow(): RegistrationDecision;

/** A denial: a DENY command and an `error` with `summary` and `causes` (see `fieldError`). */
export function deny(summary: string, ...causes: ErrorCause[]): RegistrationDecision;

/** An error shown next to the form field at `location`, e.g. `data.userProfile.email`. */
export function fieldError(location: string, reason: string, summary: string): ErrorCause;

/** Adds `com.okta.user.profile.update` with `attributes` (name → value); self-service registration only. */
export function updateProfile(decision: RegistrationDecision, attributes: { readonly [name: string]: JsonValue }): RegistrationDecision;

/** Adds `com.okta.user.progressive.profile.update` with `attributes` (name → value); progressive profiling only. */
export function updateProgressiveProfile(decision: RegistrationDecision, attributes: { readonly [name: string]: JsonValue }): RegistrationDecision;

// ---------------------------------------------------------------------------------------------
// Token helpers: patch only tokens the request carries (`request.access`, `request.identity`).

/** A token decision that changes nothing (answered with 204); add patches to it. */
export function noTokenChange(): TokenDecision;

/** Mints no token: the client receives `server_error` with `summary` as its description. */
export function tokenError(summary: string): TokenDecision;

/** Adds claim `name` (or replaces it, if it exists) in the access token. */
export function addAccessClaim(decision: TokenDecision, name: string, value: JsonValue): TokenDecision;

/** Adds claim `name` (or replaces it, if it exists) in the ID token. */
export function addIdentityClaim(decision: TokenDecision, name: string, value: JsonValue): TokenDecision;

/** Replaces the existing claim `name` of the access token. */
export function replaceAccessClaim(decision: TokenDecision, name: string, value: JsonValue): TokenDecision;

/** Replaces the existing claim `name` of the ID token. */
export function replaceIdentityClaim(decision: TokenDecision, name: string, value: JsonValue): TokenDecision;

/** Removes the existing claim `name` from the access token. */
export function removeAccessClaim(decision: TokenDecision, name: string): TokenDecision;

/** Removes the existing claim `name` from the ID token. */
export function removeIdentityClaim(decision: TokenDecision, name: string): TokenDecision;

/** Sets how long the access token is valid, in seconds (Okta accepts 300–86400). */
export function accessLifetime(decision: TokenDecision, seconds: number): TokenDecision;

/** Sets how long the ID token is valid, in seconds (Okta accepts 300–86400). */
export function identityLifetime(decision: TokenDecision, seconds: number): TokenDecision;

// ---------------------------------------------------------------------------------------------
// Password import helpers.

/** `VERIFIED`: the password is right; Okta signs the user in and keeps it. */
export function verified(): PasswordImportDecision;

/** `UNVERIFIED`: the password is wrong (or the user unknown); the sign-in fails. */
export function unverified(): PasswordImportDecision;

// ---------------------------------------------------------------------------------------------
// Telephony helpers.

/** Whether the code goes by voice call rather than SMS. */
export function isVoiceCall(request: TelephonyRequest): boolean;

/** How the delivery went: `provider` sent (or will send, or could not send) the message as `transactionId`. */
export function sent(
  status: TelephonyStatus,
  provider: string,
  transactionId: string,
  options?: { metadata?: string | undefined; debugContext?: { readonly [key: string]: JsonValue } | undefined },
): TelephonyDecision;

// ---------------------------------------------------------------------------------------------
// User import helpers.

/** A user import decision that changes nothing (answered with 204); change it with the helpers below. */
export function noImportChange(): UserImportDecision;

/** Records this user's import as failed in Okta's System Log, with `summary`. */
export function importError(summary: string): UserImportDecision;

/** Sets attribute `name` of the Okta user to `value`. */
export function updateUser(decision: UserImportDecision, name: string, value: JsonValue): UserImportDecision;

/** Sets attribute `name` of the app user to `value`. */
export function updateAppUser(decision: UserImportDecision, name: string, value: JsonValue): UserImportDecision;

/** Links the app user to the existing Okta user `userId` (LINK_USER). */
export function linkTo(decision: UserImportDecision, userId: string): UserImportDecision;

/** Creates a new Okta user, whatever the matching found (CREATE_USER). */
export function createUser(decision: UserImportDecision): UserImportDecision;

// ---------------------------------------------------------------------------------------------
// SAML helpers.

/** `NameFormat` of an attribute whose name has no particular format. */
export const UNSPECIFIED: 'urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified';

/** A SAML decision that changes nothing (answered with 204); add patches to it. */
export function noAssertionChange(): SamlDecision;

/** Denies the SAML request: the user sees an error page with `summary`. */
export function samlError(summary: string): SamlDecision;

/** Adds attribute `name` with `values` (one string or several), by default `xs:string` with an `UNSPECIFIED` NameFormat. */
export function addAttribute(
  decision: SamlDecision,
  name: string,
  values: string | readonly string[],
  options?: { nameFormat?: string | undefined; xsiType?: string | undefined },
): SamlDecision;

/** Adds (`'add'`) or replaces (`'replace'`) the member at `path` (a JSON Pointer under `/subject/`, `/authentication/`, `/conditions/` or `/claims/`) with `value`. */
export function patchAssertion(decision: SamlDecision, op: 'add' | 'replace', path: string, value: JsonValue): SamlDecision;

// ---------------------------------------------------------------------------------------------
// Event helpers.

/** The event's targets (`event.target`) of `kind` (`User`, `AppInstance`, `UserGroup`, …), in order. */
export function targets(event: { readonly target: readonly Entity[] }, kind: string): Entity[];

// ---------------------------------------------------------------------------------------------
// Outbound HTTP (wit/http-client.wit), on the routes that grant it (`allowed_outbound_hosts`).

/** The upstream's answer, its body read whole. */
export interface HttpResponse {
  /** The status code, e.g. `200`. */
  status: number;
  /** Header names (lower case) and values, in the order received. */
  headers: [string, string][];
  body: Uint8Array;
  /** The first value of header `name` (case-insensitive), or undefined. */
  header(name: string): string | undefined;
  /** The body as UTF-8 text. */
  text(): string;
  /** The body as JSON. */
  json(): any;
}

/** Outbound HTTP; each call throws when the request got no response, saying what to change when the server refused it. */
export const http: {
  /** Sends one request with `method` to `url` (`https://host[:port]/path?query`) and reads the whole response. */
  request(
    method: string,
    url: string,
    options?: { headers?: [string, string][] | undefined; body?: string | Uint8Array | undefined },
  ): HttpResponse;
  /** `GET url`. */
  get(url: string, options?: { headers?: [string, string][] | undefined }): HttpResponse;
  /** `POST url` with `value` as a JSON body. */
  postJson(url: string, value: JsonValue, options?: { headers?: [string, string][] | undefined }): HttpResponse;
};
