//! Host-side bindings for the rule worlds in `wit/`, generated in one place.

mod generated {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "registration-rule",
        exports: { default: async },
        additional_derives: [PartialEq],
    });
}

pub use generated::RegistrationRulePre;
pub use generated::exports::wasmhook::rule::registration::{
    Command, Decision, ExistingUser, Flow, Request as RegistrationRequest,
};
pub use generated::wasmhook::rule::log;
pub use generated::wasmhook::rule::types::{
    self, Attribute, Envelope, ErrorCause, HookError, Level, RequestContext,
};

/// Adds the imports every rule may use (`wasmhook:rule/log`, `wasmhook:rule/types`) to `linker`.
pub fn add_rule_imports_to_linker<T: log::Host + types::Host + Send + 'static>(
    linker: &mut wasmtime::component::Linker<T>,
) -> wasmtime::Result<()> {
    generated::RegistrationRule::add_to_linker::<T, wasmtime::component::HasSelf<T>>(linker, |s| s)
}
