//! `partreel demo`: the five emulators seeded with the Acme Toys story, one sync of every job of
//! the written configuration (Windchill, Teamcenter and 3DEXPERIENCE ⇄ Bynder, Windchill ⇄ AEM
//! Assets) on the embedded SQLite default, the reports and the links they made; then a second
//! sync that writes nothing. Its folder (configuration, secrets, state) lives in the temporary
//! directory for the demo's lifetime only: removed when it ends, fails or is interrupted.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use partreel_core::engine::SyncReport;
use partreel_core::model::canonical;
use partreel_core::state::StateStore;
use partreel_sim::config_writer::ConfigOptions;
use partreel_sim::registry::{EMULATORS, Side};
use partreel_sim::{Sim, SimConfig};

use crate::cli::DemoArgs;
use crate::{config, wiring};

/// Removes the demo's folder when dropped: at the end, on an error, or at Ctrl-C.
struct DemoDir(PathBuf);

impl Drop for DemoDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            eprintln!("partreel demo: cannot remove {}: {e}", self.0.display());
        }
    }
}

/// Exit code of a demo stopped by Ctrl-C (or SIGTERM) before it finished: 128 + SIGINT.
const INTERRUPTED: u8 = 130;

pub async fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let dir = std::env::temp_dir().join(format!("partreel-demo-{}", std::process::id()));
    let _cleanup = DemoDir(dir.clone());
    let mut shutdown = super::Shutdown::listen();
    // Listening before the syncs print or do anything: a Ctrl-C right after the first line, or
    // right after "Ctrl-C to stop", still stops the demo and cleans up.
    let sim = tokio::select! {
        biased;
        () = shutdown.wait() => {
            eprintln!("partreel demo: interrupted; its folder {} is removed", dir.display());
            return Ok(ExitCode::from(INTERRUPTED));
        }
        r = syncs(&args, &dir) => r?,
    };
    let config_path = dir.join("partreel.toml");
    if args.serve {
        let dams: Vec<String> = EMULATORS
            .iter()
            .filter(|e| e.side == Side::Dam)
            .map(|e| e.url(&sim))
            .collect();
        let dams: Vec<&str> = dams.iter().map(String::as_str).collect();
        let (viewer, token) =
            super::serve::start_demo(&dir.join("partreel.db"), &config_path, &dams)
                .await
                .context("cannot start the viewer")?;
        println!();
        println!("Viewer              {}/?access_token={token}", viewer.url);
        println!("  demo token        {token}   (Authorization: Bearer …; valid until Ctrl-C)");
        println!(
            "Emulators stay up; run `partreel sync --config {}` again. Ctrl-C to stop.",
            config_path.display()
        );
        shutdown.wait().await;
        viewer.stop().await?;
    }
    sim.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

/// Starts the emulators, writes the configuration into `dir`, runs every job twice and prints
/// the reports; returns the running emulators.
async fn syncs(args: &DemoArgs, dir: &Path) -> anyhow::Result<Sim> {
    let sim = Sim::start(SimConfig {
        parts: args.parts,
        clips: args.clips,
        story: true,
        ..SimConfig::default()
    })
    .await
    .context("cannot start the emulators")?;
    let config_path = sim.write_partreel_config(
        dir,
        &ConfigOptions {
            state: dir.join("partreel.db"),
            ..ConfigOptions::default()
        },
    )?;
    if !args.json {
        println!(
            "partreel demo — Acme Toys: Windchill, Teamcenter and 3DEXPERIENCE ⇄ Bynder, Windchill ⇄ AEM on local emulators"
        );
        // Each emulator's own endpoint (the first of its entry).
        for e in EMULATORS {
            if let Some((label, url)) = (e.endpoints)(&sim).into_iter().next() {
                println!("  {label:<20}{url}");
            }
        }
        println!("  configuration       {}", config_path.display());
        println!();
    }
    let cfg = config::load(&config_path)?;
    if !args.json {
        for j in &cfg.jobs {
            println!("  job {:<17} {} ⇄ {}", j.name, j.plm, j.dam);
        }
        println!();
    }
    let first = run_all(&cfg).await?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&super::sync::json_report(&first))?
        );
    } else {
        println!("First sync:");
        for r in &first {
            print!("{}", r.render());
        }
        println!();
        print_links(wiring::store(&cfg)?.as_ref()).await?;
    }

    // A second run right after: the feeds bring back partreel's own writes, which must not
    // count as changes.
    let second = run_all(&cfg).await?;
    if !args.json {
        println!();
        for r in &second {
            println!(
                "Second sync [{}] (nothing changed anywhere): {}",
                r.job,
                summary(r)
            );
        }
    }

    Ok(sim)
}

/// Runs every job once, in order.
async fn run_all(cfg: &config::Loaded) -> anyhow::Result<Vec<SyncReport>> {
    let wired = wiring::engines(cfg, &cfg.jobs, |_| {})?;
    let mut reports = Vec::new();
    for (name, engine) in &wired {
        let r = engine.run().await;
        let mut r = match r {
            Ok(r) => r,
            Err(e) => {
                wiring::close(&wired).await;
                return Err(e.into());
            }
        };
        r.job = name.clone();
        reports.push(r);
    }
    // End the PLM sessions (Teamcenter's logout).
    wiring::close(&wired).await;
    Ok(reports)
}

fn summary(r: &SyncReport) -> String {
    let requests: Vec<String> = r.requests.iter().map(|(s, n)| format!("{s} {n}")).collect();
    format!(
        "{} writes ({} links created, {} updated, {} retired, {} clip metadata writes); requests: {}",
        r.writes(),
        r.links_created,
        r.links_updated,
        r.links_retired,
        r.asset_writes,
        requests.join(", ")
    )
}

async fn print_links(store: &dyn StateStore) -> anyhow::Result<()> {
    println!("Prompt-to-part links:");
    println!(
        "  {:<12} {:<7} {:<26} {:<18} {:<14} {:<10} watermark / provenance",
        "part", "dam", "clip", "campaign", "status", "lifecycle"
    );
    let mut after = None;
    loop {
        let page = store.links_page(after.as_ref(), 200).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.link_id.clone());
        for l in &page {
            let asset = store.asset(&l.dam_system, &l.asset_id).await?;
            let part = store
                .part(&l.plm_system, &l.part_number, &l.part_revision)
                .await?;
            let title = asset.as_ref().map(|a| a.title.clone()).unwrap_or_default();
            let campaign = asset
                .as_ref()
                .and_then(|a| a.values.get(canonical::CAMPAIGN).cloned())
                .unwrap_or_default();
            let verdict = asset
                .as_ref()
                .map(|a| {
                    let v = a.watermark.verdict();
                    format!(
                        "{} — {}",
                        if v.preserved {
                            "preserved"
                        } else {
                            "NOT preserved"
                        },
                        v.reason
                    )
                })
                .unwrap_or_default();
            println!(
                "  {:<12} {:<7} {:<26} {:<18} {:<14} {:<10} {}",
                format!("{}/{}", l.part_number, l.part_revision),
                l.dam_system,
                truncate(&title, 26),
                truncate(&campaign, 18),
                l.status.as_str(),
                // The state stores the mapped display name (one vocabulary across PLMs).
                part.and_then(|p| p.lifecycle_state).unwrap_or_default(),
                verdict
            );
        }
    }
    Ok(())
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}
