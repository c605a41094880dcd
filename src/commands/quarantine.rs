//! `partreel quarantine list | show ID | retry [ID | --all]`: the records a run set aside.
//!
//! An ID is `SYSTEM/RECORD` (the record part may itself hold `/`, e.g. a part's
//! `NUMBER/REV`). Retrying a clip queues it for every job of its DAM (one work item per PLM
//! paired with that DAM) and releases it, so the next run plans it again; if it is still
//! wrong, that run quarantines it again with the current reason. A part or link record, or a
//! clip the state never stored (it was rejected as it was read), is released and read again
//! when it next changes, or by the next full listing (`partreel sync --full-scan`).

use std::process::ExitCode;

use anyhow::bail;
use partreel_core::state::{QuarantineEntry, RecordKind, StateStore, WorkItem};
use serde_json::json;

use crate::cli::{QuarantineCommand, StateArgs};
use crate::config::{self, Loaded, Side};
use crate::wiring;

pub async fn run(cmd: QuarantineCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        QuarantineCommand::List(args) => list(&args).await,
        QuarantineCommand::Show { id, state } => show(&state, &id).await,
        QuarantineCommand::Retry { id, all, state } => retry(&state, id.as_deref(), all).await,
    }
}

fn open(args: &StateArgs) -> anyhow::Result<(Loaded, std::sync::Arc<dyn StateStore>)> {
    let cfg = config::load(&args.config)?;
    let store = wiring::store(&cfg)?;
    Ok((cfg, store))
}

/// `SYSTEM/RECORD` of an entry.
fn entry_id(e: &QuarantineEntry) -> String {
    format!("{}/{}", e.system, e.record_id)
}

async fn find(store: &dyn StateStore, id: &str) -> anyhow::Result<QuarantineEntry> {
    let Some((system, record)) = id.split_once('/') else {
        bail!("{id:?}: a quarantine id is SYSTEM/RECORD, as `partreel quarantine list` prints it");
    };
    let all = store.quarantine_list().await?;
    match all
        .into_iter()
        .find(|e| e.system == system && e.record_id == record)
    {
        Some(e) => Ok(e),
        None => bail!("{id}: not in quarantine (see `partreel quarantine list`)"),
    }
}

async fn list(args: &StateArgs) -> anyhow::Result<ExitCode> {
    let (_, store) = open(args)?;
    let entries = store.quarantine_list().await?;
    if args.json {
        let out: Vec<serde_json::Value> = entries
            .iter()
            .map(|e| {
                let mut v = serde_json::to_value(e).unwrap_or_default();
                if let Some(o) = v.as_object_mut() {
                    o.insert("id".into(), json!(entry_id(e)));
                }
                v
            })
            .collect();
        println!("{}", serde_json::to_string(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    if entries.is_empty() {
        println!("quarantine is empty");
        return Ok(ExitCode::SUCCESS);
    }
    println!("{} record(s) in quarantine:", entries.len());
    for e in &entries {
        println!(
            "  {}  [{}] {} attempt(s), last {} (run {})\n      {}",
            entry_id(e),
            e.kind,
            e.attempts,
            e.last_seen.format("%Y-%m-%d %H:%M:%SZ"),
            e.run_id,
            e.reason
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn show(args: &StateArgs, id: &str) -> anyhow::Result<ExitCode> {
    let (_, store) = open(args)?;
    let e = find(store.as_ref(), id).await?;
    let asset = if e.kind == RecordKind::Asset.as_str() {
        store.asset(&e.system, &e.record_id).await?
    } else {
        None
    };
    let links = if e.kind == RecordKind::Asset.as_str() {
        store.links_for_asset(&e.system, &e.record_id).await?
    } else {
        Vec::new()
    };
    if args.json {
        let mut v = serde_json::to_value(&e)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("id".into(), json!(entry_id(&e)));
            o.insert("asset".into(), serde_json::to_value(&asset)?);
            o.insert("links".into(), serde_json::to_value(&links)?);
        }
        println!("{}", serde_json::to_string(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("{}", entry_id(&e));
    println!("  kind         {}", e.kind);
    println!("  reason       {}", e.reason);
    println!(
        "  attempts     {} (first {}, last {}, run {})",
        e.attempts,
        e.first_seen.format("%Y-%m-%d %H:%M:%SZ"),
        e.last_seen.format("%Y-%m-%d %H:%M:%SZ"),
        e.run_id
    );
    match &asset {
        Some(a) => {
            println!("  clip         {:?} (modified {})", a.title, a.modified);
            for (k, v) in &a.values {
                println!("    {k} = {v:?}");
            }
        }
        None if e.kind == RecordKind::Asset.as_str() => {
            println!("  clip         not stored (rejected as it was read)")
        }
        None => {}
    }
    if !links.is_empty() {
        println!("  links");
        for l in &links {
            println!(
                "    {} {}/{} {}",
                l.link_id.0,
                l.part_number,
                l.part_revision,
                l.status.as_str()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn retry(args: &StateArgs, id: Option<&str>, all: bool) -> anyhow::Result<ExitCode> {
    let (cfg, store) = open(args)?;
    let entries = match (id, all) {
        (_, true) => store.quarantine_list().await?,
        (Some(id), false) => vec![find(store.as_ref(), id).await?],
        (None, false) => bail!("say which record to retry (SYSTEM/RECORD), or --all"),
    };
    let mut results = Vec::new();
    for e in &entries {
        let outcome = retry_one(&cfg, store.as_ref(), e).await?;
        results.push(json!({ "id": entry_id(e), "kind": e.kind, "outcome": outcome }));
        if !args.json {
            println!("{}: {outcome}", entry_id(e));
        }
    }
    if args.json {
        println!("{}", serde_json::to_string(&results)?);
    } else if entries.is_empty() {
        println!("quarantine is empty: nothing to retry");
    }
    Ok(ExitCode::SUCCESS)
}

/// Queues one record for the next runs and releases it; returns what was done.
async fn retry_one(
    cfg: &Loaded,
    store: &dyn StateStore,
    e: &QuarantineEntry,
) -> anyhow::Result<String> {
    let is_dam = cfg
        .systems
        .get(&e.system)
        .is_some_and(|s| s.side() == Side::Dam);
    let outcome = if e.kind == RecordKind::Asset.as_str() && is_dam {
        let stored = store.asset(&e.system, &e.record_id).await?.is_some();
        let plms: Vec<&str> = cfg
            .jobs
            .iter()
            .filter(|j| j.dam == e.system)
            .map(|j| j.plm.as_str())
            .collect();
        if stored && !plms.is_empty() {
            let items: Vec<WorkItem> = plms
                .iter()
                .map(|plm| WorkItem {
                    plm_system: (*plm).to_string(),
                    dam_system: e.system.clone(),
                    asset_id: e.record_id.clone(),
                })
                .collect();
            store.enqueue(&items).await?;
            format!(
                "queued for the next run of {} and released",
                plms.iter()
                    .map(|p| format!("{p}⇄{}", e.system))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else if stored {
            format!(
                "released; no job of this configuration syncs {}, so nothing was queued",
                e.system
            )
        } else {
            "released; the clip was rejected as it was read, so it is read again when it next \
             changes or by the next full listing (`partreel sync --full-scan`)"
                .to_string()
        }
    } else if cfg.systems.contains_key(&e.system) {
        format!(
            "released; the {} record is read again when it next changes in {}",
            e.kind, e.system
        )
    } else {
        format!(
            "released; {} is not a system of this configuration",
            e.system
        )
    };
    store.quarantine_clear(&e.system, &e.record_id).await?;
    Ok(outcome)
}
