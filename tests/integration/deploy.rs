//! The Kubernetes manifests in `deploy/kubernetes/` (schema-validated by `make deploy-check`):
//! the config their ConfigMap carries is one the server accepts, on the ports the Deployment
//! exposes, and the kustomization lists every manifest.

use std::process::Command;

use crate::common::{built_rules, repo_root, text, write_config};

fn manifest(name: &str) -> String {
    std::fs::read_to_string(repo_root().join("deploy/kubernetes").join(name)).unwrap()
}

/// The `config.toml: |` block of the ConfigMap, unindented.
fn configmap_config() -> String {
    let configmap = manifest("configmap.yaml");
    let block = configmap
        .split_once("config.toml: |\n")
        .expect("the ConfigMap holds config.toml")
        .1;
    block
        .lines()
        .take_while(|line| line.is_empty() || line.starts_with("    "))
        .map(|line| line.strip_prefix("    ").unwrap_or(line))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_configmap_holds_a_config_the_server_accepts_on_the_deployments_ports() {
    let config = configmap_config();
    assert!(
        config.contains("[tls]") && config.contains("admin_listen"),
        "{config}"
    );
    // The image's rules folder, here: where the rules are built.
    let local = config.replace(
        "/opt/wasmhook/rules/",
        &format!("{}/", built_rules().display()),
    );
    let file = write_config(&local);
    let output = Command::new(env!("CARGO_BIN_EXE_wasmhook"))
        .args(["check", "--config", &file.display().to_string()])
        .env("DEMO_HOOK_SECRET", "Basic c2VjcmV0OnZhbHVl")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    let deployment = manifest("deployment.yaml");
    for (key, port) in [("listen", "8443"), ("admin_listen", "9090")] {
        assert!(
            config.contains(&format!("{key} = \"0.0.0.0:{port}\"")),
            "{key}"
        );
        assert!(
            deployment.contains(&format!("containerPort: {port}")),
            "{port}"
        );
    }
    assert!(deployment.contains("/etc/wasmhook/config/config.toml"));
}

#[test]
fn the_kustomization_lists_every_manifest() {
    let kustomization = manifest("kustomization.yaml");
    let folder = repo_root().join("deploy/kubernetes");
    for entry in std::fs::read_dir(folder).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".yaml") && name != "kustomization.yaml" {
            assert!(
                kustomization.contains(&format!("- {name}")),
                "{name} is not listed"
            );
        }
    }
}
