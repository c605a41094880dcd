//! `partreel mappings validate | discover`.

use std::process::ExitCode;

use anyhow::bail;
use partreel_core::connector::RemoteSchema;
use partreel_core::mapping::{Mapping, Side};

use crate::cli::MappingsCommand;
use crate::{config, wiring};

pub async fn run(cmd: MappingsCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        MappingsCommand::Validate { file, config } => validate(&file, config.as_deref()).await,
        MappingsCommand::Discover { system, config } => discover(&system, &config).await,
    }
}

async fn validate(
    file: &std::path::Path,
    config_path: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    let mapping = match Mapping::load(file) {
        Ok(m) => m,
        Err(errors) => {
            for e in &errors.0 {
                eprintln!("{e}");
            }
            eprintln!("{}: {} error(s)", file.display(), errors.0.len());
            return Ok(ExitCode::from(1));
        }
    };
    let Some(config_path) = config_path else {
        println!(
            "{}: ok ({} fields, {} side; pass --config to check against the live system)",
            file.display(),
            mapping.fields.len(),
            mapping.side.as_str()
        );
        return Ok(ExitCode::SUCCESS);
    };
    let schema = live_schema(mapping.side, config_path).await?;
    let errors = mapping.validate_against(&schema);
    if errors.is_empty() {
        println!(
            "{}: ok against the live {} schema ({} fields)",
            file.display(),
            mapping.side.as_str(),
            mapping.fields.len()
        );
        Ok(ExitCode::SUCCESS)
    } else {
        for e in &errors {
            eprintln!("{e}");
        }
        eprintln!("{}: {} error(s)", file.display(), errors.len());
        Ok(ExitCode::from(1))
    }
}

async fn live_schema(side: Side, config_path: &std::path::Path) -> anyhow::Result<RemoteSchema> {
    let cfg = config::load(config_path)?;
    Ok(match side {
        Side::Plm => {
            let maps = wiring::mappings(&cfg)?;
            wiring::plm(&cfg, &maps)?.schema().await?
        }
        Side::Dam => wiring::dam(&cfg)?.schema().await?,
    })
}

async fn discover(system: &str, config_path: &std::path::Path) -> anyhow::Result<ExitCode> {
    let side = match system {
        "plm" => Side::Plm,
        "dam" => Side::Dam,
        other => {
            let cfg = config::load(config_path)?;
            let (plm_file, dam_file) = wiring::mapping_files(&cfg);
            let plm = Mapping::load(&plm_file).map_err(|e| anyhow::anyhow!("{e}"))?;
            let dam = Mapping::load(&dam_file).map_err(|e| anyhow::anyhow!("{e}"))?;
            if plm.system == other {
                Side::Plm
            } else if dam.system == other {
                Side::Dam
            } else {
                bail!(
                    "--system {other}: not configured (use plm, dam, or a configured system type)"
                );
            }
        }
    };
    let schema = live_schema(side, config_path).await?;
    for (entity, props) in &schema.entities {
        println!("{entity}:");
        for p in props {
            println!(
                "  {:<28} {:<16} {}",
                p.name,
                p.kind,
                if p.writable { "writable" } else { "read-only" }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
