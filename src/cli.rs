//! The command line: subcommands and their flags.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Keeps AI video experiments (clips in a DAM) and part revisions (in a PLM) in step through
/// prompt-to-part links.
#[derive(Debug, Parser)]
#[command(name = "partreel", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every subcommand takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Log level filter (e.g. `info`, `debug`, `partreel_core=trace`); also `PARTREEL_LOG`.
    #[arg(long, global = true, env = "PARTREEL_LOG", default_value = "warn")]
    pub log_level: String,
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// Log line format.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one sync.
    Sync(SyncArgs),
    /// Work with mapping files.
    #[command(subcommand)]
    Mappings(MappingsCommand),
    /// Start the emulators, write a config that points at them, and run until stopped.
    Sim(SimArgs),
    /// Start the emulators, run a sync on the embedded SQLite default, print the report.
    Demo(DemoArgs),
    /// Serve the viewer: part revisions and their linked clips, pages and JSON API.
    Serve(ServeArgs),
    /// Check clip files' C2PA provenance against the watermark-preserved rule.
    #[command(subcommand)]
    Provenance(ProvenanceCommand),
    /// Run the configured jobs on their cron schedules until SIGTERM/SIGINT, with /healthz,
    /// /readyz and Prometheus /metrics.
    Daemon(DaemonArgs),
    /// Records set aside with the reason they could not be synced: list, show, retry.
    #[command(subcommand)]
    Quarantine(QuarantineCommand),
    /// The run history, latest first, with each run's report.
    Runs(RunsArgs),
    /// Prompt-to-part links the state holds, by part revision or by clip.
    Links(LinksArgs),
    /// Read-only preflight against the live systems before a first sync: sign-in, read and
    /// write access, mapped properties and their types, the change feeds' order and filter,
    /// clock skew, rate limits. One line per check; exit 0 only when none fails.
    Doctor(DoctorArgs),
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Configuration file.
    #[arg(long, short)]
    pub config: PathBuf,
    /// Check only this job's two systems (default: every system a job uses).
    #[arg(long)]
    pub job: Option<String>,
    /// Print the checks as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Write every request and response to files in DIR, redacted (as `sync --record-wire`).
    #[arg(long, value_name = "DIR")]
    pub record_wire: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// Configuration file (its `[[jobs]]` give the schedules).
    #[arg(long, short)]
    pub config: PathBuf,
    /// Address of /healthz, /readyz and /metrics (`127.0.0.1:0`: any free port).
    #[arg(long, default_value = "127.0.0.1:9464")]
    pub listen: String,
    /// On SIGTERM/SIGINT, wait at most this long for runs in flight to finish their batch.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub shutdown_timeout_secs: u64,
}

/// The configuration whose state store a command reads, and the output format.
#[derive(Debug, Args)]
pub struct StateArgs {
    /// Configuration file (its `state` is read).
    #[arg(long, short)]
    pub config: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum QuarantineCommand {
    /// Every quarantined record, with its reason.
    List(StateArgs),
    /// One record (`SYSTEM/RECORD`, as `list` prints it): reason, attempts, the clip as stored
    /// and its links.
    Show {
        /// `SYSTEM/RECORD`, e.g. `bynder/8193012E-994E-AC09-EEA11039D26BAE37`.
        id: String,
        #[command(flatten)]
        state: StateArgs,
    },
    /// Queue records for the next run of every job of their DAM and release them.
    Retry {
        /// `SYSTEM/RECORD`.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        /// Every quarantined record.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        state: StateArgs,
    },
}

#[derive(Debug, Args)]
pub struct RunsArgs {
    /// Runs shown.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    #[command(flatten)]
    pub state: StateArgs,
}

#[derive(Debug, Args)]
pub struct LinksArgs {
    /// Part number, optionally with a revision: `TR-1001` or `TR-1001/B`.
    #[arg(
        long,
        value_name = "NUMBER[/REV]",
        required_unless_present = "clip",
        conflicts_with = "clip"
    )]
    pub part: Option<String>,
    /// DAM asset id of a clip.
    #[arg(long, value_name = "ID")]
    pub clip: Option<String>,
    /// Only this system (default: every configured PLM for --part, every DAM for --clip).
    #[arg(long)]
    pub system: Option<String>,
    #[command(flatten)]
    pub state: StateArgs,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Configuration file.
    #[arg(long, short)]
    pub config: PathBuf,
    /// Print the plan and write nothing, remote or local.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// List the whole DAM in this run, to find deleted clips.
    #[arg(long)]
    pub full_scan: bool,
    /// Run only this job (default: every job of the configuration, in order).
    #[arg(long)]
    pub job: Option<String>,
    /// Write every request and response to files in DIR (one per exchange), with every
    /// credential, token, cookie and nonce redacted: for a support ticket.
    #[arg(long, value_name = "DIR")]
    pub record_wire: Option<PathBuf>,
    /// No progress bars (they are drawn only on a terminal and never with --json).
    #[arg(long)]
    pub no_progress: bool,
}

#[derive(Debug, Subcommand)]
pub enum MappingsCommand {
    /// Check a mapping file; with --config, also against the live system's schema.
    Validate {
        /// Mapping file.
        file: PathBuf,
        /// Configuration whose connection is used to read the live schema.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// List the properties a mapping can use, read from the live system.
    Discover {
        /// Which side: the configured `plm` or `dam`.
        #[arg(long)]
        system: String,
        /// Configuration file.
        #[arg(long, short)]
        config: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Part revisions to seed besides the story's.
    #[arg(long, default_value_t = 0)]
    pub parts: usize,
    /// Bynder clips to seed besides the story's.
    #[arg(long, default_value_t = 0)]
    pub clips: usize,
    /// AEM clips to seed besides the AEM story's, about the generated Windchill part revisions
    /// (about the Windchill story's when the generated ones are elsewhere or none; job
    /// `windchill-aem`).
    #[arg(long, default_value_t = 0)]
    pub aem_clips: usize,
    /// Size of each clip's original file in Bynder and AEM, in bytes (default 16 KiB).
    #[arg(long, value_name = "N")]
    pub file_bytes: Option<usize>,
    /// Seed of the deterministic generator.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Leave out the demo story's records.
    #[arg(long)]
    pub no_story: bool,
    /// Write a partreel configuration pointing at the emulators here.
    #[arg(long)]
    pub write_config: Option<PathBuf>,
    /// Client rate limit written into that configuration, requests per second for each
    /// system (default: each connector's own, e.g. Bynder's published 4,500 per 5 minutes).
    #[arg(long)]
    pub requests_per_sec: Option<u32>,
    /// The PLM emulator that holds the `--parts` generated part revisions (and that the
    /// generated Bynder clips are about).
    #[arg(long, default_value = "windchill", value_parser = generated_plm_kinds())]
    pub generated_plm: String,
}

/// `partreel sim --generated-plm`: the kinds of the emulators' registry that can hold the
/// generated part revisions.
fn generated_plm_kinds() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(partreel_sim::registry::EMULATORS.iter().filter_map(
        |e| {
            e.generates
                .map(|g| clap::builder::PossibleValue::new(e.kind).help(g.about))
        },
    ))
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the emulators running after the sync, until Ctrl-C.
    #[arg(long)]
    pub serve: bool,
    /// Part revisions to seed besides the story's.
    #[arg(long, default_value_t = 0)]
    pub parts: usize,
    /// Clips to seed besides the story's.
    #[arg(long, default_value_t = 0)]
    pub clips: usize,
    /// Print the first run's report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Configuration file (reads `state`, `[viewer]` and `dam.base_url`).
    #[arg(long, short)]
    pub config: PathBuf,
    /// Address to listen on (overrides `viewer.listen`), e.g. `127.0.0.1:0` for any port.
    #[arg(long)]
    pub listen: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ProvenanceCommand {
    /// Check files: one line each (verdict, status, generator, reason); exit 0 only when every
    /// file passes the rule — usable as a pre-publish gate.
    Check(ProvenanceCheckArgs),
}

#[derive(Debug, Args)]
pub struct ProvenanceCheckArgs {
    /// Clip files to check.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Allowed claim generator (case-insensitive substring); repeat for several. Added to the
    /// config's `provenance.allow_generators`.
    #[arg(long = "allow-generator", value_name = "NAME")]
    pub allow_generator: Vec<String>,
    /// PEM file of trust anchors (e.g. the C2PA trust list): signers chaining to one read as
    /// `trusted`.
    #[arg(long, value_name = "PEM")]
    pub trust_anchors: Option<PathBuf>,
    /// Largest file checked, in bytes.
    #[arg(long, value_name = "N")]
    pub max_bytes: Option<u64>,
    /// Configuration file whose `[provenance]` table is the starting policy.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Print an array of JSON objects instead of lines.
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{Cli, Command};

    /// `--generated-plm` takes the PLM kinds of the emulators' registry, and nothing else.
    #[test]
    fn generated_plm_takes_the_registry_plms() {
        for e in partreel_sim::registry::EMULATORS {
            let parsed = Cli::try_parse_from(["partreel", "sim", "--generated-plm", e.kind]);
            match (e.generates, parsed) {
                (Some(_), Ok(cli)) => match cli.command {
                    Command::Sim(args) => assert_eq!(args.generated_plm, e.kind),
                    other => panic!("{other:?}"),
                },
                (None, Err(_)) => {}
                (g, r) => panic!("{}: generates {g:?}, parsed {r:?}", e.kind),
            }
        }
        let default = Cli::try_parse_from(["partreel", "sim"]).expect("parses");
        let Command::Sim(args) = default.command else {
            panic!("not sim")
        };
        assert_eq!(args.generated_plm, "windchill");
    }
}
