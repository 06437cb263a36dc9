// Self-service registration: allow only email addresses whose domain is exactly one of
// `allowed_domains` (case-insensitive). The same rule and decisions as rules/email-domain (Rust).
//
// Settings: {"allowed_domains": ["example.com"]}.

#include "wasmhook.h"

#define SETTINGS_SHAPE "`allowed_domains` must be a list of email domains (strings)"

// Refuses settings without a list of strings under `allowed_domains` when the route loads.
bool wh_validate_settings(wh_string settings, wh_string *error) {
  wh_json_strings allowed;
  if (!wh_json_object_strings(settings, "allowed_domains", &allowed)) {
    return wh_fail(error, SETTINGS_SHAPE);
  }
  return true;
}

bool wh_evaluate(const wh_request *request, wh_decision *decision, wh_string *error) {
  wh_json_strings allowed;
  if (!wh_json_object_strings(request->settings, "allowed_domains", &allowed)) {
    return wh_fail(error, "invalid rule settings: " SETTINGS_SHAPE);
  }
  wh_buf domain = {0}, candidate = {0}, message = {0};
  bool has_domain = wh_profile_email_domain(wh_submitted(request), &domain);

  // One pass over the settings: look for the domain, and list every allowed domain, as spelled
  // in the settings, for the message shown when the domain is not among them.
  bool is_allowed = false;
  wh_buf_push_str(&message, "Only emails from ");
  for (int i = 0; wh_json_strings_next(&allowed, &candidate); i++) {
    if (has_domain &&
        wh_equal_ignore_ascii_case(candidate.ptr, candidate.len, domain.ptr, domain.len)) {
      is_allowed = true;
    }
    if (i > 0) wh_buf_push_str(&message, ", ");
    wh_buf_push(&message, candidate.ptr, candidate.len);
  }
  wh_buf_push_str(&message, " can register.");

  if (is_allowed) {
    *decision = wh_allow();
  } else {
    *decision = wh_deny("Incorrect email address. Please contact your admin.");
    wh_field_error(decision, WH_FIELD_LOCATION("email"), "INVALID_EMAIL_DOMAIN", message.ptr);
  }
  wh_buf_free(&domain);
  wh_buf_free(&candidate);
  wh_buf_free(&message);
  return true;
}
