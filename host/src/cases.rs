//! Table tests of a rule: the cases file of `wasmhook test`, and the check of an answer against a
//! case's expectation.
//!
//! Authors of comparable systems test policies as tables (`opa test`, Kubewarden's `kwctl run`
//! fixtures): a request, the settings, and what must come back. A case here names a captured
//! request (a file, or inline) with overrides such as a changed email, the route's settings and
//! limits, and an expectation that may be as loose as "denied for this field" or as strict as the
//! whole body. The file is TOML or JSON with one schema (see `docs/writing-rules.md`, "Testing a
//! rule"); everything in it is resolved here, at load, so that a typo is an error naming the case
//! before any rule runs. The repository's own decision tables are in this format, and its tests
//! check the server's answers with [`Expectation::check`] too.

mod json;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::okta::Answer;
use crate::runtime::{Limits, RuleFailure};
pub use json::{Difference, differences};

/// A loaded cases file: every case resolved to the request bytes, settings and limits it runs with.
#[derive(Debug)]
pub struct CaseFile {
    /// The rule the file names (`rule = …`), relative paths resolved; `--rule` overrides it.
    pub rule: Option<PathBuf>,
    pub cases: Vec<Case>,
}

/// One case, ready to run.
#[derive(Debug)]
pub struct Case {
    pub name: String,
    /// The request body, overrides applied.
    pub request: Vec<u8>,
    /// The route's settings, as JSON text (an object).
    pub settings: String,
    pub limits: Limits,
    pub expect: Expectation,
}

/// What a case expects. Every member given must hold; none given only asks for a decision.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// `200` or `204`.
    pub status: Option<u16>,
    /// The answer's label (`no-change`, `commands`, `deny`), or `failure`: no decision.
    pub decision: Option<String>,
    /// The failure's kind (`rule_error`, `trap`, …); implies `decision = "failure"`.
    pub failure: Option<String>,
    /// Text the failure's message contains.
    pub message: Option<String>,
    /// The whole body, compared as JSON.
    pub body: Option<Value>,
    /// The body's `commands`, compared as JSON.
    pub commands: Option<Value>,
    /// The body's `error`: its summary, and what one of its causes holds.
    pub error: Option<ErrorExpectation>,
    /// A part of the body (see [`json::contains`]).
    pub contains: Option<Value>,
}

/// What a case expects of the answer's `error`. The cause members must hold for one cause.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorExpectation {
    /// The error's `errorSummary`.
    pub summary: Option<String>,
    pub reason: Option<String>,
    pub location: Option<String>,
    /// A cause's own `errorSummary`.
    pub cause: Option<String>,
}

/// What an evaluation produced, as a case sees it.
#[derive(Debug)]
pub enum Observed {
    /// A decision, rendered as the server sends it.
    Answer(Answer),
    /// No decision: the kind and message of the failure.
    Failure { kind: &'static str, message: String },
}

impl From<Result<Answer, RuleFailure>> for Observed {
    fn from(outcome: Result<Answer, RuleFailure>) -> Self {
        match outcome {
            Ok(answer) => Observed::Answer(answer),
            Err(failure) => Observed::Failure {
                kind: failure.kind(),
                message: failure.to_string(),
            },
        }
    }
}

impl Observed {
    /// `decision` as [`Expectation::decision`] names it.
    pub fn decision(&self) -> &'static str {
        match self {
            Observed::Answer(answer) => answer.label(),
            Observed::Failure { .. } => "failure",
        }
    }

    /// The answer's body as JSON (`None` for 204 and for failures).
    pub fn body(&self) -> Option<Value> {
        match self {
            Observed::Answer(answer) => answer.body().map(|body| {
                serde_json::from_str(body).expect("answers are rendered as JSON by the host")
            }),
            Observed::Failure { .. } => None,
        }
    }
}

impl Expectation {
    /// Whether the case expects the rule to give no decision.
    pub fn expects_failure(&self) -> bool {
        self.failure.is_some() || self.decision.as_deref() == Some("failure")
    }

    /// Every way `observed` differs from this expectation; empty when the case passes.
    pub fn check(&self, observed: &Observed) -> Vec<String> {
        let mut problems = Vec::new();
        let mut expect =
            |what: &str, expected: &dyn std::fmt::Display, got: &dyn std::fmt::Display| {
                problems.push(format!("{what}: expected {expected}, got {got}"));
            };
        let decision = observed.decision();
        if let Some(expected) = &self.decision
            && expected != decision
        {
            expect("decision", expected, &describe(observed));
        }
        match observed {
            Observed::Failure { kind, message } => {
                if let Some(expected) = &self.failure
                    && expected != kind
                {
                    expect("failure", expected, kind);
                }
                if let Some(text) = &self.message
                    && !message.contains(text.as_str())
                {
                    expect("message", &format!("text containing {text:?}"), &message);
                }
                if self.decision.is_none() && !self.expects_failure() {
                    expect(
                        "a decision",
                        &"one",
                        &format!("a failure ({kind}): {message}"),
                    );
                }
            }
            Observed::Answer(answer) => {
                if self.expects_failure() && self.decision.as_deref() != Some("failure") {
                    expect("failure", &"no decision", &describe(observed));
                }
                let status = if answer.body().is_some() { 200 } else { 204 };
                if let Some(expected) = self.status
                    && expected != status
                {
                    expect("status", &expected, &status);
                }
                let wants_body = self.body.is_some()
                    || self.commands.is_some()
                    || self.contains.is_some()
                    || self.error.is_some();
                let Some(body) = observed.body() else {
                    if wants_body {
                        problems.push("body: expected one, got 204 No Content".into());
                    }
                    return problems;
                };
                let mut compare = |what: &str, expected: &Value, got: &Value| {
                    for difference in differences(expected, got) {
                        problems.push(format!("{what}{difference}"));
                    }
                };
                if let Some(expected) = &self.body {
                    compare("body", expected, &body);
                }
                if let Some(expected) = &self.commands {
                    let got = body.get("commands").cloned().unwrap_or(Value::Null);
                    compare("commands", expected, &got);
                }
                if let Some(part) = &self.contains
                    && !json::contains(&body, part)
                {
                    problems.push(format!(
                        "contains: the body has no match for {}; it is {}",
                        json::short(part),
                        json::short(&body)
                    ));
                }
                if let Some(error) = &self.error {
                    problems.extend(error.check(body.get("error")));
                }
            }
        }
        problems
    }
}

impl ErrorExpectation {
    fn check(&self, error: Option<&Value>) -> Vec<String> {
        let Some(error) = error else {
            return vec!["error: expected one, the answer has none".into()];
        };
        let mut problems = Vec::new();
        if let Some(summary) = &self.summary
            && error.get("errorSummary").and_then(Value::as_str) != Some(summary)
        {
            problems.push(format!(
                "error.summary: expected {summary:?}, got {}",
                json::short(error.get("errorSummary").unwrap_or(&Value::Null))
            ));
        }
        let wanted = [
            ("reason", &self.reason),
            ("location", &self.location),
            ("errorSummary", &self.cause),
        ];
        let wanted: Vec<_> = wanted
            .iter()
            .filter_map(|(member, value)| value.as_ref().map(|v| (*member, v.as_str())))
            .collect();
        if wanted.is_empty() {
            return problems;
        }
        let causes = error.get("errorCauses").and_then(Value::as_array);
        let matches = |cause: &Value| {
            wanted
                .iter()
                .all(|(member, value)| cause.get(member).and_then(Value::as_str) == Some(*value))
        };
        if !causes.is_some_and(|causes| causes.iter().any(matches)) {
            let wanted: Vec<_> = wanted.iter().map(|(m, v)| format!("{m} {v:?}")).collect();
            problems.push(format!(
                "error: expected a cause with {}, got causes {}",
                wanted.join(", "),
                json::short(error.get("errorCauses").unwrap_or(&Value::Null))
            ));
        }
        problems
    }
}

/// The observed outcome in a few words, for a mismatch line.
fn describe(observed: &Observed) -> String {
    match observed {
        Observed::Failure { kind, message } => format!("failure ({kind}): {message}"),
        Observed::Answer(answer) => answer.label().to_owned(),
    }
}

/// Why a cases file cannot be used, located as precisely as possible.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", file.display())]
pub struct CaseFileError {
    pub file: PathBuf,
    pub message: String,
}

impl CaseFile {
    /// Reads and resolves `file` (`.json` as JSON, anything else as TOML): requests read and
    /// overridden, settings and limits merged with `[defaults]`, named expectations looked up.
    pub fn load(file: &Path) -> Result<CaseFile, CaseFileError> {
        let error = |message: String| CaseFileError {
            file: file.to_owned(),
            message,
        };
        let text = std::fs::read_to_string(file).map_err(|e| error(format!("cannot read: {e}")))?;
        let raw: raw::File = if file.extension().is_some_and(|e| e == "json") {
            serde_json::from_str(&text).map_err(|e| error(e.to_string()))?
        } else {
            toml::from_str(&text).map_err(|e| error(one_line(&e.to_string())))?
        };
        let base = file.parent().unwrap_or(Path::new("."));
        if raw.cases.is_empty() {
            return Err(error("no cases: add a [[cases]] table".into()));
        }
        let cases = raw
            .cases
            .iter()
            .enumerate()
            .map(|(i, case)| {
                resolve(case, &raw.defaults, &raw.expectations, base)
                    .map_err(|message| error(format!("cases[{i}] ({:?}): {message}", case.name)))
            })
            .collect::<Result<_, _>>()?;
        Ok(CaseFile {
            rule: raw.rule.map(|rule| base.join(rule)),
            cases,
        })
    }
}

fn resolve(
    case: &raw::Case,
    defaults: &raw::Defaults,
    expectations: &BTreeMap<String, Expectation>,
    base: &Path,
) -> Result<Case, String> {
    let request = case
        .request
        .as_ref()
        .or(defaults.request.as_ref())
        .ok_or("no request: give `request` in the case or in [defaults]")?;
    let mut request = match request {
        Value::String(path) => {
            let path = base.join(path);
            let text = std::fs::read(&path)
                .map_err(|e| format!("cannot read the request {}: {e}", path.display()))?;
            serde_json::from_slice(&text)
                .map_err(|e| format!("the request {} is not JSON: {e}", path.display()))?
        }
        Value::Object(_) => request.clone(),
        _ => return Err("`request` must be a file name or a table".into()),
    };
    for (path, value) in &case.set {
        json::set(&mut request, path, value.clone()).map_err(|e| format!("set {path:?}: {e}"))?;
    }
    for path in &case.remove {
        json::remove(&mut request, path).map_err(|e| format!("remove {path:?}: {e}"))?;
    }
    let settings = match case.settings.as_ref().or(defaults.settings.as_ref()) {
        None => "{}".to_owned(),
        Some(settings @ Value::Object(_)) => settings.to_string(),
        Some(_) => return Err("`settings` must be a table (a JSON object)".into()),
    };
    let defaults_limits = Limits::default();
    let limits = Limits {
        deadline: Duration::from_millis(
            case.deadline_ms
                .or(defaults.deadline_ms)
                .unwrap_or(defaults_limits.deadline.as_millis() as u64),
        ),
        max_memory_bytes: case
            .max_memory_mb
            .or(defaults.max_memory_mb)
            .map_or(defaults_limits.max_memory_bytes, |mb| mb << 20),
        fuel: case.fuel.or(defaults.fuel),
        ..defaults_limits
    };
    let expect = match &case.expect {
        Value::String(name) => expectations.get(name).cloned().ok_or_else(|| {
            let known: Vec<_> = expectations.keys().map(String::as_str).collect();
            format!(
                "no expectation named {name:?} (known: {})",
                known.join(", ")
            )
        })?,
        Value::Null => return Err("no `expect`".into()),
        inline => Expectation::deserialize(inline).map_err(|e| format!("expect: {e}"))?,
    };
    Ok(Case {
        name: case.name.clone(),
        request: request.to_string().into_bytes(),
        settings,
        limits,
        expect,
    })
}

/// `text` on one line: a parser's message quotes the offending line under a caret.
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" | ")
}

/// The file as written.
mod raw {
    use std::collections::BTreeMap;

    use serde::Deserialize;
    use serde_json::Value;

    use super::Expectation;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct File {
        pub rule: Option<String>,
        #[serde(default)]
        pub defaults: Defaults,
        #[serde(default)]
        pub expectations: BTreeMap<String, Expectation>,
        #[serde(default)]
        pub cases: Vec<Case>,
    }

    #[derive(Default, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Defaults {
        pub request: Option<Value>,
        pub settings: Option<Value>,
        pub deadline_ms: Option<u64>,
        pub max_memory_mb: Option<usize>,
        pub fuel: Option<u64>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Case {
        pub name: String,
        pub request: Option<Value>,
        /// Kept in file order: a later override may refine an earlier one.
        #[serde(default)]
        pub set: serde_json::Map<String, Value>,
        #[serde(default)]
        pub remove: Vec<String>,
        pub settings: Option<Value>,
        pub deadline_ms: Option<u64>,
        pub max_memory_mb: Option<usize>,
        pub fuel: Option<u64>,
        #[serde(default)]
        pub expect: Value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loads `text` as a cases file in a folder of its own, beside a request: tests run at once,
    /// and one must not read a request another is writing.
    fn load(text: &str, extension: &str) -> Result<CaseFile, CaseFileError> {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("wasmhook-cases-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("request.json"),
            r#"{"data":{"userProfile":{"email":"a@example.com"}}}"#,
        )
        .unwrap();
        let file = dir.join(format!("cases-{}.{extension}", text.len()));
        std::fs::write(&file, text).unwrap();
        CaseFile::load(&file)
    }

    #[test]
    fn cases_take_their_defaults_overrides_and_named_expectations() {
        let file = load(
            r#"
            rule = "rule.wasm"
            [defaults]
            request = "request.json"
            settings = { allowed = ["example.com"] }
            fuel = 1000
            [expectations.denied]
            decision = "deny"
            [[cases]]
            name = "changed email"
            set = { "data.userProfile.email" = "b@example.net", "/data/userProfile/x~1y" = 1 }
            expect = "denied"
            [[cases]]
            name = "own settings, no email"
            remove = ["data.userProfile.email"]
            settings = {}
            deadline_ms = 5
            expect = { status = 204 }
            "#,
            "toml",
        )
        .unwrap();
        assert!(file.rule.unwrap().ends_with("rule.wasm"));
        let [changed, removed] = &file.cases[..] else {
            panic!("two cases")
        };
        let request: Value = serde_json::from_slice(&changed.request).unwrap();
        assert_eq!(request["data"]["userProfile"]["email"], "b@example.net");
        assert_eq!(request["data"]["userProfile"]["x/y"], 1);
        assert_eq!(changed.settings, r#"{"allowed":["example.com"]}"#);
        assert_eq!(changed.limits.fuel, Some(1000));
        assert_eq!(changed.expect.decision.as_deref(), Some("deny"));
        let request: Value = serde_json::from_slice(&removed.request).unwrap();
        assert_eq!(request["data"]["userProfile"], serde_json::json!({}));
        assert_eq!(removed.settings, "{}");
        assert_eq!(removed.limits.deadline, Duration::from_millis(5));
        assert_eq!(removed.expect.status, Some(204));
    }

    #[test]
    fn mistakes_in_the_file_name_the_case() {
        let unknown = load(
            "[[cases]]\nname = \"x\"\nrequest = \"request.json\"\nexpect = { stauts = 204 }\n",
            "toml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            unknown.contains("cases[0] (\"x\"): expect: unknown field `stauts`"),
            "{unknown}"
        );
        let named = load(
            r#"{"cases": [{"name": "y", "request": "request.json", "expect": "nope"}]}"#,
            "json",
        )
        .unwrap_err()
        .to_string();
        assert!(named.contains("no expectation named \"nope\""), "{named}");
        let missing = load("[[cases]]\nname = \"z\"\nexpect = {}\n", "toml").unwrap_err();
        assert!(missing.to_string().contains("no request"), "{missing}");
        let none = load("rule = \"r.wasm\"\n", "toml").unwrap_err();
        assert!(none.to_string().contains("no cases"), "{none}");
    }

    fn deny_body() -> Answer {
        Answer::Deny(
            serde_json::json!({
                "commands": [{"type": "com.okta.action.update", "value": {"registration": "DENY"}}],
                "error": {"errorSummary": "No.", "errorCauses": [
                    {"errorSummary": "Use your work email.", "reason": "INVALID_EMAIL_DOMAIN",
                     "location": "data.userProfile.email"}]}
            })
            .to_string(),
        )
    }

    #[test]
    fn an_expectation_holds_only_when_each_of_its_members_does() {
        let denied = Observed::Answer(deny_body());
        let pass = Expectation {
            status: Some(200),
            decision: Some("deny".into()),
            error: Some(ErrorExpectation {
                summary: Some("No.".into()),
                reason: Some("INVALID_EMAIL_DOMAIN".into()),
                location: Some("data.userProfile.email".into()),
                cause: None,
            }),
            contains: Some(serde_json::json!({"commands": [{"value": {"registration": "DENY"}}]})),
            ..Default::default()
        };
        assert_eq!(pass.check(&denied), Vec::<String>::new());

        let wrong_location = Expectation {
            error: Some(ErrorExpectation {
                reason: Some("INVALID_EMAIL_DOMAIN".into()),
                location: Some("data.userProfile.login".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let problems = wrong_location.check(&denied);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("location \"data.userProfile.login\""),
            "{problems:?}"
        );

        let allowed = Expectation {
            status: Some(204),
            ..Default::default()
        };
        assert_eq!(
            allowed.check(&denied),
            vec!["status: expected 204, got 200".to_string()]
        );
        let body = Expectation {
            commands: Some(
                serde_json::json!([{"type": "com.okta.action.update", "value": {"registration": "ALLOW"}}]),
            ),
            ..Default::default()
        };
        assert_eq!(
            body.check(&denied),
            vec![r#"commands/0/value/registration: expected "ALLOW", got "DENY""#.to_string()]
        );
        // A 204 has no body to compare: one plain line, not the expected body against null.
        assert_eq!(
            body.check(&Observed::Answer(Answer::NoChange)),
            vec!["body: expected one, got 204 No Content".to_string()]
        );
    }

    #[test]
    fn failures_are_expected_by_kind_and_message_and_never_pass_by_default() {
        let failed = Observed::Failure {
            kind: "rule_error",
            message: "the rule could not decide: TypeError: x is not a function".into(),
        };
        let expected = Expectation {
            failure: Some("rule_error".into()),
            message: Some("TypeError".into()),
            ..Default::default()
        };
        assert!(expected.check(&failed).is_empty());
        assert_eq!(Expectation::default().check(&failed).len(), 1);
        let other_kind = Expectation {
            failure: Some("trap".into()),
            ..Default::default()
        };
        assert_eq!(
            other_kind.check(&failed),
            vec!["failure: expected trap, got rule_error".to_string()]
        );
        // A decision where a failure was expected fails the case.
        assert_eq!(expected.check(&Observed::Answer(Answer::NoChange)).len(), 1);
    }
}
