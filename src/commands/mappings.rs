//! `partreel mappings validate | discover`.

use std::process::ExitCode;

use anyhow::bail;
use partreel_core::connector::RemoteSchema;
use partreel_core::mapping::Mapping;

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
    let schema = live_schema(&mapping, config_path).await?;
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
        for hint in &schema.hints {
            eprintln!("note: {hint}");
        }
        eprintln!("{}: {} error(s)", file.display(), errors.len());
        Ok(ExitCode::from(1))
    }
}

/// The live schema of a configured system.
async fn system_schema(cfg: &config::Loaded, name: &str) -> anyhow::Result<RemoteSchema> {
    let Some(sys) = cfg.systems.get(name) else {
        bail!(
            "no system named {name:?} in {} (systems: {})",
            cfg.path.display(),
            cfg.systems.keys().cloned().collect::<Vec<_>>().join(", ")
        );
    };
    Ok(match sys.side() {
        config::Side::Plm => {
            let maps = wiring::mapping(cfg, name)?;
            wiring::plm(cfg, name, &maps)?.schema().await?
        }
        config::Side::Dam => wiring::dam(cfg, name)?.schema().await?,
    })
}

/// The live schema of the configured system a mapping file is for (by its `system` type).
async fn live_schema(
    mapping: &Mapping,
    config_path: &std::path::Path,
) -> anyhow::Result<RemoteSchema> {
    let cfg = config::load(config_path)?;
    let matching: Vec<&String> = cfg
        .systems
        .iter()
        .filter(|(_, s)| s.kind() == mapping.system)
        .map(|(n, _)| n)
        .collect();
    match matching.as_slice() {
        [name] => system_schema(&cfg, name).await,
        [] => bail!(
            "{}: no {} system is configured to check {} against",
            config_path.display(),
            mapping.system,
            mapping.path.display()
        ),
        several => {
            // Several systems of this type: any of them has the schema the mapping needs.
            system_schema(&cfg, several[0]).await
        }
    }
}

async fn discover(system: &str, config_path: &std::path::Path) -> anyhow::Result<ExitCode> {
    let cfg = config::load(config_path)?;
    let name = match system {
        "plm" | "dam" => {
            let job = cfg
                .jobs
                .first()
                .ok_or_else(|| anyhow::anyhow!("{}: no job configured", config_path.display()))?;
            if system == "plm" {
                job.plm.clone()
            } else {
                job.dam.clone()
            }
        }
        name => name.to_string(),
    };
    let schema = system_schema(&cfg, &name).await?;
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
    for hint in &schema.hints {
        println!("note: {hint}");
    }
    Ok(ExitCode::SUCCESS)
}
