//! Hints for toolchain mistakes that docs/writing-rules.md knows, recognised by what wasmtime (or
//! the guest's language runtime) says about a rule that was built wrong. A hint is appended to
//! the load error or the trap; it never replaces what was said.

/// What an error text says, and what to do about it.
struct Hint {
    /// Every one of these must appear in the error's text.
    says: &'static [&'static str],
    hint: &'static str,
}

const HINTS: &[Hint] = &[
    // Validating a QuickJS rule built without `--backend-qjs-disable-async`: "`task.cancel`
    // requires the component model async feature" (or another intrinsic of it).
    Hint {
        says: &["requires the component model async feature"],
        hint: "built without `--backend-qjs-disable-async`? The server runs rules without \
               component-model async: a JavaScript rule must be built with it (see \
               docs/writing-rules.md, JavaScript)",
    },
    // A core module where a component is expected, such as a C rule's compiler output before
    // `wasmhook-c component`, or a Rust rule built for `wasm32-unknown-unknown`.
    Hint {
        says: &["attempted to parse a wasm module with a component parser"],
        hint: "this is a core WebAssembly module, not a component: build Rust rules for \
               `wasm32-wasip2`, and make a C module a component with `wasmhook-c component` \
               (see docs/writing-rules.md)",
    },
    // Not WebAssembly at all (a text file, a truncated download, a `.wat`).
    Hint {
        says: &["magic header not detected"],
        hint: "the file is not WebAssembly: point `rule` at the built `.wasm` file",
    },
    // The server links `wasi:http` 0.2 for outgoing requests (any 0.2.x import matches); a
    // component built for another major version of it cannot be linked.
    Hint {
        says: &[
            "wasi:http/",
            "matching implementation was not found in the linker",
        ],
        hint: "the server provides `wasi:http` 0.2 (outgoing requests, on routes that grant \
               them) and `wasmhook:rule/http-client`: build the rule against those (see \
               docs/writing-rules.md, outbound HTTP)",
    },
    // A QuickJS rule that does not export its hook's object (`export const registraton = …`):
    // its runtime finds no such interface at the first call and panics.
    Hint {
        says: &["interface 'wasmhook:rule/", "' not found"],
        hint: "the JavaScript module does not export its hook's object (`registration`, `token` \
               or `saml`, as the world it was built for names it): a misspelled or missing export?",
    },
];

/// `text` with the hint for the mistake it shows appended (`…; hint: …`), or as it is.
pub fn with_hint(text: String) -> String {
    match HINTS
        .iter()
        .find(|hint| hint.says.iter().all(|part| text.contains(part)))
    {
        Some(hint) => format!("{text}; hint: {}", hint.hint),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hint_of(text: &str) -> Option<String> {
        with_hint(text.to_owned())
            .strip_prefix(text)
            .and_then(|rest| rest.strip_prefix("; hint: "))
            .map(str::to_owned)
    }

    /// The texts below are what wasmtime 48 and the guest runtimes said for each mistake.
    #[test]
    fn known_mistakes_get_their_hint() {
        let cases = [
            (
                "failed to parse WebAssembly module: `task.cancel` requires the component model \
                 async feature (at offset 0x18b0de)",
                "--backend-qjs-disable-async",
            ),
            (
                "failed to parse WebAssembly module: attempted to parse a wasm module with a \
                 component parser",
                "not a component",
            ),
            (
                "failed to parse WebAssembly module: magic header not detected: bad magic number",
                "not WebAssembly",
            ),
            (
                "component imports instance `wasi:http/types@0.3.0`, but a matching \
                 implementation was not found in the linker",
                "`wasi:http` 0.2",
            ),
            (
                "trapped: wasm trap: wasm `unreachable` instruction executed; guest stderr: \
                 thread '<unnamed>' (1) panicked at crates/runtime/src/interpreter.rs:35:35: \
                 interface 'wasmhook:rule/registration@0.1.0' not found: FromJs { from: \
                 \"undefined\", to: \"object\", message: None }",
                "does not export",
            ),
        ];
        for (text, expected) in cases {
            let hint = hint_of(text).unwrap_or_else(|| panic!("no hint for {text}"));
            assert!(hint.contains(expected), "{text}: {hint}");
        }
    }

    #[test]
    fn other_errors_are_left_as_they_are() {
        for text in [
            "component imports instance `wasi:keyvalue/store`, but a matching implementation \
             was not found in the linker",
            "deadline of 1000 ms exceeded",
            "",
        ] {
            assert_eq!(with_hint(text.to_owned()), text);
        }
    }
}
