//! `wasmhook new`: a self-contained rule project for one hook type in one language, outside this
//! repository.
//!
//! Everything a rule needs travels inside the binary, taken at compile time from the very files
//! this repository builds and tests its own rules with: the WIT package (`wit/`), the language's
//! helpers (`guest-sdk/`), the example rule of that hook (`rules/`) and the hook's documented
//! request (`tests/fixtures/okta/`). A scaffold therefore always matches the server that wrote
//! it, and nothing in it is a second copy to keep in step by hand. The only templates are the
//! files that exist nowhere else: the build script, the cases file, the README and the Rust
//! manifests (`host/src/scaffold/`).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::hooks::HookType;

/// The languages a scaffold can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Language {
    Rust,
    Python,
    Javascript,
}

impl Language {
    /// How the language is written in prose.
    pub fn name(self) -> &'static str {
        match self {
            Language::Rust => "Rust",
            Language::Python => "Python",
            Language::Javascript => "JavaScript",
        }
    }
}

/// Files shared by every hook type.
const WIT: &[(&str, &str)] = &[
    ("wit/types.wit", include_str!("../../wit/types.wit")),
    (
        "wit/registration.wit",
        include_str!("../../wit/registration.wit"),
    ),
    ("wit/token.wit", include_str!("../../wit/token.wit")),
    ("wit/saml.wit", include_str!("../../wit/saml.wit")),
    (
        "wit/password-import.wit",
        include_str!("../../wit/password-import.wit"),
    ),
    ("wit/telephony.wit", include_str!("../../wit/telephony.wit")),
    (
        "wit/user-import.wit",
        include_str!("../../wit/user-import.wit"),
    ),
    ("wit/event.wit", include_str!("../../wit/event.wit")),
    ("wit/settings.wit", include_str!("../../wit/settings.wit")),
    (
        "wit/http-client.wit",
        include_str!("../../wit/http-client.wit"),
    ),
];

const RUST_SDK: &[(&str, &str)] = &[
    ("sdk/src/lib.rs", include_str!("../../guest-sdk/src/lib.rs")),
    (
        "sdk/src/profile.rs",
        include_str!("../../guest-sdk/src/profile.rs"),
    ),
    (
        "sdk/src/registration.rs",
        include_str!("../../guest-sdk/src/registration.rs"),
    ),
    (
        "sdk/src/token.rs",
        include_str!("../../guest-sdk/src/token.rs"),
    ),
    (
        "sdk/src/saml.rs",
        include_str!("../../guest-sdk/src/saml.rs"),
    ),
    (
        "sdk/src/password_import.rs",
        include_str!("../../guest-sdk/src/password_import.rs"),
    ),
    (
        "sdk/src/telephony.rs",
        include_str!("../../guest-sdk/src/telephony.rs"),
    ),
    (
        "sdk/src/user_import.rs",
        include_str!("../../guest-sdk/src/user_import.rs"),
    ),
    (
        "sdk/src/event.rs",
        include_str!("../../guest-sdk/src/event.rs"),
    ),
    (
        "sdk/src/shared.rs",
        include_str!("../../guest-sdk/src/shared.rs"),
    ),
    (
        "sdk/src/http.rs",
        include_str!("../../guest-sdk/src/http.rs"),
    ),
    ("sdk/Cargo.toml", include_str!("scaffold/sdk-Cargo.toml.in")),
];

const PYTHON_SDK: &[(&str, &str)] = &[
    (
        "sdk/wasmhook_app.py",
        include_str!("../../guest-sdk/python/wasmhook_app.py"),
    ),
    (
        "sdk/wasmhook_sdk.py",
        include_str!("../../guest-sdk/python/wasmhook_sdk.py"),
    ),
    (
        "sdk/wasmhook_shared.py",
        include_str!("../../guest-sdk/python/wasmhook_shared.py"),
    ),
    (
        "sdk/wasmhook_token.py",
        include_str!("../../guest-sdk/python/wasmhook_token.py"),
    ),
    (
        "sdk/wasmhook_saml.py",
        include_str!("../../guest-sdk/python/wasmhook_saml.py"),
    ),
    (
        "sdk/wasmhook_password_import.py",
        include_str!("../../guest-sdk/python/wasmhook_password_import.py"),
    ),
    (
        "sdk/wasmhook_telephony.py",
        include_str!("../../guest-sdk/python/wasmhook_telephony.py"),
    ),
    (
        "sdk/wasmhook_user_import.py",
        include_str!("../../guest-sdk/python/wasmhook_user_import.py"),
    ),
    (
        "sdk/wasmhook_http.py",
        include_str!("../../guest-sdk/python/wasmhook_http.py"),
    ),
    (
        "sdk/wasmhook_event.py",
        include_str!("../../guest-sdk/python/wasmhook_event.py"),
    ),
    // Type stubs, for editors and type checkers; no rule imports them.
    (
        "sdk/wasmhook_sdk.pyi",
        include_str!("../../guest-sdk/python/wasmhook_sdk.pyi"),
    ),
    (
        "sdk/wasmhook_shared.pyi",
        include_str!("../../guest-sdk/python/wasmhook_shared.pyi"),
    ),
    (
        "sdk/wasmhook_token.pyi",
        include_str!("../../guest-sdk/python/wasmhook_token.pyi"),
    ),
    (
        "sdk/wasmhook_saml.pyi",
        include_str!("../../guest-sdk/python/wasmhook_saml.pyi"),
    ),
    (
        "sdk/wasmhook_telephony.pyi",
        include_str!("../../guest-sdk/python/wasmhook_telephony.pyi"),
    ),
    (
        "sdk/wasmhook_user_import.pyi",
        include_str!("../../guest-sdk/python/wasmhook_user_import.pyi"),
    ),
    (
        "sdk/wasmhook_http.pyi",
        include_str!("../../guest-sdk/python/wasmhook_http.pyi"),
    ),
    (
        "sdk/wasmhook_password_import.pyi",
        include_str!("../../guest-sdk/python/wasmhook_password_import.pyi"),
    ),
    (
        "sdk/wasmhook_event.pyi",
        include_str!("../../guest-sdk/python/wasmhook_event.pyi"),
    ),
];

const JAVASCRIPT_SDK: &[(&str, &str)] = &[
    (
        "sdk/wasmhook.js",
        include_str!("../../guest-sdk/javascript/wasmhook.js"),
    ),
    // Its type declarations, which editors and `tsc` read instead of wasmhook.js.
    (
        "sdk/wasmhook.d.ts",
        include_str!("../../guest-sdk/javascript/wasmhook.d.ts"),
    ),
    ("entry.js", include_str!("scaffold/entry.js")),
    // Error places are named relative to the project instead of the repository (see `files`).
    (
        "bundle.config.mjs",
        include_str!("../../rules/javascript/bundle.config.mjs"),
    ),
    (
        "package.json",
        include_str!("../../rules/javascript/package.json"),
    ),
    (
        "package-lock.json",
        include_str!("../../rules/javascript/package-lock.json"),
    ),
];

/// Per hook type: the example rule in each language, the request, the cases and the settings
/// the cases and the README use.
struct HookFiles {
    rust: &'static str,
    python: &'static str,
    javascript: &'static str,
    request: &'static str,
    cases: &'static str,
    settings_toml: &'static str,
    settings_json: &'static str,
    /// Route keys the README's config adds (the grant a rule that calls out needs).
    route_toml: &'static str,
}

fn hook_files(hook: HookType) -> HookFiles {
    match hook {
        HookType::Registration => HookFiles {
            rust: include_str!("../../rules/email-domain/src/lib.rs"),
            python: include_str!("../../rules/python/email-domain/app.py"),
            javascript: include_str!("../../rules/javascript/email-domain/rule.js"),
            request: include_str!("../../tests/fixtures/okta/registration-ssr-oie.json"),
            cases: include_str!("scaffold/cases-registration.toml"),
            settings_toml: r#"{ allowed_domains = ["example.com"] }"#,
            settings_json: r#"{"allowed_domains":["example.com"]}"#,
            route_toml: "",
        },
        HookType::Token => HookFiles {
            rust: include_str!("../../rules/token-claims/src/lib.rs"),
            python: include_str!("../../rules/python/token-claims/app.py"),
            javascript: include_str!("../../rules/javascript/token-claims/rule.js"),
            request: include_str!("../../tests/fixtures/okta/token-transform.json"),
            cases: include_str!("scaffold/cases-token.toml"),
            settings_toml: r#"{ access_claims = { tenant = "demo" } }"#,
            settings_json: r#"{"access_claims":{"tenant":"demo"}}"#,
            route_toml: "",
        },
        HookType::Saml => HookFiles {
            rust: include_str!("../../rules/saml-attributes/src/lib.rs"),
            python: include_str!("../../rules/python/saml-attributes/app.py"),
            javascript: include_str!("../../rules/javascript/saml-attributes/rule.js"),
            request: include_str!("../../tests/fixtures/okta/saml-transform.json"),
            cases: include_str!("scaffold/cases-saml.toml"),
            settings_toml: r#"{ attributes = { department = "Engineering" } }"#,
            settings_json: r#"{"attributes":{"department":"Engineering"}}"#,
            route_toml: "",
        },
        HookType::PasswordImport => HookFiles {
            rust: include_str!("../../rules/password-legacy-store/src/lib.rs"),
            python: include_str!("../../rules/python/password-legacy-store/app.py"),
            javascript: include_str!("../../rules/javascript/password-legacy-store/rule.js"),
            request: include_str!("../../tests/fixtures/okta/password-import.json"),
            cases: include_str!("scaffold/cases-password-import.toml"),
            settings_toml: r#"{ verify_url = "https://legacy.example.com/v1/verify" }"#,
            settings_json: r#"{"verify_url":"https://legacy.example.com/v1/verify"}"#,
            route_toml: "\nallowed_outbound_hosts = [\"https://legacy.example.com\"]   # the store the rule asks",
        },
        HookType::Telephony => HookFiles {
            rust: include_str!("../../rules/telephony-sms-provider/src/lib.rs"),
            python: include_str!("../../rules/python/telephony-sms-provider/app.py"),
            javascript: include_str!("../../rules/javascript/telephony-sms-provider/rule.js"),
            request: include_str!("../../tests/fixtures/okta/telephony.json"),
            cases: include_str!("scaffold/cases-telephony.toml"),
            settings_toml: r#"{ send_url = "https://sms.example.net/v1/messages", provider = "EXAMPLE" }"#,
            settings_json: r#"{"send_url":"https://sms.example.net/v1/messages","provider":"EXAMPLE"}"#,
            route_toml: "\nallowed_outbound_hosts = [\"https://sms.example.net\"]   # the provider the rule calls\n\
                 outbound_credentials = [{ host = \"https://sms.example.net\", header = \"authorization\", \
                 prefix = \"Bearer \", from_env = \"SMS_API_KEY\" }]",
        },
        HookType::UserImport => HookFiles {
            rust: include_str!("../../rules/user-import-normalise/src/lib.rs"),
            python: include_str!("../../rules/python/user-import-normalise/app.py"),
            javascript: include_str!("../../rules/javascript/user-import-normalise/rule.js"),
            request: include_str!("../../tests/fixtures/okta/user-import.json"),
            cases: include_str!("scaffold/cases-user-import.toml"),
            settings_toml: r#"{ normalise = ["login", "email"] }"#,
            settings_json: r#"{"normalise":["login","email"]}"#,
            route_toml: "",
        },
        HookType::Event => {
            unreachable!("`wasmhook new` offers the inline hooks (HookType::INLINE)")
        }
    }
}

/// The files of a new project named `name`, as (relative path, contents, executable).
pub fn files(name: &str, language: Language, hook: HookType) -> Vec<(String, String, bool)> {
    let world = format!("{}-rule", hook.name());
    let crate_name = name.replace('-', "_");
    let fill = |template: &str| {
        template
            .replace("{{name}}", name)
            .replace("{{crate}}", &crate_name)
            .replace("{{world}}", &world)
            .replace("{{hook}}", hook.name())
            .replace("{{hook_export}}", &export_name(hook))
            .replace("{{event_type}}", hook.event_type())
            .replace("{{language}}", language.name())
    };
    let example = hook_files(hook);
    let mut files: Vec<(String, String, bool)> = WIT
        .iter()
        .map(|(path, text)| (path.to_string(), text.to_string(), false))
        .collect();
    let (source, needs) = match language {
        Language::Rust => {
            files.extend(
                RUST_SDK
                    .iter()
                    .map(|(path, text)| (path.to_string(), text.to_string(), false)),
            );
            let manifest = fill(include_str!("scaffold/Cargo.toml.in"));
            files.push(("Cargo.toml".into(), manifest, false));
            let rule = without_repository_notes(example.rust);
            files.push(("src/lib.rs".into(), rule, false));
            files.push((
                "build.sh".into(),
                fill(include_str!("scaffold/build-rust.sh")),
                true,
            ));
            let needs =
                "Needs Rust with the `wasm32-wasip2` target (`rustup target add wasm32-wasip2`).";
            ("src/lib.rs", needs)
        }
        Language::Python => {
            files.extend(
                PYTHON_SDK
                    .iter()
                    .map(|(path, text)| (path.to_string(), text.to_string(), false)),
            );
            files.push((
                "app.py".into(),
                without_repository_notes(example.python),
                false,
            ));
            files.push((
                "build.sh".into(),
                fill(include_str!("scaffold/build-python.sh")),
                true,
            ));
            let needs = "Needs `componentize-py` (`pip install componentize-py==0.25.1`).";
            ("app.py", needs)
        }
        Language::Javascript => {
            let package = |text: &str| {
                text.replace("wasmhook-javascript-rules", name)
                    .replace(
                        "new URL('../..', import.meta.url)",
                        "new URL('.', import.meta.url)",
                    )
                    .replace("{{hook_export}}", &export_name(hook))
            };
            files.extend(
                JAVASCRIPT_SDK
                    .iter()
                    .map(|(path, text)| (path.to_string(), package(text), false)),
            );
            let rule = without_repository_notes(example.javascript).replace(
                "'../../../guest-sdk/javascript/wasmhook.js'",
                "'./sdk/wasmhook.js'",
            );
            files.push(("rule.js".into(), rule, false));
            files.push((
                "build.sh".into(),
                fill(include_str!("scaffold/build-javascript.sh")),
                true,
            ));
            let needs = "Needs Node.js and npm (the first build installs jco, pinned in `package-lock.json`).";
            ("rule.js", needs)
        }
    };
    files.push((
        format!("requests/{}.json", hook.name()),
        example.request.into(),
        false,
    ));
    files.push(("cases.toml".into(), fill(example.cases), false));
    let readme = fill(include_str!("scaffold/README.md.in"))
        .replace("{{source}}", source)
        .replace("{{needs}}", needs)
        .replace("{{settings_toml}}", example.settings_toml)
        .replace("{{settings_json}}", example.settings_json)
        .replace("{{route_toml}}", example.route_toml);
    files.push(("README.md".into(), readme, false));
    files
}

/// What JavaScript calls the hook's export: jco's lower camel case of the interface name
/// (`password-import` → `passwordImport`).
fn export_name(hook: HookType) -> String {
    let mut words = hook.name().split('-');
    let first = words.next().unwrap_or_default().to_owned();
    words.fold(first, |name, word| {
        let mut chars = word.chars();
        let capital = chars.next().map(|c| c.to_ascii_uppercase());
        format!(
            "{name}{}{}",
            capital.into_iter().collect::<String>(),
            chars.as_str()
        )
    })
}

/// The example rules say where their twins in other languages live in this repository ("The
/// same rule and decisions as rules/… (Rust)."); a project of its own has no such folders.
fn without_repository_notes(source: &str) -> String {
    const NOTE: &str = "The same rule and";
    const END: &str = "(Rust).";
    let Some(start) = source.find(NOTE) else {
        return source.to_owned();
    };
    let end = source[start..]
        .find(END)
        .map_or(source.len(), |at| start + at + END.len());
    format!(
        "{}{}",
        source[..start].trim_end_matches(' '),
        &source[end..]
    )
}

/// Writes a new project into `dir`, which must not exist or be empty. Returns the files written.
pub fn write(dir: &Path, language: Language, hook: HookType) -> anyhow::Result<Vec<PathBuf>> {
    if dir
        .read_dir()
        .is_ok_and(|mut entries| entries.next().is_some())
    {
        bail!(
            "{} is not empty; `wasmhook new` writes into a new folder",
            dir.display()
        );
    }
    let name = project_name(dir)?;
    let mut written = Vec::new();
    for (path, contents, executable) in files(&name, language, hook) {
        let file = dir.join(&path);
        let folder = file.parent().expect("every file is inside the project");
        std::fs::create_dir_all(folder)
            .with_context(|| format!("cannot create {}", folder.display()))?;
        std::fs::write(&file, contents)
            .with_context(|| format!("cannot write {}", file.display()))?;
        #[cfg(unix)]
        if executable {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755))?;
        }
        written.push(file);
    }
    Ok(written)
}

/// The project's name: its folder's name, which must make a valid crate and file name.
fn project_name(dir: &Path) -> anyhow::Result<String> {
    let name = dir
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or_default();
    let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !valid {
        bail!(
            "`{name}` cannot name a rule: use lower-case letters, digits, `-` and `_`, starting with a letter"
        );
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_project_has_its_wit_helpers_rule_request_cases_and_build_script() {
        for language in [Language::Rust, Language::Python, Language::Javascript] {
            for hook in HookType::INLINE {
                let files = files("my-rule", language, hook);
                let names: Vec<&str> = files.iter().map(|(path, _, _)| path.as_str()).collect();
                for expected in ["wit/types.wit", "build.sh", "cases.toml", "README.md"] {
                    assert!(names.contains(&expected), "{language:?} {hook}: {names:?}");
                }
                for (path, text, _) in &files {
                    for placeholder in [
                        "{{name}}",
                        "{{crate}}",
                        "{{world}}",
                        "{{hook}}",
                        "{{hook_export}}",
                        "{{needs}}",
                        "{{settings_toml}}",
                        "{{route_toml}}",
                    ] {
                        assert!(
                            !text.contains(placeholder),
                            "{path}: {placeholder} unfilled"
                        );
                    }
                    assert!(!text.contains("../guest-sdk"), "{path}: a repository path");
                    if ["src/lib.rs", "app.py", "rule.js"].contains(&path.as_str()) {
                        assert!(!text.contains("rules/"), "{path}: a repository note");
                    }
                    assert!(!text.contains("'../..'"), "{path}: a repository path");
                }
            }
        }
    }

    #[test]
    fn every_helper_file_travels_with_its_language() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for (folder, extension, shipped) in [
            ("guest-sdk/src", "rs", RUST_SDK),
            ("guest-sdk/python", "py", PYTHON_SDK),
            ("guest-sdk/javascript", "js", JAVASCRIPT_SDK),
            ("wit", "wit", WIT),
        ] {
            for entry in std::fs::read_dir(root.join(folder)).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == extension) {
                    let name = path.file_name().unwrap().to_str().unwrap();
                    assert!(
                        shipped
                            .iter()
                            .any(|(file, _)| file.ends_with(&format!("/{name}"))),
                        "{folder}/{name} is not in the scaffold"
                    );
                }
            }
        }
    }

    #[test]
    fn a_project_name_must_make_a_crate_and_file_name() {
        assert!(project_name(Path::new("/tmp/email-domain")).is_ok());
        for bad in ["Email", "1rule", "my rule", "r\u{e9}gle"] {
            assert!(project_name(&Path::new("/tmp").join(bad)).is_err(), "{bad}");
        }
    }
}
