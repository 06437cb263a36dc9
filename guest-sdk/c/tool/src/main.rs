//! `wasmhook-c`: the two steps of building a wasmhook rule written in C that a C compiler can't do.
//!
//! ```text
//! wasmhook-c bindings --wit <dir> --world <world> --out <dir>
//! wasmhook-c component --module <core.wasm> --out <component.wasm>
//! ```
//!
//! `bindings` writes what `wit-bindgen c` would (`<world>.h`, `<world>.c` and
//! `<world>_component_type.o`, the object that carries the WIT world into the core module), and
//! `component` does what `wasm-tools component new` would, adding the WASI preview1 reactor adapter
//! only when the module needs it. Both are thin wrappers over the same library crates those
//! command-line tools use, so nothing here has to be `cargo install`ed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use wasi_preview1_component_adapter_provider::{
    WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
};
use wit_bindgen_core::Files;
use wit_component::ComponentEncoder;
use wit_parser::Resolve;

const USAGE: &str = "\
usage: wasmhook-c bindings --wit <dir> --world <world> --out <dir>
       wasmhook-c component --module <core.wasm> --out <component.wasm>";

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wasmhook-c: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Vec<String>) -> Result<()> {
    let Some((command, options)) = args.split_first() else {
        bail!("{USAGE}");
    };
    match command.as_str() {
        "bindings" => {
            let [wit, world, out] = options_of(options, ["--wit", "--world", "--out"])?;
            bindings(Path::new(&wit), &world, Path::new(&out))
        }
        "component" => {
            let [module, out] = options_of(options, ["--module", "--out"])?;
            component(Path::new(&module), Path::new(&out))
        }
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown command `{other}`\n{USAGE}"),
    }
}

/// The values of `names`, each given exactly once as `--name value`, in the order of `names`.
/// Anything else is an error: a build script should fail loudly on a typo.
fn options_of<const N: usize>(args: &[String], names: [&str; N]) -> Result<[String; N]> {
    let mut values: [Option<String>; N] = std::array::from_fn(|_| None);
    let mut args = args.iter();
    while let Some(name) = args.next() {
        let Some(i) = names.iter().position(|n| n == name) else {
            bail!("unexpected argument `{name}`\n{USAGE}");
        };
        let value = args
            .next()
            .with_context(|| format!("{name} needs a value"))?;
        if values[i].replace(value.clone()).is_some() {
            bail!("{name} given twice");
        }
    }
    let mut missing = names.iter().zip(&values).filter(|(_, v)| v.is_none());
    if let Some((name, _)) = missing.next() {
        bail!("{name} is required\n{USAGE}");
    }
    Ok(values.map(|v| v.expect("checked above")))
}

/// Generates the C bindings of `world` from the WIT package in `wit` into `out`.
fn bindings(wit: &Path, world: &str, out: &Path) -> Result<()> {
    let mut resolve = Resolve::default();
    let (package, _) = resolve
        .push_path(wit)
        .with_context(|| format!("reading WIT from {}", wit.display()))?;
    let world = resolve.select_world(&[package], Some(world))?;
    let mut files = Files::default();
    // Default options, as `wit-bindgen c` uses them: UTF-8 strings, the component-type object
    // file, and the allocation helpers (`cabi_realloc` and the `*_free` functions).
    wit_bindgen_c::Opts::default()
        .build()
        .generate(&mut resolve, world, &mut files)?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    for (name, contents) in files.iter() {
        let path = out.join(name);
        std::fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Wraps the core module at `module` (compiled with the bindings' component-type object linked
/// in) into a validated component at `out`.
fn component(module: &Path, out: &Path) -> Result<()> {
    let bytes = std::fs::read(module).with_context(|| format!("reading {}", module.display()))?;
    let mut encoder = ComponentEncoder::default();
    encoder.validate(true).module(&bytes)?;
    // The adapter turns preview1 calls (what wasi-libc makes for stdio, clocks, exit…) into
    // WASI 0.2 imports. A rule that makes none doesn't need it, and leaving it out keeps the
    // component small and its imports down to the world's own (`log`).
    if imports_module(&bytes, WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME)? {
        encoder.adapter(
            WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME,
            WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
        )?;
    }
    let component = encoder
        .encode()
        .with_context(|| format!("making a component of {}", module.display()))?;
    write_new(out, &component)
}

/// Whether the core module `wasm` imports anything from the module named `name`.
fn imports_module(wasm: &[u8], name: &str) -> Result<bool> {
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let wasmparser::Payload::ImportSection(imports) = payload? {
            for import in imports.into_imports() {
                if import?.module == name {
                    return Ok(true);
                }
            }
        }
    }
    Ok(false)
}

/// Writes `bytes` to `path` through a temporary file and a rename, so that a server watching the
/// file never loads half a component.
fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut partial = PathBuf::from(path);
    partial.as_mut_os_string().push(".partial");
    std::fs::write(&partial, bytes).with_context(|| format!("writing {}", partial.display()))?;
    std::fs::rename(&partial, path).with_context(|| format!("writing {}", path.display()))
}
