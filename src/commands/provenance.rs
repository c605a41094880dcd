//! `partreel provenance check FILE...`: the watermark-preserved rule on local files, for export
//! presets and editors — a pre-publish gate.
//!
//! One line per file (verdict, manifest status, generator, file, reason) or, with `--json`, an
//! array of objects. The exit code is 0 only when every file passes the rule; 1 when any fails
//! it or cannot be checked; 2 when the policy itself is unusable. The policy is the `[provenance]`
//! table of `--config` (when given), then the flags: `--allow-generator` adds to its allow-list,
//! `--trust-anchors` and `--max-bytes` replace its values. The DAM's visible-watermark field does
//! not exist here, so watermark evidence must come from the manifest.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use partreel_core::provenance::{
    Checker, Evidence, ProvenancePolicy, Verdict, watermark_preserved,
};
use serde::Serialize;

use crate::cli::{ProvenanceCheckArgs, ProvenanceCommand};

/// Exit code when the policy (config, trust anchors) cannot be used.
const EXIT_POLICY: u8 = 2;

pub async fn run(cmd: ProvenanceCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ProvenanceCommand::Check(args) => check(args).await,
    }
}

/// One file's outcome, as printed.
#[derive(Debug, Serialize)]
struct FileReport {
    file: PathBuf,
    preserved: bool,
    /// `absent` / `invalid` / `valid` / `trusted`, or `error` when the file could not be checked.
    status: String,
    generator: Option<String>,
    reason: String,
    evidence: Option<Evidence>,
}

async fn check(args: ProvenanceCheckArgs) -> anyhow::Result<ExitCode> {
    let policy = match policy(&args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("partreel: {e:#}");
            return Ok(ExitCode::from(EXIT_POLICY));
        }
    };
    let checker = match Checker::new(&policy) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("partreel: {e}");
            return Ok(ExitCode::from(EXIT_POLICY));
        }
    };
    let files = args.files.clone();
    let reports = tokio::task::spawn_blocking(move || {
        files
            .iter()
            .map(|f| check_one(&checker, f))
            .collect::<Vec<_>>()
    })
    .await
    .context("provenance check task")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    } else {
        for r in &reports {
            println!(
                "{:<4}  {:<7}  {:<20}  {}  — {}",
                if r.preserved { "pass" } else { "FAIL" },
                r.status,
                r.generator.as_deref().unwrap_or("-"),
                r.file.display(),
                r.reason
            );
        }
    }
    Ok(if reports.iter().all(|r| r.preserved) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn check_one(checker: &Checker, file: &Path) -> FileReport {
    match checker.check(file) {
        Ok(ev) => {
            let Verdict { preserved, reason } = watermark_preserved(Some(&ev), None);
            FileReport {
                file: file.to_path_buf(),
                preserved,
                status: ev.manifest.as_str().to_string(),
                generator: ev.claim_generator.clone(),
                reason,
                evidence: Some(ev),
            }
        }
        Err(e) => FileReport {
            file: file.to_path_buf(),
            preserved: false,
            status: "error".into(),
            generator: None,
            reason: Verdict::from_error(&e).reason,
            evidence: None,
        },
    }
}

/// The `[provenance]` table of the config file (if any), then the flags.
fn policy(args: &ProvenanceCheckArgs) -> anyhow::Result<ProvenancePolicy> {
    let mut policy = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let table: toml::Table =
                toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
            match table.get("provenance") {
                Some(v) => v
                    .clone()
                    .try_into()
                    .with_context(|| format!("{}: [provenance]", path.display()))?,
                None => ProvenancePolicy::default(),
            }
        }
        None => ProvenancePolicy::default(),
    };
    policy
        .allow_generators
        .extend(args.allow_generator.iter().cloned());
    if let Some(path) = &args.trust_anchors {
        policy.trust_anchors_pem = None;
        policy.trust_anchors_file = Some(path.clone());
    }
    if let Some(max) = args.max_bytes {
        policy.max_file_bytes = max;
    }
    let problems = policy.validate();
    if !problems.is_empty() {
        anyhow::bail!("{}", problems.join("; "));
    }
    Ok(policy)
}
