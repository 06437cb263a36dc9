//! Host-side bindings for every hook world in `wit/`, generated once, and the conversions between
//! them and the protocol's own types (`crate::okta`, `crate::hooks`), which never see the
//! bindings.
//!
//! One synthetic world exports every hook interface, so the shared types (`wasmhook:rule/types`)
//! are generated once. A rule exports just one of them; [`Exports::find`] tells which at load.

use wasmtime::component::{Instance, InstancePre};
use wasmtime::{AsContextMut, Store};

use crate::hooks::{
    self, HookType, event, password_import, registration, saml, telephony, token, user_import,
};
use crate::okta;

mod generated {
    wasmtime::component::bindgen!({
        path: "../wit",
        inline: "
            package wasmhook:host;

            world rules {
                import wasmhook:rule/log@0.1.0;
                import wasmhook:rule/http-client@0.1.0;
                export wasmhook:rule/registration@0.1.0;
                export wasmhook:rule/token@0.1.0;
                export wasmhook:rule/saml@0.1.0;
                export wasmhook:rule/password-import@0.1.0;
                export wasmhook:rule/telephony@0.1.0;
                export wasmhook:rule/user-import@0.1.0;
                export wasmhook:rule/event@0.1.0;
                export wasmhook:rule/settings@0.1.0;
            }
        ",
        world: "rules",
        imports: { "wasmhook:rule/http-client.send": async },
        exports: { default: async },
    });
}

use generated::exports::wasmhook::rule::{
    event as guest_event, password_import as guest_password_import,
    registration as guest_registration, saml as guest_saml, settings as guest_settings,
    telephony as guest_telephony, token as guest_token, user_import as guest_user_import,
};
pub use generated::wasmhook::rule::types::{self, Level};
pub use generated::wasmhook::rule::{http_client, log};
use types as guest;

/// Adds the imports every rule may use (`wasmhook:rule/log`, `wasmhook:rule/http-client`,
/// `wasmhook:rule/types`) to `linker`.
pub fn add_rule_imports_to_linker<
    T: log::Host + http_client::Host + types::Host + Send + 'static,
>(
    linker: &mut wasmtime::component::Linker<T>,
) -> wasmtime::Result<()> {
    generated::Rules::add_to_linker::<T, wasmtime::component::HasSelf<T>>(linker, |s| s)
}

/// The hook interface a rule exports, resolved once at load.
#[derive(Clone)]
pub enum Exports {
    Registration(guest_registration::GuestIndices),
    Token(guest_token::GuestIndices),
    Saml(guest_saml::GuestIndices),
    PasswordImport(guest_password_import::GuestIndices),
    Telephony(guest_telephony::GuestIndices),
    UserImport(guest_user_import::GuestIndices),
    Event(guest_event::GuestIndices),
}

impl Exports {
    /// The one hook interface `pre`'s component exports. A component that exports none, or
    /// several, is not a rule.
    pub fn find<T>(pre: &InstancePre<T>) -> Result<Exports, String> {
        let found: Vec<Exports> = [
            guest_registration::GuestIndices::new(pre)
                .ok()
                .map(Exports::Registration),
            guest_token::GuestIndices::new(pre).ok().map(Exports::Token),
            guest_saml::GuestIndices::new(pre).ok().map(Exports::Saml),
            guest_password_import::GuestIndices::new(pre)
                .ok()
                .map(Exports::PasswordImport),
            guest_telephony::GuestIndices::new(pre)
                .ok()
                .map(Exports::Telephony),
            guest_user_import::GuestIndices::new(pre)
                .ok()
                .map(Exports::UserImport),
            guest_event::GuestIndices::new(pre).ok().map(Exports::Event),
        ]
        .into_iter()
        .flatten()
        .collect();
        let interfaces = || {
            HookType::ALL
                .map(|hook| format!("`{}`", interface_name(hook)))
                .join(", ")
        };
        match <[Exports; 1]>::try_from(found) {
            Ok([exports]) => Ok(exports),
            Err(found) if found.is_empty() => Err(format!(
                "it exports none of the hook interfaces ({}); build it for one hook's world, \
                 e.g. `registration-rule`",
                interfaces()
            )),
            Err(found) => Err(format!(
                "it exports {} hook interfaces ({}); a rule handles exactly one hook type",
                found.len(),
                found
                    .iter()
                    .map(|e| format!("`{}`", interface_name(e.hook())))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    pub fn hook(&self) -> HookType {
        match self {
            Exports::Registration(_) => HookType::Registration,
            Exports::Token(_) => HookType::Token,
            Exports::Saml(_) => HookType::Saml,
            Exports::PasswordImport(_) => HookType::PasswordImport,
            Exports::Telephony(_) => HookType::Telephony,
            Exports::UserImport(_) => HookType::UserImport,
            Exports::Event(_) => HookType::Event,
        }
    }

    /// Calls the rule's `evaluate` in `instance` with `request`, which must be of the rule's hook
    /// type. The outer error is a trap; the inner one the rule's own `err`.
    pub async fn evaluate<T: Send>(
        &self,
        store: &mut Store<T>,
        instance: &Instance,
        request: hooks::Request,
    ) -> wasmtime::Result<Result<hooks::Decision, String>> {
        match (self, request) {
            (Exports::Registration(indices), hooks::Request::Registration(request)) => {
                let guest = indices.load(store.as_context_mut(), instance)?;
                let request = guest_registration::Request::from(request);
                let decision = guest.call_evaluate(store, &request).await?;
                Ok(decision.map(|d| hooks::Decision::Registration(d.into())))
            }
            (Exports::Token(indices), hooks::Request::Token(request)) => {
                let guest = indices.load(store.as_context_mut(), instance)?;
                let request = guest_token::Request::from(request);
                let decision = guest.call_evaluate(store, &request).await?;
                Ok(decision.map(|d| hooks::Decision::Token(d.into())))
            }
            (Exports::Saml(indices), hooks::Request::Saml(request)) => {
                let guest = indices.load(store.as_context_mut(), instance)?;
                let request = guest_saml::Request::from(request);
                let decision = guest.call_evaluate(store, &request).await?;
                Ok(decision.map(|d| hooks::Decision::Saml(d.into())))
            }
            (Exports::PasswordImport(indices), hooks::Request::PasswordImport(request)) => {
                let guest = indices.load(store.as_context_mut(), instance)?;
                let request = guest_password_import::Request::from(request);
                let decision = guest.call_evaluate(store, &request).await?;
                Ok(decision.map(|d| hooks::Decision::PasswordImport(d.into())))
            }
            (Exports::Telephony(indices), hooks::Request::Telephony(request)) => {
                let guest = indices.load(store.as_context_mut(), instance)?;
                let request = guest_telephony::Request::from(request);
                let decision = guest.call_evaluate(store, &request).await?;
                Ok(decision.map(|d| hooks::Decision::Telephony(d.into())))
            }
            (Exports::UserImport(indices), hooks::Request::UserImport(request)) => {
                let guest = indices.load(store.as_context_mut(), instance)?;
                let request = guest_user_import::Request::from(request);
                let decision = guest.call_evaluate(store, &request).await?;
                Ok(decision.map(|d| hooks::Decision::UserImport(d.into())))
            }
            (Exports::Event(indices), hooks::Request::Event(request)) => {
                let guest = indices.load(store.as_context_mut(), instance)?;
                let request = guest_event::Request::from(request);
                let handled = guest.call_handle(store, &request).await?;
                Ok(handled.map(|()| hooks::Decision::Event(event::Decision)))
            }
            (exports, request) => Err(wasmtime::format_err!(
                "a {} rule was given a {} request",
                exports.hook(),
                request.hook()
            )),
        }
    }
}

/// A rule's `wasmhook:rule/settings` export (`validate-settings`), resolved once at load. Rules
/// built before the interface existed (against the frozen 0.1.0 contract) do not export it.
#[derive(Clone)]
pub struct SettingsExport(guest_settings::GuestIndices);

/// The name of the settings interface.
const SETTINGS_INTERFACE: &str = "wasmhook:rule/settings@0.1.0";

impl SettingsExport {
    /// `pre`'s settings export: `None` when the component does not export the interface, an
    /// error when it exports something else under its name.
    pub fn find<T>(pre: &InstancePre<T>) -> Result<Option<SettingsExport>, String> {
        if pre
            .component()
            .get_export_index(None, SETTINGS_INTERFACE)
            .is_none()
        {
            return Ok(None);
        }
        guest_settings::GuestIndices::new(pre)
            .map(|indices| Some(SettingsExport(indices)))
            .map_err(|e| {
                format!("its `{SETTINGS_INTERFACE}` export does not fit the contract: {e:#}")
            })
    }

    /// Calls the rule's `validate-settings` in `instance`. The outer error is a trap; the inner
    /// one the rule's refusal.
    pub async fn validate<T: Send>(
        &self,
        store: &mut Store<T>,
        instance: &Instance,
        settings: &str,
    ) -> wasmtime::Result<Result<(), String>> {
        let guest = self.0.load(store.as_context_mut(), instance)?;
        guest
            .call_validate_settings(store, &settings.to_owned())
            .await
    }
}

/// `wasmhook:rule/<hook>@0.1.0`.
pub fn interface_name(hook: HookType) -> String {
    format!("wasmhook:rule/{}@0.1.0", hook.name())
}

// Shared shapes.

impl From<okta::Envelope> for guest::Envelope {
    fn from(e: okta::Envelope) -> Self {
        guest::Envelope {
            event_id: e.event_id,
            event_time: e.event_time,
            event_type: e.event_type,
            event_type_version: e.event_type_version,
            content_type: e.content_type,
            cloud_event_version: e.cloud_event_version,
            source: e.source,
            request_type: e.request_type,
        }
    }
}

impl From<okta::RequestContext> for guest::RequestContext {
    fn from(c: okta::RequestContext) -> Self {
        guest::RequestContext {
            id: c.id,
            method: c.method,
            ip_address: c.ip_address,
            url: c.url,
        }
    }
}

impl From<okta::Attribute> for guest::Attribute {
    fn from(a: okta::Attribute) -> Self {
        guest::Attribute {
            name: a.name,
            value: a.value,
        }
    }
}

impl From<guest::Attribute> for okta::Attribute {
    fn from(a: guest::Attribute) -> Self {
        okta::Attribute {
            name: a.name,
            value: a.value,
        }
    }
}

fn guest_profile(profile: Vec<okta::Attribute>) -> Vec<guest::Attribute> {
    profile.into_iter().map(Into::into).collect()
}

impl From<okta::User> for guest::User {
    fn from(u: okta::User) -> Self {
        guest::User {
            id: u.id,
            password_changed: u.password_changed,
            profile: guest_profile(u.profile),
        }
    }
}

impl From<okta::Session> for guest::Session {
    fn from(s: okta::Session) -> Self {
        guest::Session {
            id: s.id,
            user_id: s.user_id,
            login: s.login,
            status: s.status,
            created_at: s.created_at,
            expires_at: s.expires_at,
            amr: s.amr,
            idp_id: s.idp_id,
            idp_type: s.idp_type,
            mfa_active: s.mfa_active,
        }
    }
}

impl From<guest::HookError> for okta::HookError {
    fn from(e: guest::HookError) -> Self {
        okta::HookError {
            error_summary: e.error_summary,
            error_causes: e
                .error_causes
                .into_iter()
                .map(|c| okta::ErrorCause {
                    error_summary: c.error_summary,
                    reason: c.reason,
                    location_type: c.location_type,
                    location: c.location,
                    domain: c.domain,
                })
                .collect(),
        }
    }
}

fn patch(operations: Vec<guest::PatchOperation>) -> Vec<okta::PatchOperation> {
    operations
        .into_iter()
        .map(|o| okta::PatchOperation {
            op: match o.op {
                guest::PatchOp::Add => okta::PatchOp::Add,
                guest::PatchOp::Replace => okta::PatchOp::Replace,
                guest::PatchOp::Remove => okta::PatchOp::Remove,
            },
            path: o.path,
            value: o.value,
        })
        .collect()
}

// Registration.

impl From<registration::Request> for guest_registration::Request {
    fn from(r: registration::Request) -> Self {
        guest_registration::Request {
            envelope: r.envelope.into(),
            flow: match r.flow {
                registration::Flow::SelfServiceRegistration => {
                    guest_registration::Flow::SelfServiceRegistration
                }
                registration::Flow::ProgressiveProfile => {
                    guest_registration::Flow::ProgressiveProfile
                }
            },
            context: r.context.into(),
            user: r.user.map(|u| guest_registration::ExistingUser {
                id: u.id,
                password_changed: u.password_changed,
                profile: guest_profile(u.profile),
            }),
            user_profile: guest_profile(r.user_profile),
            user_profile_update: guest_profile(r.user_profile_update),
            action: r.action,
            settings: r.settings,
            raw: r.raw,
        }
    }
}

impl From<guest_registration::Decision> for registration::Decision {
    fn from(d: guest_registration::Decision) -> Self {
        let profile = |p: Vec<guest::Attribute>| p.into_iter().map(Into::into).collect();
        registration::Decision {
            commands: d
                .commands
                .into_iter()
                .map(|c| match c {
                    guest_registration::Command::Allow => registration::Command::Allow,
                    guest_registration::Command::Deny => registration::Command::Deny,
                    guest_registration::Command::UpdateProfile(p) => {
                        registration::Command::UpdateProfile(profile(p))
                    }
                    guest_registration::Command::UpdateProgressiveProfile(p) => {
                        registration::Command::UpdateProgressiveProfile(profile(p))
                    }
                })
                .collect(),
            error: d.error.map(Into::into),
            debug_context: d.debug_context,
        }
    }
}

// Token.

impl From<token::Token> for guest_token::Token {
    fn from(t: token::Token) -> Self {
        guest_token::Token {
            claims: t
                .claims
                .into_iter()
                .map(|c| guest_token::Claim {
                    name: c.name,
                    value: c.value,
                })
                .collect(),
            lifetime_seconds: t.lifetime_seconds,
        }
    }
}

impl From<token::Request> for guest_token::Request {
    fn from(r: token::Request) -> Self {
        guest_token::Request {
            envelope: r.envelope.into(),
            context: r.context.into(),
            protocol: guest_token::Protocol {
                protocol_type: r.protocol.protocol_type,
                parameters: r
                    .protocol
                    .parameters
                    .into_iter()
                    .map(|p| guest_token::Parameter {
                        name: p.name,
                        value: p.value,
                    })
                    .collect(),
                issuer: r.protocol.issuer,
                client: r.protocol.client.map(|c| guest_token::Client {
                    id: c.id,
                    name: c.name,
                    client_type: c.client_type,
                }),
            },
            session: r.session.map(Into::into),
            user: r.user.map(Into::into),
            policy: r.policy.map(|p| guest_token::Policy {
                id: p.id,
                rule_id: p.rule_id,
            }),
            identity: r.identity.map(Into::into),
            access: r.access.map(Into::into),
            scopes: r
                .scopes
                .into_iter()
                .map(|s| guest_token::Scope {
                    name: s.name,
                    id: s.id,
                    action: s.action,
                })
                .collect(),
            refresh_token_id: r.refresh_token_id,
            settings: r.settings,
            raw: r.raw,
        }
    }
}

impl From<guest_token::Decision> for token::Decision {
    fn from(d: guest_token::Decision) -> Self {
        token::Decision {
            identity_patch: patch(d.identity_patch),
            access_patch: patch(d.access_patch),
            error: d.error.map(Into::into),
            debug_context: d.debug_context,
        }
    }
}

// SAML.

impl From<saml::Request> for guest_saml::Request {
    fn from(r: saml::Request) -> Self {
        let a = r.assertion;
        guest_saml::Request {
            envelope: r.envelope.into(),
            context: r.context.into(),
            protocol: guest_saml::Protocol {
                protocol_type: r.protocol.protocol_type,
                issuer: r.protocol.issuer.map(|i| guest_saml::Issuer {
                    id: i.id,
                    name: i.name,
                    uri: i.uri,
                }),
            },
            session: r.session.map(Into::into),
            user: r.user.map(Into::into),
            assertion: guest_saml::Assertion {
                subject: guest_saml::Subject {
                    name_id: a.subject.name_id,
                    name_format: a.subject.name_format,
                    confirmation_method: a.subject.confirmation_method,
                    recipient: a.subject.recipient,
                },
                authentication: guest_saml::Authentication {
                    session_index: a.authentication.session_index,
                    authn_context_class_ref: a.authentication.authn_context_class_ref,
                },
                conditions: guest_saml::Conditions {
                    audience_restriction: a.conditions.audience_restriction,
                },
                claims: a
                    .claims
                    .into_iter()
                    .map(|c| guest_saml::Claim {
                        name: c.name,
                        name_format: c.name_format,
                        values: c
                            .values
                            .into_iter()
                            .map(|v| guest_saml::AttributeValue {
                                xsi_type: v.xsi_type,
                                value: v.value,
                            })
                            .collect(),
                    })
                    .collect(),
                lifetime_seconds: a.lifetime_seconds,
            },
            settings: r.settings,
            raw: r.raw,
        }
    }
}

impl From<guest_saml::Decision> for saml::Decision {
    fn from(d: guest_saml::Decision) -> Self {
        saml::Decision {
            assertion_patch: patch(d.assertion_patch),
            error: d.error.map(Into::into),
            debug_context: d.debug_context,
        }
    }
}

// Password import.

impl From<password_import::Request> for guest_password_import::Request {
    fn from(r: password_import::Request) -> Self {
        guest_password_import::Request {
            envelope: r.envelope.into(),
            context: r.context.into(),
            credential: guest_password_import::Credential {
                username: r.credential.username,
                password: r.credential.password,
            },
            settings: r.settings,
            raw: r.raw,
        }
    }
}

impl From<guest_password_import::Decision> for password_import::Decision {
    fn from(d: guest_password_import::Decision) -> Self {
        password_import::Decision {
            verdict: match d.verdict {
                guest_password_import::Verdict::Verified => password_import::Verdict::Verified,
                guest_password_import::Verdict::Unverified => password_import::Verdict::Unverified,
            },
            debug_context: d.debug_context,
        }
    }
}

// Telephony.

impl From<telephony::Request> for guest_telephony::Request {
    fn from(r: telephony::Request) -> Self {
        let (user, message) = (r.user_profile, r.message_profile);
        guest_telephony::Request {
            envelope: r.envelope.into(),
            flow: match r.flow {
                telephony::Flow::PreEnrollment => guest_telephony::Flow::PreEnrollment,
                telephony::Flow::MfaVerification => guest_telephony::Flow::MfaVerification,
                telephony::Flow::AccountUnlock => guest_telephony::Flow::AccountUnlock,
                telephony::Flow::PasswordReset => guest_telephony::Flow::PasswordReset,
            },
            context: r.context.into(),
            user_profile: guest_telephony::UserProfile {
                user_id: user.user_id,
                login: user.login,
                first_name: user.first_name,
                last_name: user.last_name,
            },
            message_profile: guest_telephony::MessageProfile {
                phone_number: message.phone_number,
                delivery_channel: message.delivery_channel,
                otp_code: message.otp_code,
                msg_template: message.msg_template,
                otp_expires: message.otp_expires,
                locale: message.locale,
            },
            settings: r.settings,
            raw: r.raw,
        }
    }
}

impl From<guest_telephony::Decision> for telephony::Decision {
    fn from(d: guest_telephony::Decision) -> Self {
        telephony::Decision {
            status: match d.status {
                guest_telephony::Status::Successful => telephony::Status::Successful,
                guest_telephony::Status::Pending => telephony::Status::Pending,
                guest_telephony::Status::Failed => telephony::Status::Failed,
            },
            provider: d.provider,
            transaction_id: d.transaction_id,
            transaction_metadata: d.transaction_metadata,
            debug_context: d.debug_context,
        }
    }
}

// User import.

fn guest_import_result(result: user_import::ImportResult) -> guest_user_import::ImportResult {
    match result {
        user_import::ImportResult::CreateUser => guest_user_import::ImportResult::CreateUser,
        user_import::ImportResult::LinkUser => guest_user_import::ImportResult::LinkUser,
    }
}

impl From<user_import::Request> for guest_user_import::Request {
    fn from(r: user_import::Request) -> Self {
        guest_user_import::Request {
            envelope: r.envelope.into(),
            application: r.application.map(|a| guest_user_import::Application {
                id: a.id,
                name: a.name,
                label: a.label,
                status: a.status,
            }),
            job: r.job.map(|j| guest_user_import::Job {
                id: j.id,
                job_type: j.job_type,
            }),
            conflicts: r.conflicts,
            matches: r.matches,
            policy: r.policy,
            planned: r.planned.map(guest_import_result),
            app_user_profile: guest_profile(r.app_user_profile),
            user_profile: guest_profile(r.user_profile),
            user_id: r.user_id,
            settings: r.settings,
            raw: r.raw,
        }
    }
}

impl From<guest_user_import::Decision> for user_import::Decision {
    fn from(d: guest_user_import::Decision) -> Self {
        user_import::Decision {
            app_user_profile_update: d
                .app_user_profile_update
                .into_iter()
                .map(Into::into)
                .collect(),
            user_profile_update: d.user_profile_update.into_iter().map(Into::into).collect(),
            action: d.action.map(|a| match a {
                guest_user_import::ImportResult::CreateUser => {
                    user_import::ImportResult::CreateUser
                }
                guest_user_import::ImportResult::LinkUser => user_import::ImportResult::LinkUser,
            }),
            link_user_id: d.link_user_id,
            error: d.error.map(Into::into),
            debug_context: d.debug_context,
        }
    }
}

// Event hooks.

impl From<event::Entity> for guest_event::Entity {
    fn from(e: event::Entity) -> Self {
        guest_event::Entity {
            id: e.id,
            kind: e.kind,
            alternate_id: e.alternate_id,
            display_name: e.display_name,
        }
    }
}

impl From<event::Request> for guest_event::Request {
    fn from(r: event::Request) -> Self {
        let e = r.event;
        guest_event::Request {
            event: guest_event::LogEvent {
                uuid: e.uuid,
                event_type: e.event_type,
                published: e.published,
                display_message: e.display_message,
                severity: e.severity,
                actor: e.actor.map(Into::into),
                target: e.target.into_iter().map(Into::into).collect(),
                outcome: e.outcome,
                outcome_reason: e.outcome_reason,
                raw: e.raw,
            },
            delivery: guest_event::Delivery {
                event_id: r.delivery.event_id,
                event_time: r.delivery.event_time,
                source: r.delivery.source,
            },
            attempt: r.attempt,
            settings: r.settings,
        }
    }
}
