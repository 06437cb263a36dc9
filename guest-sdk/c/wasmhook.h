// Helpers for wasmhook rules written in C, built with zig cc (wasm32-wasi) and the wasmhook-c tool.
//
// The bindings (`registration_rule.h`) are generated from wit/ when the rule is built; this header
// only adds what makes a rule read like its intent: decision builders, profile accessors and a
// small JSON reader for profile values and settings. A denial is a DENY command *and* an `error`,
// which is what Okta needs to show field errors.
//
// A rule defines `wh_evaluate` (and may define `wh_validate_settings`); this layer exports them as
// the component's `evaluate` (and `validate-settings`)
// and takes care of the bindings' ownership rules (the request is freed after the call, and
// everything in a decision is heap memory the bindings free once the host has read it).
//
// allocator.c, linked into every C rule, replaces malloc and friends with a bump allocator suited
// to an instance that lives for one request (see there why).

#ifndef WASMHOOK_H
#define WASMHOOK_H

#include <stdbool.h>
#include <stddef.h>

#include "registration_rule.h"

#ifdef __cplusplus
extern "C" {
#endif

// Short names for the generated types.
typedef registration_rule_string_t wh_string;  // UTF-8, not NUL-terminated: `ptr` and `len`
typedef exports_wasmhook_rule_registration_request_t wh_request;
typedef exports_wasmhook_rule_registration_decision_t wh_decision;
typedef wasmhook_rule_types_profile_t wh_profile;
typedef wasmhook_rule_types_level_t wh_level;

#define WH_TRACE WASMHOOK_RULE_TYPES_LEVEL_TRACE
#define WH_DEBUG WASMHOOK_RULE_TYPES_LEVEL_DEBUG
#define WH_INFO WASMHOOK_RULE_TYPES_LEVEL_INFO
#define WH_WARN WASMHOOK_RULE_TYPES_LEVEL_WARN
#define WH_ERROR WASMHOOK_RULE_TYPES_LEVEL_ERROR

// ---- The rule ----------------------------------------------------------------------------------

// Defined by the rule: decides on one registration hook call. The request is borrowed for the
// duration of the call. Return true with `*decision` set (it starts as `wh_allow()`), or return
// `wh_fail(error, "...")` when the rule cannot decide (for example, invalid settings): the server
// then applies the route's failure policy and logs the message.
bool wh_evaluate(const wh_request *request, wh_decision *decision, wh_string *error);

// May be defined by the rule: checks the route's settings (JSON text, `{}` when none) once, when
// the route is loaded (`wasmhook check`, start-up, a reload, `eval`, `test`), before any call.
// Return true to accept them, or `wh_fail(error, "...")` to refuse them with a message for the
// operator: the route then does not load. The settings are borrowed for the call. Without a
// definition, a weak default accepts every settings. Never repeat a setting's value in the
// message: it may be a secret.
bool wh_validate_settings(wh_string settings, wh_string *error);

// Sets `*error` to a copy of `message` and returns false, for `return wh_fail(error, "...");`.
bool wh_fail(wh_string *error, const char *message);

// Writes a line to the server's log, tagged with the call. Never log secrets or personal data.
void wh_log(wh_level level, const char *message);

// ---- Decisions ---------------------------------------------------------------------------------

// No change: the registration or update proceeds as submitted (answered with 204).
wh_decision wh_allow(void);

// Denies the registration or update: a DENY command and an `error` with `summary`. Okta shows
// `summary` only when no field error is added; add one with `wh_field_error`.
wh_decision wh_deny(const char *summary);

// Adds an error shown next to the form field at `location` (see WH_FIELD_LOCATION), with the
// machine-readable `reason` and the text `summary`. Turns the decision into a denial if it was
// not one already (then `summary` is also the top-level summary).
void wh_field_error(wh_decision *decision, const char *location, const char *reason,
                    const char *summary);

// Whether `decision` denies the registration or update.
bool wh_is_denied(const wh_decision *decision);

// The `location` of an error cause for the profile attribute `attribute` (a string literal), e.g.
// WH_FIELD_LOCATION("email") is "data.userProfile.email": the JSON path prefix Okta's Sign-In
// Widget maps to form fields, documented as the same for both flows.
#define WH_FIELD_LOCATION_PREFIX "data.userProfile."
#define WH_FIELD_LOCATION(attribute) (WH_FIELD_LOCATION_PREFIX attribute)

// ---- The request -------------------------------------------------------------------------------

// The attributes the user is submitting: `data.userProfile` on self-service registration,
// `data.userProfileUpdate` on progressive profiling.
const wh_profile *wh_submitted(const wh_request *request);

// The raw JSON text of the attribute `name`, or NULL when the profile has no such attribute.
const wh_string *wh_profile_get(const wh_profile *profile, const char *name);

// ---- Text --------------------------------------------------------------------------------------

// A growable byte buffer, kept NUL-terminated so `ptr` can be passed to the builders above.
// Start with `wh_buf b = {0};` and release with `wh_buf_free`. Allocation failure traps (the
// server then applies the route's failure policy).
typedef struct wh_buf {
  char *ptr;
  size_t len;
  size_t cap;
} wh_buf;

void wh_buf_push(wh_buf *buf, const char *bytes, size_t len);
void wh_buf_push_str(wh_buf *buf, const char *text);
void wh_buf_clear(wh_buf *buf);
void wh_buf_free(wh_buf *buf);

// Text decoded from JSON may hold NUL bytes (`\u0000`), so compare it with these, which take
// lengths into account, and never with strcmp: `example.com\u0000.evil.net` is not `example.com`.

// Whether `buf` holds exactly `text`.
bool wh_buf_equals(const wh_buf *buf, const char *text);

// Whether two byte strings are equal ignoring ASCII case (as Rust's `eq_ignore_ascii_case`).
bool wh_equal_ignore_ascii_case(const char *a, size_t a_len, const char *b, size_t b_len);

// The domain of an email address into `domain`: the text after the *last* `@` of `email` with
// surrounding white space removed, lowercased (ASCII). False when there is no `@`, or nothing
// before or after it. Compare the result for equality with an allow-list, never by substring
// (that accepts `evilexample.com` and `example.com.attacker.net`).
bool wh_email_domain(const char *email, size_t len, wh_buf *domain);

// The lowercased domain of the profile's `email` attribute, when it is a JSON string holding an
// email address (see wh_email_domain).
bool wh_profile_email_domain(const wh_profile *profile, wh_buf *domain);

// ---- JSON --------------------------------------------------------------------------------------
//
// Profile values and settings arrive as JSON text. These readers cover what rules need and
// reject anything that is not valid JSON (RFC 8259), like the other languages' parsers do.

// Decodes `json`, which must be one JSON string (white space around it allowed), into `out`
// (replacing its contents; escapes such as \n and \u00e9 or surrogate pairs become UTF-8).
// False when `json` is invalid or another type of value (a number, null…).
bool wh_json_string(wh_string json, wh_buf *out);

// The strings of an array that is the value of a key of a JSON object, in order.
typedef struct wh_json_strings {
  const unsigned char *at;  // the next element, or the closing `]`
  const unsigned char *end;
} wh_json_strings;

// Starts reading the array under `key` of the JSON object `json` (such as a rule's settings).
// False when `json` is not a valid JSON object, when it has no member `key` or more than one
// (serde, which reads Rust rules' settings, refuses duplicate fields too), or when that member
// is not an array of strings.
bool wh_json_object_strings(wh_string json, const char *key, wh_json_strings *strings);

// Decodes the next string of the array into `out`; false once every string has been read.
bool wh_json_strings_next(wh_json_strings *strings, wh_buf *out);

#ifdef __cplusplus
}
#endif

#endif
