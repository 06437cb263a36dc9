//! wasmhook answers Okta inline hooks by running user-written rules as sandboxed WebAssembly
//! components.
pub mod okta;
pub mod runtime;
