//! `wasmhook push <rule.wasm> <oci://…>`: publish a rule as a wasm OCI artifact (see
//! [`crate::registry`]). The file is loaded as the server would load it first, so that what is
//! published is a rule, and its hook is recorded on the manifest. Prints the reference pinned to
//! the pushed digest, the form a config should use.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;

use crate::registry::{Registry, RuleReference};
use crate::runtime::Runtime;

#[derive(Debug, clap::Args)]
pub struct PushArgs {
    /// The rule component (.wasm).
    pub rule: PathBuf,
    /// Where to publish it: `oci://registry.example.com/team/rule:tag`.
    pub reference: String,
}

/// The manifest annotation that names the rule's hook.
pub const HOOK_ANNOTATION: &str = "dev.wasmhook.hook";

pub async fn push(args: PushArgs) -> anyhow::Result<()> {
    let reference: RuleReference = args.reference.parse().map_err(anyhow::Error::msg)?;
    let cache = crate::config::default_cache_dir();
    let rule = Runtime::new(cache.as_deref())?
        .load(&args.rule, u64::MAX)
        .with_context(|| format!("{} is not a rule wasmhook can load", args.rule.display()))?;
    let wasm = std::fs::read(&args.rule)
        .with_context(|| format!("cannot read {}", args.rule.display()))?;
    let size = wasm.len();
    let title = args.rule.file_name().unwrap_or_default().to_string_lossy();
    let annotations = BTreeMap::from([
        (
            "org.opencontainers.image.title".to_owned(),
            title.into_owned(),
        ),
        (HOOK_ANNOTATION.to_owned(), rule.hook.name().to_owned()),
    ]);
    let digest = Registry::new(cache.as_deref())
        .push(&reference, wasm, annotations)
        .await?;
    eprintln!(
        "pushed the {} rule {} ({size} bytes) to {reference}",
        rule.hook,
        args.rule.display()
    );
    println!("{}", reference.pinned(&digest));
    Ok(())
}
