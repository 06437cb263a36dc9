//! The answers Okta accepts, and the rendering every hook type shares (`error`, `debugContext`,
//! the size limit). What each hook's commands may say is checked in its own module
//! (`crate::hooks`).

use serde_json::{Map, Value, json};

use super::types::HookError;

/// Okta rejects answers of 256 KB or more.
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024 - 1;

/// What to send back to Okta.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `204 No Content`: proceed unchanged (or the hook type's default action).
    NoChange,
    /// `200` with this JSON body, which lets the operation proceed (with its commands applied).
    Commands(String),
    /// `200` with this JSON body, which refuses the operation (a DENY command or an `error`).
    Deny(String),
}

impl Answer {
    /// A short label for logs and metrics: `no-change`, `commands` or `deny`.
    pub fn label(&self) -> &'static str {
        match self {
            Answer::NoChange => "no-change",
            Answer::Commands(_) => "commands",
            Answer::Deny(_) => "deny",
        }
    }

    /// The JSON body, if the answer has one (`200`).
    pub fn body(&self) -> Option<&str> {
        match self {
            Answer::NoChange => None,
            Answer::Commands(body) | Answer::Deny(body) => Some(body),
        }
    }

    /// An answer that refuses the operation with only an `error` summary.
    pub fn error(summary: &str) -> Answer {
        Answer::Deny(json!({"error": {"errorSummary": summary}}).to_string())
    }
}

/// What to answer when a rule fails (trap, deadline, memory, invalid output) or no rule applies.
/// What each policy means is the hook type's (`crate::hooks::HookType::failure_answer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailurePolicy {
    /// Refuse the operation (registration: a generic denial; token and SAML: an `error`).
    FailClosed,
    /// Let the operation proceed unchanged (`204`).
    FailOpen,
}

impl FailurePolicy {
    /// The name the configuration uses (`on_failure`).
    pub fn name(self) -> &'static str {
        match self {
            FailurePolicy::FailClosed => "fail-closed",
            FailurePolicy::FailOpen => "fail-open",
        }
    }
}

/// Why a decision cannot be sent to Okta.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Okta would reject it, or it does not mean what the rule intended.
    #[error("{0}")]
    Invalid(String),
    #[error(
        "the answer is at least {size} bytes; the limit is {limit} (Okta accepts less than 256 KB)"
    )]
    Oversize { size: usize, limit: usize },
}

/// Refuses an answer that can never fit: `at_least` is a lower bound of its size, computed
/// before anything is built (a decision can be megabytes).
pub fn check_size(at_least: usize, max_bytes: usize) -> Result<(), Refusal> {
    if at_least > max_bytes {
        return Err(Refusal::Oversize {
            size: at_least,
            limit: max_bytes,
        });
    }
    Ok(())
}

/// A lower bound of an `error`'s rendered size: its strings plus 80 bytes per cause.
pub fn error_bytes(error: Option<&HookError>) -> usize {
    error.map_or(0, |error| {
        let causes: usize = error
            .error_causes
            .iter()
            .map(|c| {
                80 + c.error_summary.len()
                    + c.reason.len()
                    + c.location_type.len()
                    + c.location.len()
                    + c.domain.len()
            })
            .sum();
        error.error_summary.len() + causes
    })
}

/// Finishes an answer: `commands` (if any), then `error` and `debugContext`. An answer with none
/// of them is "no change" (`204`, never `200 {}`); one with an `error` or `denies` refuses the
/// operation.
pub fn finish(
    commands: Vec<Value>,
    error: Option<HookError>,
    debug_context: Option<String>,
    denies: bool,
    max_bytes: usize,
) -> Result<Answer, Refusal> {
    let mut body = Map::new();
    if !commands.is_empty() {
        body.insert("commands".into(), Value::Array(commands));
    }
    let denies = denies || error.is_some();
    if let Some(error) = error {
        body.insert("error".into(), hook_error(error));
    }
    if let Some(context) = debug_context {
        match serde_json::from_str(&context) {
            Ok(Value::Object(context)) => {
                body.insert("debugContext".into(), Value::Object(context))
            }
            _ => {
                return Err(Refusal::Invalid(
                    "debug-context is not a JSON object".into(),
                ));
            }
        };
    }
    if body.is_empty() {
        return Ok(Answer::NoChange);
    }
    let body = Value::Object(body).to_string();
    if body.len() > max_bytes {
        return Err(Refusal::Oversize {
            size: body.len(),
            limit: max_bytes,
        });
    }
    Ok(if denies {
        Answer::Deny(body)
    } else {
        Answer::Commands(body)
    })
}

fn hook_error(error: HookError) -> Value {
    let mut object = Map::new();
    object.insert("errorSummary".into(), error.error_summary.into());
    if !error.error_causes.is_empty() {
        let causes = error.error_causes.into_iter().map(|cause| {
            json!({
                "errorSummary": cause.error_summary,
                "reason": cause.reason,
                "locationType": cause.location_type,
                "location": cause.location,
                "domain": cause.domain,
            })
        });
        object.insert("errorCauses".into(), Value::Array(causes.collect()));
    }
    Value::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_to_say_is_no_change_not_an_empty_object() {
        let answer = finish(vec![], None, None, false, MAX_RESPONSE_BYTES).unwrap();
        assert_eq!(answer, Answer::NoChange);
    }

    #[test]
    fn a_debug_context_must_be_an_object() {
        let refused = finish(vec![], None, Some("[1]".into()), false, MAX_RESPONSE_BYTES);
        assert!(matches!(refused, Err(Refusal::Invalid(_))), "{refused:?}");
        let kept = finish(vec![], None, Some(r#"{"a":1}"#.into()), false, 100).unwrap();
        assert_eq!(kept, Answer::Commands(r#"{"debugContext":{"a":1}}"#.into()));
    }

    #[test]
    fn an_error_refuses_and_an_answer_over_the_limit_is_refused() {
        let error = HookError {
            error_summary: "No.".into(),
            error_causes: vec![],
        };
        let answer = finish(vec![], Some(error.clone()), None, false, 100).unwrap();
        assert_eq!(
            answer,
            Answer::Deny(r#"{"error":{"errorSummary":"No."}}"#.into())
        );
        let refused = finish(vec![], Some(error), None, false, 20).unwrap_err();
        assert!(refused.to_string().contains("the limit is 20"), "{refused}");
    }
}
