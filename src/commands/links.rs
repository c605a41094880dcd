//! `partreel links --part NUMBER[/REV] | --clip ID`: the prompt-to-part links the state holds
//! (as of the last run), for a part (every revision, or one) or for a clip.

use std::process::ExitCode;

use anyhow::bail;
use partreel_core::state::LinkRecord;

use crate::cli::LinksArgs;
use crate::config::{self, Side};
use crate::wiring;

pub async fn run(args: LinksArgs) -> anyhow::Result<ExitCode> {
    let cfg = config::load(&args.state.config)?;
    let side = if args.part.is_some() {
        Side::Plm
    } else {
        Side::Dam
    };
    let systems: Vec<String> = match &args.system {
        Some(s) => match cfg.systems.get(s) {
            Some(sys) if sys.side() == side => vec![s.clone()],
            Some(sys) => bail!(
                "--system {s}: a {} system; --{} needs a {}",
                sys.kind(),
                if side == Side::Plm { "part" } else { "clip" },
                if side == Side::Plm { "PLM" } else { "DAM" }
            ),
            None => bail!(
                "--system {s}: no such system in {} (systems: {})",
                cfg.path.display(),
                cfg.systems.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        },
        None => cfg
            .systems
            .iter()
            .filter(|(_, s)| s.side() == side)
            .map(|(n, _)| n.clone())
            .collect(),
    };
    let store = wiring::store(&cfg)?;
    let mut links: Vec<LinkRecord> = Vec::new();
    match (&args.part, &args.clip) {
        (Some(part), _) => {
            let (number, revision) = match part.rsplit_once('/') {
                Some((n, r)) if !n.is_empty() && !r.is_empty() => (n, Some(r)),
                _ => (part.as_str(), None),
            };
            for plm in &systems {
                links.extend(store.links_for_part(plm, number, revision).await?);
            }
        }
        (None, Some(clip)) => {
            for dam in &systems {
                links.extend(store.links_for_asset(dam, clip).await?);
            }
        }
        (None, None) => bail!("say which links: --part NUMBER[/REV] or --clip ID"),
    }
    links.sort_by(|a, b| {
        (&a.part_number, &a.part_revision, &a.asset_id).cmp(&(
            &b.part_number,
            &b.part_revision,
            &b.asset_id,
        ))
    });
    if args.state.json {
        println!("{}", serde_json::to_string(&links)?);
        return Ok(ExitCode::SUCCESS);
    }
    if links.is_empty() {
        println!("no links");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<30} {:<24} {:<40} {:<14} {:<8} {:<20} run",
        "link", "part", "clip", "status", "origin", "updated (UTC)"
    );
    for l in &links {
        println!(
            "{:<30} {:<24} {:<40} {:<14} {:<8} {:<20} {}",
            l.link_id.0,
            format!("{}:{}/{}", l.plm_system, l.part_number, l.part_revision),
            format!("{}:{}", l.dam_system, l.asset_id),
            l.status.as_str(),
            l.origin.as_str(),
            l.updated_at.format("%Y-%m-%d %H:%M:%S"),
            l.run_id
        );
    }
    Ok(ExitCode::SUCCESS)
}
