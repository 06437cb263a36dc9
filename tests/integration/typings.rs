//! The typings of the JavaScript and Python helpers (`guest-sdk/javascript/wasmhook.d.ts`,
//! `guest-sdk/python/*.pyi`) are what editors and type checkers read *instead of* the helpers:
//! nothing else notices when they drift from the code, and a stale typing misleads every rule
//! author. So the example rules are type-checked against the declarations exactly as
//! docs/writing-rules.md tells authors to (TypeScript's `tsc`, which jco brings into
//! `rules/javascript/node_modules`), a rule with mistakes must fail that check, and the Python stubs
//! are compared with their modules (`tests/tools/check_python_stubs.py`). Nothing is built: each
//! test takes about a second.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::repo_root;

/// Example rules that are wrong on purpose, with the one error `tsc` must report for each.
const DELIBERATELY_BROKEN: &[(&str, &str)] = &[
    // Calls a helper that does not exist when given a `crash` setting (tests/integration/languages.rs).
    (
        "allow-all",
        "error TS2339: Property 'allowAll' does not exist",
    ),
];

fn tsc() -> PathBuf {
    let tsc = repo_root().join("rules/javascript/node_modules/.bin/tsc");
    assert!(
        tsc.exists(),
        "{} is missing: run `cd rules/javascript && npm ci` (jco depends on TypeScript)",
        tsc.display()
    );
    tsc
}

/// Type-checks the JavaScript file `rule` as docs/writing-rules.md says: `tsc` reads
/// `wasmhook.d.ts` for the `wasmhook.js` the rule imports.
fn type_check(rule: &Path) -> Output {
    Command::new(tsc())
        .args([
            "--noEmit",
            "--allowJs",
            "--checkJs",
            "--strict",
            "false",
            "--target",
            "es2022",
            "--module",
            "es2022",
            "--moduleResolution",
            "bundler",
        ])
        .arg(rule)
        .current_dir(repo_root())
        .output()
        .expect("tsc runs (it needs node on PATH)")
}

/// What `tsc` said (it reports errors on stdout).
fn said(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn errors(text: &str) -> usize {
    text.lines()
        .filter(|line| line.contains("error TS"))
        .count()
}

#[test]
fn every_javascript_example_rule_type_checks_against_the_helpers_declarations() {
    let mut checked = 0;
    for entry in std::fs::read_dir(repo_root().join("rules/javascript")).unwrap() {
        let rule = entry.unwrap().path().join("rule.js");
        if !rule.exists() {
            continue;
        }
        let name = rule
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap();
        let output = type_check(&rule);
        let text = said(&output);
        match DELIBERATELY_BROKEN
            .iter()
            .find(|(broken, _)| *broken == name)
        {
            None => assert!(
                output.status.success(),
                "rules/javascript/{name}/rule.js does not type-check against guest-sdk/javascript/wasmhook.d.ts:\n{text}"
            ),
            Some((_, expected)) => assert!(
                !output.status.success() && text.contains(expected) && errors(&text) == 1,
                "rules/javascript/{name}/rule.js must fail the type check with exactly `{expected}`:\n{text}"
            ),
        }
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} JavaScript rules found");
}

#[test]
fn a_javascript_rule_that_misuses_the_helpers_fails_the_type_check() {
    let dir = std::env::temp_dir().join(format!("wasmhook-typings-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // The helpers beside the rule, as `wasmhook new` lays a project out.
    for file in ["wasmhook.js", "wasmhook.d.ts"] {
        std::fs::copy(
            repo_root().join("guest-sdk/javascript").join(file),
            dir.join(file),
        )
        .unwrap();
    }
    let rule = dir.join("rule.js");
    std::fs::write(
        &rule,
        r#"import * as sdk from './wasmhook.js';

export const registration = sdk.rule({
  evaluate(request) {
    if ('crash' in sdk.settings(request)) return sdk.allowAll();
    return sdk.deny(42);
  },
});

export const token = sdk.rule({
  /** @param {sdk.TokenRequest} request */
  evaluate(request) {
    const decision = sdk.noTokenChange();
    if (request.acess != null) sdk.addAccessClaim(decision, 'tenant');
    return decision;
  },
});
"#,
    )
    .unwrap();
    let output = type_check(&rule);
    let text = said(&output);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        !output.status.success(),
        "tsc accepted a rule full of mistakes:\n{text}"
    );
    for mistake in [
        // A helper that does not exist.
        "rule.js(5,54): error TS2339: Property 'allowAll' does not exist",
        // A summary that is not a string.
        "rule.js(6,21): error TS2345: Argument of type 'number' is not assignable to parameter of type 'string'",
        // A request field that does not exist.
        "rule.js(14,17): error TS2551: Property 'acess' does not exist on type 'TokenRequest'",
        // A claim without its value.
        "rule.js(14,36): error TS2554: Expected 3 arguments, but got 2",
    ] {
        assert!(
            text.contains(mistake),
            "tsc did not report `{mistake}`:\n{text}"
        );
    }
    assert_eq!(errors(&text), 4, "tsc reported other errors too:\n{text}");
}

#[test]
fn every_export_of_wasmhook_js_is_declared_in_wasmhook_d_ts_and_no_other() {
    let exports = |file: &str, prefixes: &[&str]| -> BTreeSet<String> {
        let text =
            std::fs::read_to_string(repo_root().join("guest-sdk/javascript").join(file)).unwrap();
        text.lines()
            .filter_map(|line| prefixes.iter().find_map(|prefix| line.strip_prefix(prefix)))
            .map(|rest| {
                rest.chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '$')
                    .collect::<String>()
            })
            .collect()
    };
    let defined = exports("wasmhook.js", &["export function ", "export const "]);
    let declared = exports(
        "wasmhook.d.ts",
        &[
            "export function ",
            "export const ",
            "export declare function ",
            "export declare const ",
        ],
    );
    assert!(defined.len() > 20, "{defined:?}");
    let undeclared: Vec<_> = defined.difference(&declared).collect();
    let invented: Vec<_> = declared.difference(&defined).collect();
    assert!(
        undeclared.is_empty() && invented.is_empty(),
        "wasmhook.js exports {undeclared:?} that wasmhook.d.ts does not declare; \
         wasmhook.d.ts declares {invented:?} that wasmhook.js does not export"
    );
}

#[test]
fn the_python_stubs_match_the_helper_modules() {
    let output = Command::new("python3")
        .arg(repo_root().join("tests/tools/check_python_stubs.py"))
        .current_dir(repo_root())
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "guest-sdk/python/*.pyi differ from their modules:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
