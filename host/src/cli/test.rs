//! `wasmhook test`: a rule against a table of cases (`--cases`), or two rules against each other
//! over a folder of captured requests (`--against`, before swapping a shadow rule in).
//!
//! Each case runs in a fresh instance through [`crate::hook::preview`], exactly as `eval` and the
//! server run a call, and gets one line: `ok`, or `FAIL` and what differed. The exit status is
//! non-zero when any case fails, so the command fits a build script or CI; `--junit` also writes
//! a JUnit XML report, which CI systems display.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;

use crate::cases::{CaseFile, Observed, differences};
use crate::hook::{NotPreviewed, preview};
use crate::runtime::outbound::Grant;
use crate::runtime::{CompiledRule, Limits, Runtime};

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["cases", "against"]))]
pub struct TestArgs {
    /// The rule component (.wasm); defaults to the cases file's `rule`.
    #[arg(long)]
    rule: Option<PathBuf>,
    /// The cases file (TOML, or JSON when it ends in `.json`).
    #[arg(long)]
    cases: Option<PathBuf>,
    /// Also write a JUnit XML report of the cases here.
    #[arg(long, requires = "cases")]
    junit: Option<PathBuf>,
    /// Compare `--rule` with this rule over every request (`*.json`) in `--requests`.
    #[arg(long, requires_all = ["rule", "requests"])]
    against: Option<PathBuf>,
    /// The folder of captured requests for `--against`.
    #[arg(long, requires = "against")]
    requests: Option<PathBuf>,
    /// The settings both rules get with `--against`: inline JSON, or `@file`.
    #[arg(long, requires = "against")]
    settings: Option<String>,
}

pub async fn test(args: TestArgs) -> anyhow::Result<()> {
    let runtime = Runtime::new(crate::config::default_cache_dir().as_deref())?.with_precise_fuel();
    let load = |path: &Path| {
        runtime
            .load(path, Limits::default().max_module_bytes)
            .map_err(anyhow::Error::from)
    };
    if let Some(other) = &args.against {
        let rule = args.rule.as_deref().expect("clap requires --rule");
        let folder = args.requests.as_deref().expect("clap requires --requests");
        let settings = super::eval::read_settings(args.settings.as_deref())?;
        return compare(
            &runtime,
            [(rule, load(rule)?), (other, load(other)?)],
            folder,
            &settings,
        )
        .await;
    }
    let file = args
        .cases
        .as_deref()
        .expect("clap requires --cases or --against");
    let cases = CaseFile::load(file)?;
    let rule_path = args.rule.or(cases.rule).with_context(|| {
        format!(
            "no rule: give --rule, or `rule = \"…\"` in {}",
            file.display()
        )
    })?;
    let rule = load(&rule_path)?;
    let mut results = Vec::new();
    for case in &cases.cases {
        let (observed, took) =
            run(&runtime, &rule, &case.request, &case.settings, &case.limits).await;
        let problems = case.expect.check(&observed);
        let took_ms = took.as_secs_f64() * 1e3;
        if problems.is_empty() {
            println!("ok    {} ({took_ms:.2} ms)", case.name);
        } else {
            println!("FAIL  {} ({took_ms:.2} ms)", case.name);
            for problem in &problems {
                println!("        {problem}");
            }
        }
        results.push((case.name.as_str(), took, problems));
    }
    let failed = results.iter().filter(|(_, _, p)| !p.is_empty()).count();
    println!(
        "{}: {} passed, {failed} failed ({})",
        file.display(),
        results.len() - failed,
        rule_path.display()
    );
    if let Some(report) = &args.junit {
        std::fs::write(report, junit(file, &results))
            .with_context(|| format!("cannot write the JUnit report {}", report.display()))?;
    }
    if failed > 0 {
        bail!("{failed} of {} cases failed", results.len());
    }
    Ok(())
}

/// Runs `rule` on one request as the server would (its settings checked first, as loading the
/// route checks them): what came of it, and how long it took.
async fn run(
    runtime: &Runtime,
    rule: &CompiledRule,
    request: &[u8],
    settings: &str,
    limits: &Limits,
) -> (Observed, Duration) {
    let started = Instant::now();
    // As loading a route would: settings the rule refuses never reach `evaluate`.
    if let Err(refused) = runtime.validate_settings(rule, settings, limits).await {
        let observed = Observed::Failure {
            kind: refused.kind(),
            message: refused.to_string(),
        };
        return (observed, started.elapsed());
    }
    // Cases run offline: a rule's outbound requests are refused, as on a route without a grant.
    let no_grant = Arc::new(Grant::default());
    let observed = match preview(runtime, rule, request, (settings, limits, &no_grant)).await {
        Ok((outcome, _usage)) => outcome.into(),
        Err(not_previewed) => Observed::Failure {
            kind: match not_previewed {
                NotPreviewed::Unrouted(_) => "unrouted",
                NotPreviewed::NotACall(_) | NotPreviewed::OtherHook { .. } => "not_a_call",
            },
            message: not_previewed.to_string(),
        },
    };
    (observed, started.elapsed())
}

/// Runs both rules on every request in `folder` and reports each request they answer differently.
async fn compare(
    runtime: &Runtime,
    [(path, rule), (other_path, other)]: [(&Path, std::sync::Arc<CompiledRule>); 2],
    folder: &Path,
    settings: &str,
) -> anyhow::Result<()> {
    if rule.hook != other.hook {
        bail!(
            "{} is a {} rule and {} a {} rule: only rules of one hook type compare",
            path.display(),
            rule.hook,
            other_path.display(),
            other.hook
        );
    }
    let mut requests: Vec<PathBuf> = std::fs::read_dir(folder)
        .with_context(|| format!("cannot read the folder {}", folder.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    requests.sort();
    if requests.is_empty() {
        bail!("{} holds no captured requests (*.json)", folder.display());
    }
    let limits = Limits::default();
    let mut differing = 0;
    for request in &requests {
        let body = std::fs::read(request)
            .with_context(|| format!("cannot read the request {}", request.display()))?;
        let (a, _) = run(runtime, &rule, &body, settings, &limits).await;
        let (b, _) = run(runtime, &other, &body, settings, &limits).await;
        let name = request.file_name().unwrap_or_default().to_string_lossy();
        let diverging = divergence(&a, &b);
        if diverging.is_empty() {
            println!("same  {name} ({})", summary(&a));
        } else {
            differing += 1;
            println!("DIFF  {name}: {} vs {}", summary(&a), summary(&b));
            for line in diverging {
                println!("        {line}");
            }
        }
    }
    println!(
        "{} requests: {} answered alike, {differing} differently ({} vs {})",
        requests.len(),
        requests.len() - differing,
        path.display(),
        other_path.display()
    );
    if differing > 0 {
        bail!(
            "the rules answer {differing} of {} requests differently",
            requests.len()
        );
    }
    Ok(())
}

/// Where `b` differs from `a`: the body paths, or the decisions when they are not both bodies.
fn divergence(a: &Observed, b: &Observed) -> Vec<String> {
    match (a, b) {
        (Observed::Failure { kind: x, .. }, Observed::Failure { kind: y, .. }) if x == y => vec![],
        (Observed::Answer(x), Observed::Answer(y)) if x.label() == y.label() => {
            let (x, y) = (a.body().unwrap_or_default(), b.body().unwrap_or_default());
            differences(&x, &y)
                .iter()
                .map(|d| format!("body{d}"))
                .collect()
        }
        _ => vec![format!("{} vs {}", summary(a), summary(b))],
    }
}

fn summary(observed: &Observed) -> String {
    match observed {
        Observed::Answer(answer) => answer.label().to_owned(),
        Observed::Failure { kind, message } => format!("failure ({kind}: {message})"),
    }
}

/// A JUnit XML report: one suite (the cases file), one test case per case.
fn junit(file: &Path, results: &[(&str, Duration, Vec<String>)]) -> String {
    let failed = results.iter().filter(|(_, _, p)| !p.is_empty()).count();
    let total: Duration = results.iter().map(|(_, took, _)| *took).sum();
    let suite = xml_escape(&file.display().to_string());
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites tests=\"{}\" failures=\"{failed}\" time=\"{:.6}\">",
        results.len(),
        total.as_secs_f64()
    );
    let _ = writeln!(
        xml,
        "  <testsuite name=\"{suite}\" tests=\"{}\" failures=\"{failed}\" time=\"{:.6}\">",
        results.len(),
        total.as_secs_f64()
    );
    for (name, took, problems) in results {
        let _ = write!(
            xml,
            "    <testcase classname=\"{suite}\" name=\"{}\" time=\"{:.6}\"",
            xml_escape(name),
            took.as_secs_f64()
        );
        if problems.is_empty() {
            xml.push_str("/>\n");
        } else {
            let _ = writeln!(
                xml,
                ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                xml_escape(&problems[0]),
                xml_escape(&problems.join("\n"))
            );
        }
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

/// `text` as XML character data or attribute value. Characters XML 1.0 cannot carry at all (most
/// control characters) become U+FFFD.
fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_junit_report_counts_failures_and_escapes_names_and_messages() {
        let results = [
            ("passes", Duration::from_millis(1), vec![]),
            (
                "<fails> & \"quotes\"\u{1}",
                Duration::from_millis(2),
                vec!["status: expected 204, got 200".to_string(), "b".to_string()],
            ),
        ];
        let xml = junit(Path::new("cases.toml"), &results);
        assert!(
            xml.contains("<testsuites tests=\"2\" failures=\"1\" time=\"0.003000\">"),
            "{xml}"
        );
        assert!(
            xml.contains("<testcase classname=\"cases.toml\" name=\"passes\" time=\"0.001000\"/>"),
            "{xml}"
        );
        assert!(
            xml.contains("name=\"&lt;fails&gt; &amp; &quot;quotes&quot;\u{fffd}\""),
            "{xml}"
        );
        assert!(xml.contains("<failure message=\"status: expected 204, got 200\">status: expected 204, got 200\nb</failure>"), "{xml}");
    }
}
