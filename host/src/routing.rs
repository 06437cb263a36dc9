//! Choosing the route (and so the rule) for a hook call, by `eventType` and, for hook types that
//! have them, `requestType`.
//!
//! A route with a request type matches only that request type; one without matches every request
//! type of its event type, and the more specific route wins. How a hook type's request type is
//! read is the hook's business ([`HookType::routed_request_type`]): a registration call without
//! `requestType` comes from Classic Engine, where the only flow is self-service registration, so
//! it is routed as `self.service.registration`.

use crate::hooks::HookType;
use crate::okta::HookCall;
use crate::tenant::Route;
use crate::untrusted::GuestText;

/// A tenant's routes, in configuration order. Generic over what a route carries, so that the
/// choice itself can be tested (and fuzzed) without compiling rules.
pub struct RouteTable<R = Route> {
    routes: Vec<R>,
}

/// What routing looks at in a route.
pub trait Routable {
    fn event_type(&self) -> &str;
    /// `None` matches every request type of the event type.
    fn request_type(&self) -> Option<&str>;
}

impl Routable for Route {
    fn event_type(&self) -> &str {
        &self.event_type
    }
    fn request_type(&self) -> Option<&str> {
        self.request_type.as_deref()
    }
}

/// A route as configured, for `eval --config` (which routes without compiling every rule).
impl Routable for crate::config::RouteConfig {
    fn event_type(&self) -> &str {
        &self.event_type
    }
    fn request_type(&self) -> Option<&str> {
        self.request_type.as_deref()
    }
}

impl<R: Routable> Routable for &R {
    fn event_type(&self) -> &str {
        (*self).event_type()
    }
    fn request_type(&self) -> Option<&str> {
        (*self).request_type()
    }
}

/// `(event_type, request_type)`: a route that is nothing but its key.
impl Routable for (String, Option<String>) {
    fn event_type(&self) -> &str {
        &self.0
    }
    fn request_type(&self) -> Option<&str> {
        self.1.as_deref()
    }
}

/// Why a call has no rule to answer it. The caller answers with the hook type's failure policy.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unrouted {
    /// The request type as sent, escaped (it reaches the log).
    #[error("unknown requestType `{0}`")]
    UnknownRequestType(GuestText),
    #[error("the requestType is not a string")]
    MalformedRequestType,
    #[error("the call has no requestType")]
    MissingRequestType,
    #[error("no route for this eventType and requestType")]
    NoRoute,
}

impl<R: Routable> RouteTable<R> {
    pub fn new(routes: Vec<R>) -> Self {
        RouteTable { routes }
    }

    pub fn iter(&self) -> impl Iterator<Item = &R> {
        self.routes.iter()
    }

    /// The route for `call`, and the hook type it is a call of.
    pub fn route(&self, call: &HookCall) -> Result<(&R, HookType), Unrouted> {
        let event_type = call.envelope.event_type.as_str();
        let hook = HookType::of_event_type(event_type).ok_or(Unrouted::NoRoute)?;
        let request_type = hook.routed_request_type(call)?;
        let matching = |specific: bool| {
            self.routes.iter().find(|route| {
                route.event_type() == event_type
                    && match route.request_type() {
                        Some(rt) => specific && Some(rt) == request_type,
                        None => !specific,
                    }
            })
        };
        let route = matching(true)
            .or_else(|| matching(false))
            .ok_or(Unrouted::NoRoute)?;
        Ok((route, hook))
    }
}
