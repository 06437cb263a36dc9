//! Progressive profiling: an employee number must be exactly 4 ASCII digits. A valid one is written
//! to the user's profile (as a string, even when Okta sent a JSON number); anything else is denied.
//! Submissions without an employee number are left unchanged.

use wasmhook_sdk::registration::{Decision, Flow, ProfileExt, Request, Rule};
use wasmhook_sdk::serde_json::Value;

const ATTRIBUTE: &str = "employeeNumber";

struct EmployeeNumber;

impl Rule for EmployeeNumber {
    fn evaluate(request: Request) -> Result<Decision, String> {
        let Some(value) = request.submitted().get_value(ATTRIBUTE) else {
            return Ok(Decision::allow());
        };
        let number = match value {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            _ => String::new(),
        };
        if number.len() != 4 || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(Decision::deny(
                "Incorrect employee number. Enter an employee number with 4 digits.",
            )
            .field_error(
                Request::field_location(ATTRIBUTE),
                "INVALID_EMPLOYEE_NUMBER",
                "Only employee numbers with 4 digits can register.",
            ));
        }
        Ok(match request.flow {
            Flow::ProgressiveProfile => {
                Decision::allow().update_progressive_profile(ATTRIBUTE, number)
            }
            Flow::SelfServiceRegistration => Decision::allow().update_profile(ATTRIBUTE, number),
        })
    }
}

wasmhook_sdk::export_registration_rule!(EmployeeNumber);
