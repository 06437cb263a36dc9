//! Cranelift's compiled functions, kept while a batch of rules compiles (one config load), so
//! that rules made by the same toolchain share the work: every Python rule carries the same
//! CPython and every JavaScript rule the same QuickJS, and wasmtime's incremental compilation
//! reuses a function compiled before when its body is the same. The artifacts are byte for byte
//! those of a full compile (checked once, for three Python rules, by hashing
//! `Component::serialize` with and without).
//!
//! Measured on the rules of `rules/`, compiled in turn by one engine: the 7 Python rules took
//! 67 s (8–12 s each) and take 25 s (the first 8 s, each next 2.4–3.4 s); the 7 JavaScript rules
//! 10.5 s and 4.1 s. After the Python rules the store holds about 47 MB, so it is emptied once a
//! load is over: rules compiled before are in wasmtime's cache on disk anyway.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// wasmtime's key-value store for incremental compilation, in memory.
#[derive(Debug, Default)]
pub struct CompiledFunctions {
    by_key: Mutex<HashMap<Vec<u8>, Vec<u8>>>,
    /// Functions taken from the store instead of compiled, since the engine was built.
    reused: AtomicU64,
}

impl CompiledFunctions {
    /// Empties the store (its count of reused functions stays).
    pub fn clear(&self) {
        *self.lock() = HashMap::new();
    }

    pub fn reused(&self) -> u64 {
        self.reused.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, Vec<u8>>> {
        self.by_key.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl wasmtime::CacheStore for CompiledFunctions {
    fn get(&self, key: &[u8]) -> Option<Cow<'_, [u8]>> {
        let found = self.lock().get(key).cloned()?;
        self.reused.fetch_add(1, Ordering::Relaxed);
        Some(Cow::Owned(found))
    }

    fn insert(&self, key: &[u8], value: Vec<u8>) -> bool {
        self.lock().insert(key.to_vec(), value);
        true
    }
}
