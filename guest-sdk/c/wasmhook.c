// Helpers for wasmhook rules written in C; see wasmhook.h.
//
// Ownership, as the generated bindings define it: the exported function owns its arguments, and
// the bindings free the returned value (every string and list in it, with `free`) after the host
// has copied it out. So the request is freed here once the rule is done, and every string or list
// put in a decision is a heap copy. Nothing here keeps state between calls: the server runs every
// request in a fresh instance.

#include "wasmhook.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// ---- Memory ------------------------------------------------------------------------------------

// Allocation failure has no useful recovery in a rule: trapping makes the server apply the
// route's failure policy, which is what a rule that cannot decide should get.
static void *checked_realloc(void *ptr, size_t size) {
  void *p = realloc(ptr, size);
  if (p == NULL) abort();
  return p;
}

// A heap copy of `len` bytes, as the bindings' post-return function expects to free. An empty
// string needs no memory (the bindings free only non-empty strings).
static wh_string copy_bytes(const char *bytes, size_t len) {
  wh_string s = {NULL, len};
  if (len > 0) {
    s.ptr = checked_realloc(NULL, len);
    memcpy(s.ptr, bytes, len);
  }
  return s;
}

static wh_string copy_str(const char *text) { return copy_bytes(text, strlen(text)); }

// ---- The rule ----------------------------------------------------------------------------------

// The component's `evaluate` export, called by the generated bindings.
bool exports_wasmhook_rule_registration_evaluate(wh_request *request, wh_decision *decision,
                                                 wh_string *error) {
  *decision = wh_allow();
  *error = (wh_string){NULL, 0};
  bool ok = wh_evaluate(request, decision, error);
  // The bindings hand the request over to us; the rule only borrowed it.
  exports_wasmhook_rule_registration_request_free(request);
  // Only one side of the result reaches the host (and is freed by the bindings); free the other.
  if (ok) {
    registration_rule_string_free(error);
  } else {
    exports_wasmhook_rule_registration_decision_free(decision);
  }
  return ok;
}

// The component's `validate-settings` export, called by the generated bindings.
bool exports_wasmhook_rule_settings_validate_settings(exports_wasmhook_rule_settings_json_t *settings,
                                                      wh_string *error) {
  *error = (wh_string){NULL, 0};
  bool ok = wh_validate_settings(*settings, error);
  exports_wasmhook_rule_settings_json_free(settings);
  if (ok) registration_rule_string_free(error);
  return ok;
}

// The default settings check, for rules that define none: every settings are accepted.
__attribute__((weak)) bool wh_validate_settings(wh_string settings, wh_string *error) {
  (void)settings;
  (void)error;
  return true;
}

bool wh_fail(wh_string *error, const char *message) {
  registration_rule_string_free(error);
  *error = copy_str(message);
  return false;
}

void wh_log(wh_level level, const char *message) {
  // Arguments of an imported function are only borrowed by the host: no copy needed.
  wh_string text;
  registration_rule_string_set(&text, message);
  wasmhook_rule_log_log(level, &text);
}

// ---- Decisions ---------------------------------------------------------------------------------

wh_decision wh_allow(void) { return (wh_decision){0}; }

static bool has_deny(const wh_decision *decision) {
  for (size_t i = 0; i < decision->commands.len; i++) {
    if (decision->commands.ptr[i].tag == EXPORTS_WASMHOOK_RULE_REGISTRATION_COMMAND_DENY) {
      return true;
    }
  }
  return false;
}

// Replaces every command with a single DENY: an `error` voids the other commands anyway.
static void set_deny_command(wh_decision *decision) {
  exports_wasmhook_rule_registration_list_command_free(&decision->commands);
  decision->commands.ptr = checked_realloc(NULL, sizeof *decision->commands.ptr);
  decision->commands.ptr[0] = (exports_wasmhook_rule_registration_command_t){
      .tag = EXPORTS_WASMHOOK_RULE_REGISTRATION_COMMAND_DENY};
  decision->commands.len = 1;
}

wh_decision wh_deny(const char *summary) {
  wh_decision decision = wh_allow();
  set_deny_command(&decision);
  decision.error.is_some = true;
  decision.error.val.error_summary = copy_str(summary);
  return decision;
}

void wh_field_error(wh_decision *decision, const char *location, const char *reason,
                    const char *summary) {
  if (!has_deny(decision)) set_deny_command(decision);
  if (!decision->error.is_some) {
    decision->error.is_some = true;
    decision->error.val.error_summary = copy_str(summary);
  }
  wasmhook_rule_types_list_error_cause_t *causes = &decision->error.val.error_causes;
  causes->ptr = checked_realloc(causes->ptr, (causes->len + 1) * sizeof *causes->ptr);
  // The five fields Okta requires; `body` and `end-user` are what a form field error needs.
  causes->ptr[causes->len++] = (wasmhook_rule_types_error_cause_t){
      .error_summary = copy_str(summary),
      .reason = copy_str(reason),
      .location_type = copy_str("body"),
      .location = copy_str(location),
      .domain = copy_str("end-user"),
  };
}

bool wh_is_denied(const wh_decision *decision) {
  return decision->error.is_some || has_deny(decision);
}

// ---- The request -------------------------------------------------------------------------------

const wh_profile *wh_submitted(const wh_request *request) {
  if (request->flow == EXPORTS_WASMHOOK_RULE_REGISTRATION_FLOW_PROGRESSIVE_PROFILE) {
    return &request->user_profile_update;
  }
  return &request->user_profile;
}

const wh_string *wh_profile_get(const wh_profile *profile, const char *name) {
  size_t len = strlen(name);
  for (size_t i = 0; i < profile->len; i++) {
    const wh_string *n = &profile->ptr[i].name;
    if (n->len == len && memcmp(n->ptr, name, len) == 0) return &profile->ptr[i].value;
  }
  return NULL;
}

// ---- Text --------------------------------------------------------------------------------------

// Room for `extra` more bytes and the terminating NUL.
static void reserve(wh_buf *buf, size_t extra) {
  if (extra > SIZE_MAX / 2 - buf->len) abort();
  size_t need = buf->len + extra + 1;
  if (need <= buf->cap) return;
  size_t cap = buf->cap > 0 ? buf->cap : 32;
  while (cap < need) cap *= 2;
  buf->ptr = checked_realloc(buf->ptr, cap);
  buf->cap = cap;
}

// Always allocates, even for no bytes, so that a buffer something was pushed to has a valid `ptr`.
void wh_buf_push(wh_buf *buf, const char *bytes, size_t len) {
  reserve(buf, len);
  if (len > 0) memcpy(buf->ptr + buf->len, bytes, len);
  buf->len += len;
  buf->ptr[buf->len] = '\0';
}

void wh_buf_push_str(wh_buf *buf, const char *text) { wh_buf_push(buf, text, strlen(text)); }

void wh_buf_clear(wh_buf *buf) {
  buf->len = 0;
  if (buf->ptr != NULL) buf->ptr[0] = '\0';
}

// Empties `buf` for a reader's output, keeping a valid `ptr` even if the output stays "".
static void reset(wh_buf *buf) {
  wh_buf_clear(buf);
  wh_buf_push(buf, "", 0);
}

void wh_buf_free(wh_buf *buf) {
  free(buf->ptr);
  *buf = (wh_buf){0};
}

bool wh_buf_equals(const wh_buf *buf, const char *text) {
  size_t len = strlen(text);
  return buf->len == len && (len == 0 || memcmp(buf->ptr, text, len) == 0);
}

static unsigned char ascii_lower(unsigned char c) {
  return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

bool wh_equal_ignore_ascii_case(const char *a, size_t a_len, const char *b, size_t b_len) {
  if (a_len != b_len) return false;
  for (size_t i = 0; i < a_len; i++) {
    if (ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i])) return false;
  }
  return true;
}

// The code point at `p` (valid UTF-8, as every string crossing the component boundary is) and
// its length in bytes.
static uint32_t decode_utf8(const unsigned char *p, const unsigned char *end, size_t *len) {
  unsigned char c = p[0];
  size_t n = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
  if ((size_t)(end - p) < n) n = 1;  // truncated: treat the byte on its own
  *len = n;
  if (n == 1) return c;
  uint32_t code = c & (0x7F >> n);
  for (size_t i = 1; i < n; i++) code = code << 6 | (p[i] & 0x3F);
  return code;
}

// Unicode White_Space, the set Rust's `str::trim` removes, so that C trims what the Rust SDK does
// (including no-break and ideographic spaces a user may paste along with an address).
static bool is_white_space(uint32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

static void trim(const unsigned char **start, const unsigned char **end) {
  size_t len;
  while (*start < *end && is_white_space(decode_utf8(*start, *end, &len))) *start += len;
  while (*start < *end) {
    const unsigned char *last = *end - 1;
    while (last > *start && (*last & 0xC0) == 0x80) last--;  // back to the character's lead byte
    if (!is_white_space(decode_utf8(last, *end, &len))) break;
    *end = last;
  }
}

bool wh_email_domain(const char *email, size_t len, wh_buf *domain) {
  const unsigned char *start = (const unsigned char *)email, *end = start + len;
  trim(&start, &end);
  // The last `@`: a quoted local part may contain one (`"a@b"@example.com`).
  const unsigned char *at = end;
  while (at > start && at[-1] != '@') at--;
  if (at == start) return false;  // no `@` at all
  at--;                           // at the `@`
  if (at == start || at + 1 == end) return false;
  reset(domain);
  wh_buf_push(domain, (const char *)at + 1, (size_t)(end - at - 1));
  for (size_t i = 0; i < domain->len; i++) {
    domain->ptr[i] = (char)ascii_lower((unsigned char)domain->ptr[i]);
  }
  return true;
}

bool wh_profile_email_domain(const wh_profile *profile, wh_buf *domain) {
  const wh_string *value = wh_profile_get(profile, "email");
  wh_buf email = {0};
  bool found = value != NULL && wh_json_string(*value, &email) &&
               wh_email_domain(email.ptr, email.len, domain);
  wh_buf_free(&email);
  return found;
}

// ---- JSON --------------------------------------------------------------------------------------
//
// A recursive-descent reader over the text, without building a tree: rules read one or two values
// from small documents. Each `read_*`/`skip_*` function starts at the first byte of what it reads
// (no leading white space) and returns false on anything RFC 8259 does not allow.

// Deeper documents are refused rather than risking the guest's stack (serde_json, which reads the
// Rust rules' settings, has a nesting limit of 128 too).
#define MAX_DEPTH 128

typedef struct reader {
  const unsigned char *at;
  const unsigned char *end;
} reader;

static reader reader_of(wh_string json) { return (reader){json.ptr, json.ptr + json.len}; }

static int peek(const reader *r) { return r->at < r->end ? *r->at : -1; }

static bool eat(reader *r, unsigned char c) {
  if (peek(r) != c) return false;
  r->at++;
  return true;
}

static void skip_space(reader *r) {
  while (r->at < r->end && (*r->at == ' ' || *r->at == '\t' || *r->at == '\n' || *r->at == '\r')) {
    r->at++;
  }
}

static bool eat_word(reader *r, const char *word) {
  size_t len = strlen(word);
  if ((size_t)(r->end - r->at) < len || memcmp(r->at, word, len) != 0) return false;
  r->at += len;
  return true;
}

// Four hex digits of a \u escape: a UTF-16 code unit, or -1.
static int32_t read_hex4(reader *r) {
  if (r->end - r->at < 4) return -1;
  int32_t unit = 0;
  for (int i = 0; i < 4; i++) {
    unsigned char c = *r->at++;
    int digit = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
    if (digit < 0) return -1;
    unit = unit << 4 | digit;
  }
  return unit;
}

static void push_utf8(wh_buf *out, uint32_t code) {
  char bytes[4];
  size_t len;
  if (code < 0x80) {
    bytes[0] = (char)code;
    len = 1;
  } else if (code < 0x800) {
    bytes[0] = (char)(0xC0 | code >> 6);
    bytes[1] = (char)(0x80 | (code & 0x3F));
    len = 2;
  } else if (code < 0x10000) {
    bytes[0] = (char)(0xE0 | code >> 12);
    bytes[1] = (char)(0x80 | (code >> 6 & 0x3F));
    bytes[2] = (char)(0x80 | (code & 0x3F));
    len = 3;
  } else {
    bytes[0] = (char)(0xF0 | code >> 18);
    bytes[1] = (char)(0x80 | (code >> 12 & 0x3F));
    bytes[2] = (char)(0x80 | (code >> 6 & 0x3F));
    bytes[3] = (char)(0x80 | (code & 0x3F));
    len = 4;
  }
  wh_buf_push(out, bytes, len);
}

// The code point of the escape after a backslash, or -1. A \u escape of a UTF-16 surrogate must
// be a high one followed by a low one; a lone surrogate has no UTF-8 form (serde_json refuses it
// too).
static int32_t read_escape(reader *r) {
  if (r->at == r->end) return -1;
  switch (*r->at++) {
    case '"': return '"';
    case '\\': return '\\';
    case '/': return '/';
    case 'b': return '\b';
    case 'f': return '\f';
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'u': break;
    default: return -1;
  }
  int32_t unit = read_hex4(r);
  if (unit < 0xD800 || unit > 0xDFFF) return unit;  // -1 stays -1
  if (unit > 0xDBFF || !eat_word(r, "\\u")) return -1;
  int32_t low = read_hex4(r);
  if (low < 0xDC00 || low > 0xDFFF) return -1;
  return 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
}

// A string, from its opening quote; decoded and appended to `out` unless `out` is NULL.
static bool read_string(reader *r, wh_buf *out) {
  if (!eat(r, '"')) return false;
  for (;;) {
    // Copy a run of plain characters at once; only quotes, backslashes and control characters
    // need a look.
    const unsigned char *run = r->at;
    while (r->at < r->end && *r->at != '"' && *r->at != '\\' && *r->at >= 0x20) r->at++;
    if (out != NULL && r->at > run) wh_buf_push(out, (const char *)run, (size_t)(r->at - run));
    if (eat(r, '"')) return true;
    if (!eat(r, '\\')) return false;  // the end of the text, or a raw control character
    int32_t code = read_escape(r);
    if (code < 0) return false;
    if (out != NULL) push_utf8(out, (uint32_t)code);
  }
}

static bool skip_digits(reader *r) {
  const unsigned char *start = r->at;
  while (r->at < r->end && *r->at >= '0' && *r->at <= '9') r->at++;
  return r->at > start;
}

// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
static bool skip_number(reader *r) {
  eat(r, '-');
  if (!eat(r, '0') && !skip_digits(r)) return false;
  if (eat(r, '.') && !skip_digits(r)) return false;
  if (eat(r, 'e') || eat(r, 'E')) {
    if (!eat(r, '+')) eat(r, '-');
    if (!skip_digits(r)) return false;
  }
  return true;
}

static bool skip_value(reader *r, int depth);

// The members of an object or the elements of an array, after the opening bracket up to and
// including the closing one.
static bool skip_members(reader *r, int depth, bool object) {
  unsigned char close = object ? '}' : ']';
  skip_space(r);
  if (eat(r, close)) return true;
  do {
    skip_space(r);
    if (object) {
      if (!read_string(r, NULL)) return false;
      skip_space(r);
      if (!eat(r, ':')) return false;
      skip_space(r);
    }
    if (!skip_value(r, depth + 1)) return false;
    skip_space(r);
  } while (eat(r, ','));
  return eat(r, close);
}

static bool skip_value(reader *r, int depth) {
  if (depth > MAX_DEPTH) return false;
  switch (peek(r)) {
    case '"': return read_string(r, NULL);
    case '{': r->at++; return skip_members(r, depth, true);
    case '[': r->at++; return skip_members(r, depth, false);
    case 't': return eat_word(r, "true");
    case 'f': return eat_word(r, "false");
    case 'n': return eat_word(r, "null");
    default: return skip_number(r);
  }
}

// Whether `json` is exactly one valid JSON value with optional white space around it.
static bool valid_document(wh_string json) {
  reader r = reader_of(json);
  skip_space(&r);
  if (!skip_value(&r, 1)) return false;
  skip_space(&r);
  return r.at == r.end;
}

bool wh_json_string(wh_string json, wh_buf *out) {
  reader r = reader_of(json);
  reset(out);
  skip_space(&r);
  if (!read_string(&r, out)) return false;
  skip_space(&r);
  return r.at == r.end;
}

// Checks that the array at `r` holds only strings, leaves `r` after it, and points `strings` at
// its elements.
static bool start_strings(reader *r, wh_json_strings *strings) {
  if (!eat(r, '[')) return false;
  strings->at = r->at;
  skip_space(r);
  if (!eat(r, ']')) {
    do {
      skip_space(r);
      if (!read_string(r, NULL)) return false;
      skip_space(r);
    } while (eat(r, ','));
    if (!eat(r, ']')) return false;
  }
  strings->end = r->at;
  return true;
}

bool wh_json_object_strings(wh_string json, const char *key, wh_json_strings *strings) {
  // Validating the whole document first means a broken document is refused even when the key
  // comes before the damage, as a full parser (serde_json, json.loads) would refuse it.
  if (!valid_document(json)) return false;
  reader r = reader_of(json);
  skip_space(&r);
  if (!eat(&r, '{')) return false;
  size_t key_len = strlen(key);
  wh_buf name = {0};
  bool found = false, ok = true;
  skip_space(&r);
  if (peek(&r) != '}') {
    do {
      skip_space(&r);
      reset(&name);
      ok = read_string(&r, &name);
      skip_space(&r);
      ok = ok && eat(&r, ':');
      skip_space(&r);
      if (ok && name.len == key_len && memcmp(name.ptr, key, key_len) == 0) {
        ok = !found && start_strings(&r, strings);
        found = true;
      } else {
        ok = ok && skip_value(&r, 2);
      }
      skip_space(&r);
    } while (ok && eat(&r, ','));
  }
  wh_buf_free(&name);
  return ok && found;
}

bool wh_json_strings_next(wh_json_strings *strings, wh_buf *out) {
  reader r = {strings->at, strings->end};
  skip_space(&r);
  eat(&r, ',');
  skip_space(&r);
  if (peek(&r) != '"') return false;  // the closing `]`
  reset(out);
  read_string(&r, out);  // checked by wh_json_object_strings
  strings->at = r.at;
  return true;
}
