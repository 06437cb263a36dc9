// Allows every registration, and defines no `wh_validate_settings`: the helpers' weak default
// (accept any settings) is what the tests see of it. Never deploy it.

#include "wasmhook.h"

bool wh_evaluate(const wh_request *request, wh_decision *decision, wh_string *error) {
  (void)request;
  (void)error;
  *decision = wh_allow();
  return true;
}
