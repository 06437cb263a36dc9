//! The token inline hook (`com.okta.oauth2.tokens.transform`): a custom authorization server is
//! about to mint an ID token and/or an access token, and the rule may patch their claims and
//! lifetimes (`com.okta.identity.patch`, `com.okta.access.patch`).
//!
//! Fails open: when no rule decides, Okta mints the tokens unchanged (`204`). Fail-closed sends
//! an `error`, so that no token is minted. Okta skips a whole patch it finds invalid and mints the
//! token unmodified, so the host refuses such a patch itself, where the route's failure policy and
//! the log say so: reserved claims, a lifetime outside 300–86400 s, `remove` with a value, and a
//! patch of a token the request does not carry.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::okta::patch::{self, Checked};
use crate::okta::response::{check_size, error_bytes, finish};
use crate::okta::wire::{
    IfObject, Profile, Seconds, Text, WireRequest, WireSession, WireUser, attributes,
};
use crate::okta::{
    Answer, Envelope, FailurePolicy, HookCall, HookError, PatchOp, PatchOperation, Refusal,
    RequestContext, Session, User,
};

/// `eventType` of the token inline hook.
pub const EVENT_TYPE: &str = "com.okta.oauth2.tokens.transform";
/// The command that patches the ID token.
const IDENTITY_PATCH: &str = "com.okta.identity.patch";
/// The command that patches the access token.
const ACCESS_PATCH: &str = "com.okta.access.patch";

/// Claims no token patch may touch, in either token: Okta refuses them ([Okta's list of reserved
/// claims](https://support.okta.com/help/s/article/list-of-reserved-claim-names) and the token
/// hook reference).
const RESERVED: &[&str] = &[
    "iss",
    "jti",
    "ver",
    "token_type",
    "exp",
    "iat",
    "cid",
    "uid",
    "scp",
];
/// Reserved in access tokens only (`aud` and `sub` may be changed there).
const RESERVED_ACCESS: &[&str] = &["acr", "amr", "as_uri", "groups", "rpt", "rsi", "username"];
/// Reserved in ID tokens only.
const RESERVED_IDENTITY: &[&str] = &[
    "active",
    "aid",
    "amr",
    "aud",
    "app_id",
    "app_type",
    "at_hash",
    "auth_time",
    "client_id",
    "client_ip",
    "client_req_id",
    "client_type",
    "client_user_agent",
    "cnf",
    "c_hash",
    "device_compliance",
    "device_id",
    "device_known",
    "device_managed",
    "device_name",
    "device_trust",
    "did",
    "dst",
    "group",
    "hotk",
    "idp",
    "idp_iss",
    "mac_key",
    "may_act",
    "nonce",
    "oid",
    "okta_emailVerified",
    "okta_lastUpdated",
    "orig",
    "permissions",
    "purpose",
    "pwd_exp_days",
    "pwd_exp_time",
    "rid",
    "role",
    "scope",
    "scopes",
    "sid",
    "sub",
    "term",
    "user_ip",
];
/// The token lifetimes Okta accepts, in seconds.
const LIFETIME: std::ops::RangeInclusive<u64> = 300..=86_400;

/// A claim of a token; its value is JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub name: String,
    pub value: String,
}

/// A parameter of the original authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameter {
    pub name: String,
    pub value: String,
}

/// `data.context.protocol.client`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Client {
    pub id: Option<String>,
    pub name: Option<String>,
    pub client_type: Option<String>,
}

/// `data.context.protocol`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Protocol {
    pub protocol_type: Option<String>,
    pub parameters: Vec<Parameter>,
    pub issuer: Option<String>,
    pub client: Option<Client>,
}

/// `data.context.policy`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    pub id: Option<String>,
    pub rule_id: Option<String>,
}

/// A token about to be minted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Token {
    pub claims: Vec<Claim>,
    pub lifetime_seconds: Option<u32>,
}

/// A scope of the access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub name: String,
    pub id: Option<String>,
    pub action: Option<String>,
}

/// A token hook request, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub envelope: Envelope,
    pub context: RequestContext,
    pub protocol: Protocol,
    pub session: Option<Session>,
    pub user: Option<User>,
    pub policy: Option<Policy>,
    pub identity: Option<Token>,
    pub access: Option<Token>,
    pub scopes: Vec<Scope>,
    pub refresh_token_id: Option<String>,
    pub settings: String,
    pub raw: String,
}

/// A token rule's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    pub identity_patch: Vec<PatchOperation>,
    pub access_patch: Vec<PatchOperation>,
    pub error: Option<HookError>,
    pub debug_context: Option<String>,
}

/// Which tokens the request carries: a decision may patch only those.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tokens {
    pub identity: bool,
    pub access: bool,
}

impl Request {
    pub fn tokens(&self) -> Tokens {
        Tokens {
            identity: self.identity.is_some(),
            access: self.access.is_some(),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireToken {
    context: IfObject<WireContext>,
    identity: IfObject<WireMinted>,
    access: IfObject<WireMinted>,
    refresh_token: IfObject<WireRefresh>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireContext {
    request: IfObject<WireRequest>,
    protocol: IfObject<WireProtocol>,
    session: IfObject<WireSession>,
    user: IfObject<WireUser>,
    policy: IfObject<WirePolicy>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireProtocol {
    #[serde(rename = "type")]
    kind: Text,
    request: IfObject<Profile>,
    issuer: IfObject<WireIssuer>,
    client: IfObject<WireClient>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireIssuer {
    uri: Text,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireClient {
    id: Text,
    name: Text,
    #[serde(rename = "type")]
    kind: Text,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WirePolicy {
    id: Text,
    rule: IfObject<WireId>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireId {
    id: Text,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireMinted {
    claims: IfObject<Profile>,
    token: IfObject<WireLifetimeHolder>,
    scopes: IfObject<Profile>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireLifetimeHolder {
    lifetime: IfObject<WireLifetime>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireLifetime {
    expiration: Seconds,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireRefresh {
    jti: Text,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireScope {
    id: Text,
    action: Text,
}

/// The typed request for a token rule, with the route's `settings` (JSON text).
pub fn request(call: &HookCall, settings: &str) -> Request {
    let data: WireToken = serde_json::from_str(call.data()).unwrap_or_default();
    let context = data.context.0.unwrap_or_default();
    let protocol = context.protocol.0.unwrap_or_default();
    let mut access = data.access.0;
    let scopes = access
        .as_mut()
        .map(|access| scopes(std::mem::take(&mut access.scopes)))
        .unwrap_or_default();
    Request {
        envelope: call.envelope.clone(),
        context: context.request.into(),
        protocol: Protocol {
            protocol_type: protocol.kind.0,
            parameters: attributes(protocol.request)
                .into_iter()
                .map(|a| Parameter {
                    // A string parameter as its text; anything else as its JSON.
                    value: serde_json::from_str::<String>(&a.value).unwrap_or(a.value),
                    name: a.name,
                })
                .collect(),
            issuer: protocol.issuer.0.and_then(|issuer| issuer.uri.0),
            client: protocol.client.0.map(|client| Client {
                id: client.id.0,
                name: client.name.0,
                client_type: client.kind.0,
            }),
        },
        session: context.session.0.map(Session::from),
        user: context.user.0.map(User::from),
        policy: context.policy.0.map(|policy| Policy {
            id: policy.id.0,
            rule_id: policy.rule.0.and_then(|rule| rule.id.0),
        }),
        identity: data.identity.0.map(token),
        access: access.map(token),
        scopes,
        refresh_token_id: data.refresh_token.0.and_then(|refresh| refresh.jti.0),
        settings: settings.to_owned(),
        raw: call.raw.clone(),
    }
}

fn token(minted: WireMinted) -> Token {
    Token {
        claims: attributes(minted.claims)
            .into_iter()
            .map(|a| Claim {
                name: a.name,
                value: a.value,
            })
            .collect(),
        lifetime_seconds: minted
            .token
            .0
            .and_then(|token| token.lifetime.0)
            .and_then(|lifetime| lifetime.expiration.0),
    }
}

fn scopes(scopes: IfObject<Profile>) -> Vec<Scope> {
    attributes(scopes)
        .into_iter()
        .map(|scope| {
            // Through `IfObject`: serde would fill the struct from an array by position.
            let wire: IfObject<WireScope> = serde_json::from_str(&scope.value).unwrap_or_default();
            let wire = wire.0.unwrap_or_default();
            Scope {
                name: scope.name,
                id: wire.id.0,
                action: wire.action.0,
            }
        })
        .collect()
}

/// Renders a token decision, checking it against what Okta accepts for the `tokens` the
/// request carries.
pub fn render(decision: Decision, tokens: Tokens, max_bytes: usize) -> Result<Answer, Refusal> {
    let at_least = patch::min_command_bytes(IDENTITY_PATCH, &decision.identity_patch)
        + patch::min_command_bytes(ACCESS_PATCH, &decision.access_patch)
        + error_bytes(decision.error.as_ref());
    check_size(at_least, max_bytes)?;
    let mut commands = Vec::new();
    for (kind, command_type, operations, carried, reserved) in [
        (
            "identity",
            IDENTITY_PATCH,
            decision.identity_patch,
            tokens.identity,
            RESERVED_IDENTITY,
        ),
        (
            "access",
            ACCESS_PATCH,
            decision.access_patch,
            tokens.access,
            RESERVED_ACCESS,
        ),
    ] {
        if operations.is_empty() {
            continue;
        }
        if !carried {
            return Err(Refusal::Invalid(format!(
                "an {kind}-patch, but the request carries no {kind} token"
            )));
        }
        let value = patch::render(operations, |op| token_rules(op, reserved))
            .map_err(|why| Refusal::Invalid(format!("{kind}-patch: {why}")))?;
        commands.push(json!({"type": command_type, "value": value}));
    }
    finish(
        commands,
        decision.error,
        decision.debug_context,
        false,
        max_bytes,
    )
}

/// What Okta accepts in one token's patch.
fn token_rules(op: &Checked, reserved: &[&str]) -> Result<(), String> {
    match op.segments {
        [claims, name, ..] if claims == "claims" => {
            if RESERVED.contains(&name.as_str()) || reserved.contains(&name.as_str()) {
                return Err(format!("`{name}` is a reserved claim"));
            }
            Ok(())
        }
        [token, lifetime, expiration]
            if token == "token" && lifetime == "lifetime" && expiration == "expiration" =>
        {
            if op.op != PatchOp::Replace {
                return Err("the lifetime can only be replaced".into());
            }
            match op.value.and_then(Value::as_u64) {
                Some(seconds) if LIFETIME.contains(&seconds) => Ok(()),
                _ => Err("the lifetime must be a whole number of seconds from 300 to 86400".into()),
            }
        }
        _ => Err("a token patch path is `/claims/<name>…` or `/token/lifetime/expiration`".into()),
    }
}

/// The answer when no rule decided: `204` (fail-open: Okta mints the tokens unchanged), or an
/// `error`, so that no token is minted (fail-closed).
pub fn failure_answer(policy: FailurePolicy) -> Answer {
    match policy {
        FailurePolicy::FailOpen => Answer::NoChange,
        FailurePolicy::FailClosed => {
            Answer::error("The token cannot be issued at this time. Please try again later.")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::okta::MAX_RESPONSE_BYTES;

    const TOKEN: &str = include_str!("../../../tests/fixtures/okta/token-transform.json");

    fn op(op: PatchOp, path: &str, value: Option<&str>) -> PatchOperation {
        PatchOperation {
            op,
            path: path.into(),
            value: value.map(Into::into),
        }
    }

    const BOTH: Tokens = Tokens {
        identity: true,
        access: true,
    };

    #[test]
    fn parses_the_documented_request() {
        let call = HookCall::parse(TOKEN.as_bytes()).unwrap();
        let request = request(&call, "{}");
        assert_eq!(request.protocol.protocol_type.as_deref(), Some("OAUTH2.0"));
        assert_eq!(
            request.protocol.issuer.as_deref(),
            Some("https://example.okta.com/oauth2/default")
        );
        assert_eq!(request.protocol.parameters[0].name, "scope");
        assert_eq!(request.protocol.parameters[0].value, "openid profile email");
        let client = request.protocol.client.as_ref().unwrap();
        assert_eq!(client.client_type.as_deref(), Some("PUBLIC"));
        let session = request.session.as_ref().unwrap();
        assert_eq!(session.amr, ["PASSWORD"]);
        assert_eq!(session.idp_type.as_deref(), Some("OKTA"));
        assert_eq!(session.mfa_active, Some(false));
        assert_eq!(request.user.as_ref().unwrap().profile[0].name, "login");
        let policy = request.policy.as_ref().unwrap();
        assert_eq!(policy.rule_id.as_deref(), Some("0prq8mLKuKAmavOvq0g3"));
        let identity = request.identity.as_ref().unwrap();
        assert_eq!(identity.lifetime_seconds, Some(3600));
        let ver = identity.claims.iter().find(|c| c.name == "ver").unwrap();
        assert_eq!(ver.value, "1", "claims keep their JSON form");
        let access = request.access.as_ref().unwrap();
        assert_eq!(access.claims[0].name, "ver");
        assert_eq!(request.scopes.len(), 3);
        assert_eq!(request.scopes[0].action.as_deref(), Some("GRANT"));
        assert_eq!(
            request.refresh_token_id.as_deref(),
            Some("oarob4a0tckCkGcyo1d6")
        );
        assert_eq!(request.raw, TOKEN);
    }

    #[test]
    fn a_token_that_is_not_an_object_is_absent() {
        let body = r#"{"eventType":"com.okta.oauth2.tokens.transform",
            "data":{"identity":"x","access":{"claims":[1],"scopes":7,"token":{"lifetime":{"expiration":-5}}}}}"#;
        let request = request(&HookCall::parse(body.as_bytes()).unwrap(), "{}");
        assert_eq!(request.identity, None);
        let access = request.access.unwrap();
        assert_eq!((access.claims.len(), access.lifetime_seconds), (0, None));
        assert!(request.scopes.is_empty());
    }

    #[test]
    fn a_scope_that_is_not_an_object_has_no_id_or_action() {
        // Found by fuzzing: serde fills a struct from an array by position.
        let body = r#"{"eventType":"com.okta.oauth2.tokens.transform",
            "data":{"access":{"scopes":{"openid":["i","GRANT"]}}}}"#;
        let request = request(&HookCall::parse(body.as_bytes()).unwrap(), "{}");
        let scope = &request.scopes[0];
        assert_eq!((scope.id.as_deref(), scope.action.as_deref()), (None, None));
    }

    #[test]
    fn an_answer_that_fits_its_limit_exactly_is_sent() {
        // Found by fuzzing: the early size check counted commands that were not sent.
        let decisions = [
            Decision::default(),
            Decision {
                error: Some(HookError {
                    error_summary: "No.".into(),
                    error_causes: vec![],
                }),
                ..Decision::default()
            },
            Decision {
                access_patch: vec![op(PatchOp::Remove, "/claims/a", None)],
                ..Decision::default()
            },
        ];
        for decision in decisions {
            let size = render(decision.clone(), BOTH, MAX_RESPONSE_BYTES)
                .unwrap()
                .body()
                .map_or(0, str::len);
            assert!(render(decision.clone(), BOTH, size).is_ok(), "{decision:?}");
            if size > 0 {
                let refused = render(decision.clone(), BOTH, size - 1);
                assert!(
                    matches!(refused, Err(Refusal::Oversize { .. })),
                    "{decision:?}"
                );
            }
        }
    }

    #[test]
    fn renders_patches_in_order_one_command_per_token() {
        let decision = Decision {
            identity_patch: vec![op(PatchOp::Add, "/claims/a", Some("1"))],
            access_patch: vec![
                op(PatchOp::Replace, "/token/lifetime/expiration", Some("600")),
                op(PatchOp::Remove, "/claims/b", Some("null")),
            ],
            ..Decision::default()
        };
        let answer = render(decision, BOTH, MAX_RESPONSE_BYTES).unwrap();
        assert_eq!(
            answer.body().unwrap(),
            r#"{"commands":[{"type":"com.okta.identity.patch","value":[{"op":"add","path":"/claims/a","value":1}]},{"type":"com.okta.access.patch","value":[{"op":"replace","path":"/token/lifetime/expiration","value":600},{"op":"remove","path":"/claims/b"}]}]}"#
        );
        assert_eq!(answer.label(), "commands");
    }

    #[test]
    fn refuses_what_okta_would_reject() {
        let access = |o| Decision {
            access_patch: vec![o],
            ..Decision::default()
        };
        let identity = |o| Decision {
            identity_patch: vec![o],
            ..Decision::default()
        };
        let lifetime = |v| op(PatchOp::Replace, "/token/lifetime/expiration", Some(v));
        let refused = [
            (access(op(PatchOp::Add, "/claims/scp", Some("1"))), BOTH),
            (identity(op(PatchOp::Add, "/claims/sub", Some("1"))), BOTH),
            (
                access(op(PatchOp::Add, "/claims/groups/-", Some("1"))),
                BOTH,
            ),
            (access(lifetime("299")), BOTH),
            (access(lifetime("86401")), BOTH),
            (access(lifetime("600.5")), BOTH),
            (
                access(op(PatchOp::Remove, "/claims/a", Some("\"x\""))),
                BOTH,
            ),
            (access(op(PatchOp::Add, "/claims/a", None)), BOTH),
            (access(op(PatchOp::Add, "/scopes/a", Some("1"))), BOTH),
            (
                identity(op(PatchOp::Add, "/claims/a", Some("1"))),
                Tokens {
                    identity: false,
                    access: true,
                },
            ),
        ];
        for (decision, tokens) in refused {
            let failure = render(decision.clone(), tokens, MAX_RESPONSE_BYTES);
            assert!(matches!(failure, Err(Refusal::Invalid(_))), "{decision:?}");
        }
        // `sub` of an access token may change; the lifetime bounds are inclusive.
        for decision in [
            access(op(PatchOp::Replace, "/claims/sub", Some("\"x\""))),
            access(lifetime("300")),
            identity(lifetime("86400")),
        ] {
            assert!(
                render(decision.clone(), BOTH, MAX_RESPONSE_BYTES).is_ok(),
                "{decision:?}"
            );
        }
    }

    #[test]
    fn an_error_mints_no_token_and_fails_closed_the_same_way() {
        let decision = Decision {
            error: Some(HookError {
                error_summary: "No.".into(),
                error_causes: vec![],
            }),
            ..Decision::default()
        };
        let answer = render(decision, BOTH, MAX_RESPONSE_BYTES).unwrap();
        assert_eq!(
            answer,
            Answer::Deny(r#"{"error":{"errorSummary":"No."}}"#.into())
        );
        assert_eq!(failure_answer(FailurePolicy::FailOpen), Answer::NoChange);
        assert!(
            failure_answer(FailurePolicy::FailClosed)
                .body()
                .unwrap()
                .starts_with(r#"{"error":{"errorSummary":"#)
        );
    }
}
