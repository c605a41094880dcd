//! `partreel sim`: the emulators of the registry (Windchill, Teamcenter, 3DEXPERIENCE, Bynder,
//! AEM Assets) on free loopback ports until stopped, with a configuration that points at them.

use std::process::ExitCode;

use partreel_sim::config_writer::ConfigOptions;
use partreel_sim::registry::EMULATORS;
use partreel_sim::{Sim, SimConfig};

use crate::cli::SimArgs;

pub async fn run(args: SimArgs) -> anyhow::Result<ExitCode> {
    let mut shutdown = super::Shutdown::listen();
    let sim = Sim::start(SimConfig {
        parts: args.parts,
        clips: args.clips,
        aem_clips: args.aem_clips,
        file_bytes: args.file_bytes.unwrap_or(SimConfig::default().file_bytes),
        seed: args.seed,
        story: !args.no_story,
        // The parser only accepts kinds that generate.
        generated_plm: EMULATORS
            .iter()
            .find(|e| e.kind == args.generated_plm)
            .and_then(|e| e.generates)
            .map(|g| g.plm)
            .unwrap_or_default(),
        ..SimConfig::default()
    })
    .await?;
    // Scripts read each URL after its `NAME emulator:` label, once the configuration is
    // written (it is, after every label).
    for e in EMULATORS {
        for (label, url) in (e.endpoints)(&sim) {
            println!("{:<21}{url}", format!("{label}:"));
        }
    }
    if let Some(path) = &args.write_config {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(std::path::Path::to_path_buf)
            .unwrap_or_else(|| std::path::PathBuf::from("."));
        let written = sim.write_partreel_config(
            &dir,
            &ConfigOptions {
                requests_per_sec: args.requests_per_sec,
                ..ConfigOptions::default()
            },
        )?;
        if written != *path {
            std::fs::rename(&written, path)?;
        }
        println!("configuration:       {}", path.display());
        println!("run: partreel sync --config {}", path.display());
    }
    println!(
        "control API: GET {{emulator}}/__sim/requests, POST /__sim/faults, POST /__sim/clock/advance?secs=N"
    );
    println!("Ctrl-C to stop.");
    shutdown.wait().await;
    sim.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
