//! `partreel sim`: the emulators on free loopback ports until stopped, with a configuration
//! that points at them.

use std::process::ExitCode;

use partreel_sim::config_writer::ConfigOptions;
use partreel_sim::{GeneratedPlm, Sim, SimConfig};

use crate::cli::{GeneratedPlmArg, SimArgs};

pub async fn run(args: SimArgs) -> anyhow::Result<ExitCode> {
    let sim = Sim::start(SimConfig {
        parts: args.parts,
        clips: args.clips,
        seed: args.seed,
        story: !args.no_story,
        generated_plm: match args.generated_plm {
            GeneratedPlmArg::Windchill => GeneratedPlm::Windchill,
            GeneratedPlmArg::Teamcenter => GeneratedPlm::Teamcenter,
        },
        ..SimConfig::default()
    })
    .await?;
    println!("windchill emulator:  {}", sim.windchill.url);
    println!("teamcenter emulator: {}", sim.teamcenter.emulator.url);
    println!("bynder emulator:     {}", sim.bynder.url);
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
    super::shutdown_signal().await;
    sim.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
