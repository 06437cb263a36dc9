//! Integration tests: the real server on a real socket (`127.0.0.1:0`), the real rules built from
//! `rules/` (once per test run), the documented Okta payloads, and the `wasmhook` binary itself.

mod admin;
mod authoring;
mod bad_input;
mod cli;
mod common;
mod decisions;
mod deploy;
mod event_hooks;
mod fairness;
mod hardening;
mod hook_types;
mod languages;
mod oauth;
mod observability;
mod outbound;
mod password_import;
mod quickstart;
mod registry;
mod reload;
mod rule_failures;
mod scaffold;
mod settings;
mod shadow;
mod shutdown;
mod tables;
mod telephony;
mod tls;
mod typings;
mod upstream;
