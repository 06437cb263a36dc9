//! `wasmhook new`: write a rule project for one hook type in one language (see
//! [`crate::scaffold`]).

use std::path::PathBuf;

use anyhow::Context;

use crate::hooks::HookType;
use crate::scaffold::{self, Language};

#[derive(Debug, clap::Args)]
pub struct NewArgs {
    /// The project's folder (new or empty); its name names the rule.
    pub dir: PathBuf,
    /// The rule's language.
    #[arg(long, value_enum)]
    pub lang: Language,
    /// The Okta hook the rule answers.
    #[arg(long, default_value = "registration", value_parser = hook_names())]
    pub hook: String,
}

fn hook_names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(HookType::INLINE.map(HookType::name))
}

pub fn new(args: NewArgs) -> anyhow::Result<()> {
    let hook = HookType::INLINE
        .into_iter()
        .find(|hook| hook.name() == args.hook)
        .context("clap accepts only hook names")?;
    let written = scaffold::write(&args.dir, args.lang, hook)?;
    println!(
        "{}: a {} rule for the {hook} hook ({} files)",
        args.dir.display(),
        args.lang.name(),
        written.len()
    );
    println!(
        "next: cd {} && ./build.sh   (builds the rule and runs cases.toml; see README.md)",
        args.dir.display()
    );
    Ok(())
}
