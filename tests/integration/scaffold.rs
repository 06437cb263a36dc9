//! `wasmhook new` as a new user runs it: a project outside the repository, built and tested by
//! its own `build.sh` with only the toolchain and `wasmhook` on `PATH`, then loaded by
//! `wasmhook check` with the config its README shows: Rust (the fast one) for registration, token,
//! SAML and password import (a rule that calls out), and the registration hook in every other
//! language. The files of every other combination are checked by `scaffold.rs`'s unit tests.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::repo_root;

fn wasmhook() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_wasmhook"))
}

/// Writes a project with `wasmhook new`, builds and tests it with its `build.sh`, and checks
/// the config of its README: the whole path of the README's first steps.
fn new_build_and_check(lang: &str, hook: &str) {
    let parent = std::env::temp_dir().join(format!("wasmhook-new-{}", std::process::id()));
    std::fs::create_dir_all(&parent).unwrap();
    let dir = parent.join(format!("{lang}-{hook}"));
    let _ = std::fs::remove_dir_all(&dir);
    let new = Command::new(wasmhook())
        .args([
            "new",
            &dir.display().to_string(),
            "--lang",
            lang,
            "--hook",
            hook,
        ])
        .output()
        .unwrap();
    assert!(
        new.status.success(),
        "{}",
        String::from_utf8_lossy(&new.stderr)
    );

    // `wasmhook` on PATH, as the README asks; nothing else from this repository.
    let bin = wasmhook().parent().unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let mut build = Command::new(dir.join("build.sh"));
    // A user's environment: not the lint settings CI builds this repository with.
    build
        .env("PATH", path)
        .env_remove("WASMHOOK")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CLIPPY_ARGS");
    if lang == "rust" {
        // The dependencies (wit-bindgen, serde) compiled once for every Rust project, beside
        // the repository's rules, which use the same versions and profile.
        build.env("CARGO_TARGET_DIR", repo_root().join("rules/target"));
    }
    let built = build.output().unwrap();
    let stdout = String::from_utf8_lossy(&built.stdout);
    let stderr = String::from_utf8_lossy(&built.stderr);
    assert!(built.status.success(), "{stdout}{stderr}");
    let name = format!("{lang}-{hook}");
    assert!(
        stdout.contains(&format!("cases.toml: 2 passed, 0 failed ({name}.wasm)")),
        "{stdout}"
    );

    let config = readme_config(&dir);
    let checked = Command::new(wasmhook())
        .args(["check", "--config", &config.display().to_string()])
        .env("DEMO_HOOK_SECRET", "a secret")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&checked.stdout);
    assert!(
        checked.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    assert!(stdout.contains(&format!("-> {hook} rule")), "{stdout}");
    // Kept when a step fails, to look into; a JavaScript project holds 340 MB of node_modules.
    std::fs::remove_dir_all(&dir).unwrap();
    let _ = std::fs::remove_dir(&parent); // once the last project of this run is gone
}

/// The TOML block of the project's README, written as `wasmhook.toml` beside the rule.
fn readme_config(dir: &Path) -> PathBuf {
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    let block = readme
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the README shows a config");
    let file = dir.join("wasmhook.toml");
    std::fs::write(&file, block).unwrap();
    file
}

#[test]
fn a_rust_registration_project_builds_and_passes_its_cases() {
    new_build_and_check("rust", "registration");
}

#[test]
fn a_rust_token_project_builds_and_passes_its_cases() {
    new_build_and_check("rust", "token");
}

#[test]
fn a_rust_saml_project_builds_and_passes_its_cases() {
    new_build_and_check("rust", "saml");
}

#[test]
fn a_rust_password_import_project_builds_and_passes_its_cases() {
    new_build_and_check("rust", "password-import");
}

#[test]
fn a_python_project_builds_and_passes_its_cases() {
    new_build_and_check("python", "registration");
}

#[test]
fn a_javascript_project_builds_and_passes_its_cases() {
    new_build_and_check("javascript", "registration");
}

#[test]
fn new_refuses_a_folder_that_is_not_empty_and_a_name_that_cannot_name_a_rule() {
    let dir = std::env::temp_dir().join(format!("wasmhook-new-full-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("keep.txt"), "mine").unwrap();
    let full = Command::new(wasmhook())
        .args(["new", &dir.display().to_string(), "--lang", "rust"])
        .output()
        .unwrap();
    assert!(!full.status.success());
    assert!(String::from_utf8_lossy(&full.stderr).contains("is not empty"));
    assert_eq!(
        std::fs::read_to_string(dir.join("keep.txt")).unwrap(),
        "mine"
    );

    let bad = Command::new(wasmhook())
        .args(["new", "/tmp/My Rule", "--lang", "python"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("cannot name a rule"));
    std::fs::remove_dir_all(&dir).unwrap();
}
