//! partreel's configuration file: the state store, sync settings, the systems and the jobs
//! that pair them.
//!
//! Read with the `config` crate (TOML, plus `PARTREEL__SECTION__KEY` environment overrides),
//! then validated purely: every problem is collected and reported at once, each naming the
//! file and key. Secrets are never in this file — only `{ env = "…" }` or `{ file = "…" }`
//! references to them. See `docs/configuration.md`.
//!
//! Two shapes: the shorthand `[plm]` + `[dam]` (one job), or named `[systems.NAME]` tables
//! with `[[jobs]]` pairing a PLM with a DAM (several PLMs, several DAMs).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::bail;
use partreel_core::engine::{DegradedRule, Scope, SyncOptions};
use serde::Deserialize;

/// One problem in a configuration file: the dotted key it is about (`sync.page_size`,
/// `systems.wc.base_url`, `jobs[0].plm`; empty when it is about the file as a whole) and
/// what is wrong. Rendered once, as `key: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key.
    pub key: String,
    /// What is wrong, and where it helps, what to write instead.
    pub message: String,
}

impl Problem {
    /// A problem with `key`.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            key: key.into(),
            message: message.into(),
        }
    }

    /// A problem about the file as a whole.
    pub fn general(message: impl Into<String>) -> Problem {
        Problem::new("", message)
    }

    /// A `key: message` line from a section's own validation, its key put under `section`
    /// (unless it already names it, so a key is never written twice).
    pub fn from_line(section: &str, line: &str) -> Problem {
        let (key, message) = match line.split_once(": ") {
            Some((k, m)) if !k.contains(' ') => (k, m),
            _ => ("", line),
        };
        let key = if section.is_empty() || key == section || key.starts_with(&format!("{section}."))
        {
            key.to_string()
        } else if key.is_empty() {
            section.to_string()
        } else {
            format!("{section}.{key}")
        };
        Problem::new(key, message)
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.key.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.key, self.message)
        }
    }
}

/// Why a configuration file could not be loaded; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// No file there.
    #[error("configuration file {} not found", .0.display())]
    NotFound(PathBuf),
    /// The file is not TOML, or the environment overrides do not fit it.
    #[error("{}: {message}", file.display())]
    Unreadable {
        /// The file.
        file: PathBuf,
        /// The reader's message.
        message: String,
    },
    /// A value of the wrong type or out of range, at a line of the file.
    #[error("{}{at}: {message}", file.display())]
    BadValue {
        /// The file.
        file: PathBuf,
        /// `:LINE:COLUMN (key)`.
        at: String,
        /// What TOML said.
        message: String,
    },
    /// Every problem validation found, at once.
    #[error("{}: {} problem(s):\n  {}", file.display(), problems.len(), render(problems))]
    Invalid {
        /// The file.
        file: PathBuf,
        /// The problems, in the order found.
        problems: Vec<Problem>,
    },
}

fn render(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("\n  ")
}

pub use crate::systems::{Side, SystemSection};

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartreelConfig {
    /// State store: a SQLite file path (relative to this file), or `sqlite://PATH`.
    #[serde(default = "default_state")]
    pub state: String,
    /// Sync behaviour.
    #[serde(default)]
    pub sync: SyncSection,
    /// Shorthand: the one PLM.
    #[serde(default)]
    pub plm: Option<SystemSection>,
    /// Shorthand: the one DAM.
    #[serde(default)]
    pub dam: Option<SystemSection>,
    /// Named systems.
    #[serde(default)]
    pub systems: BTreeMap<String, SystemSection>,
    /// Jobs: which PLM is synced with which DAM. Default: the one PLM with the one DAM.
    #[serde(default)]
    pub jobs: Vec<JobSection>,
    /// The viewer (`partreel serve`).
    #[serde(default)]
    pub viewer: Option<crate::viewer::config::ViewerConfig>,
    /// The provenance check of clip files.
    #[serde(default)]
    pub provenance: Option<partreel_core::provenance::ProvenancePolicy>,
}

fn default_state() -> String {
    "partreel.db".into()
}

/// Default `sync.run_deadline_secs`: six hours, longer than an initial sync of a large
/// catalogue at the vendors' published rates, short enough that a stuck run does not hold the
/// next scheduled one off for a day.
pub const DEFAULT_RUN_DEADLINE_SECS: u64 = 6 * 3600;

/// `[sync]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyncSection {
    /// Overlap held back behind the server clock when cursors move (clock skew, late commits).
    pub overlap_secs: u64,
    /// Page size asked of change feeds.
    pub page_size: u32,
    /// Carry links forward to part revisions created after the link.
    pub carry_forward: bool,
    /// Clips planned and applied at once.
    pub concurrency: usize,
    /// List the whole DAM to find deleted clips when the last listing is older than this
    /// (0 = only with `--full-scan`).
    pub full_scan_interval_hours: u64,
    /// A name for this process in work leases, the journal and logs (default `partreel`).
    /// It only names the process: each process leases under an identity of its own
    /// (`NAME@HOST/PID/START/MACHINE`), so processes sharing the state never take each
    /// other's work for their own, even when they share a name.
    pub instance: Option<String>,
    /// How long a statement waits when another process holds the SQLite state file's write
    /// lock, before the run gives up with "state busy" (writes are short, so waits are rare).
    pub state_wait_secs: u64,
    /// How long a daemon holds the clips it leased before another may take them over (its
    /// process died); longer than a batch takes to apply.
    pub lease_secs: u64,
    /// How long one run may take (0: no limit). Past it the run stops between two clips, keeps
    /// what it did, reports it and exits with code 3; the rest waits for the next run.
    pub run_deadline_secs: u64,
    /// A run is degraded when it quarantined every clip it handled, or more than
    /// `degraded_share` of at least `degraded_min_clips`: `partreel sync` exits with code 4
    /// and the daemon's `/readyz` and metrics say so.
    pub degraded_min_clips: u64,
    /// See `degraded_min_clips` (a share, 0 to 1).
    pub degraded_share: f64,
}

impl Default for SyncSection {
    fn default() -> Self {
        let d = SyncOptions::default();
        SyncSection {
            overlap_secs: d.overlap.as_secs(),
            page_size: d.page_size,
            carry_forward: d.carry_forward,
            concurrency: d.concurrency,
            full_scan_interval_hours: 24,
            instance: None,
            state_wait_secs: partreel_core::state::sqlite::DEFAULT_BUSY_WAIT.as_secs(),
            lease_secs: d.lease.as_secs(),
            run_deadline_secs: DEFAULT_RUN_DEADLINE_SECS,
            degraded_min_clips: DegradedRule::default().min_clips,
            degraded_share: DegradedRule::default().share,
        }
    }
}

/// A system: its name, its mapping file and its connector settings.
#[derive(Debug, Clone, Deserialize)]
pub struct Endpoint<C> {
    /// System name used in link ids, logs and reports (shorthand form only; default: the
    /// type). Never change it once links exist: link ids depend on it.
    #[serde(default)]
    pub name: Option<String>,
    /// Mapping file (relative to this file).
    pub mapping: PathBuf,
    /// Connector settings.
    #[serde(flatten)]
    pub settings: C,
}

/// `[[jobs]]`: one PLM synced with one DAM.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSection {
    /// Job name (default `PLM-DAM`).
    #[serde(default)]
    pub name: Option<String>,
    /// The PLM system's name.
    pub plm: String,
    /// The DAM system's name.
    pub dam: String,
    /// Which clips the job is about (by part number / SKU patterns); default: all.
    #[serde(default)]
    pub scope: Scope,
    /// When `partreel daemon` runs the job: a cron expression, 5 fields (`min hour dom mon
    /// dow`) or 6 with seconds first, in UTC. None: the daemon does not schedule it.
    #[serde(default)]
    pub schedule: Option<String>,
    /// Up to this many seconds of random delay before each scheduled run (spreads daemons and
    /// jobs that share a schedule).
    #[serde(default)]
    pub jitter_secs: u64,
    /// The daemon also runs the job once as soon as it starts.
    #[serde(default)]
    pub run_on_start: bool,
}

/// A job, resolved.
#[derive(Debug, Clone)]
pub struct Job {
    /// Name.
    pub name: String,
    /// PLM system name.
    pub plm: String,
    /// DAM system name.
    pub dam: String,
    /// Scope.
    pub scope: Scope,
    /// Cron expression (validated at load), for the daemon.
    pub schedule: Option<String>,
    /// Random delay bound before each scheduled run.
    pub jitter: Duration,
    /// Run once when the daemon starts.
    pub run_on_start: bool,
}

/// A loaded configuration and where it came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The file.
    pub path: PathBuf,
    /// Its folder (relative paths start here).
    pub dir: PathBuf,
    /// The content.
    pub config: PartreelConfig,
    /// Every system by name (shorthand ones included).
    pub systems: BTreeMap<String, SystemSection>,
    /// The jobs.
    pub jobs: Vec<Job>,
}

impl Loaded {
    /// Resolves a path written in the file.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.dir.join(p)
        }
    }

    /// The PostgreSQL URL when `state` is one (`postgres://` or `postgresql://`).
    pub fn state_url(&self) -> Option<&str> {
        let s = self.config.state.trim();
        (s.starts_with("postgres://") || s.starts_with("postgresql://")).then_some(s)
    }

    /// The SQLite state file (an error when `state` is a PostgreSQL URL: see
    /// [`Self::state_url`]).
    pub fn state_path(&self) -> anyhow::Result<PathBuf> {
        if self.state_url().is_some() {
            bail!(
                "{}: state: this is a PostgreSQL URL, not a SQLite file",
                self.path.display()
            );
        }
        let s = self.config.state.trim();
        let p = s.strip_prefix("sqlite://").unwrap_or(s);
        Ok(self.resolve(Path::new(p)))
    }

    /// When a run counts as degraded (`[sync] degraded_*`).
    pub fn degraded_rule(&self) -> DegradedRule {
        DegradedRule {
            min_clips: self.config.sync.degraded_min_clips,
            share: self.config.sync.degraded_share,
        }
    }

    /// Sync options of one job, from `[sync]` and the job.
    pub fn sync_options(&self, job: &Job) -> SyncOptions {
        let s = &self.config.sync;
        SyncOptions {
            overlap: Duration::from_secs(s.overlap_secs),
            page_size: s.page_size,
            carry_forward: s.carry_forward,
            concurrency: s.concurrency,
            full_scan_interval: (s.full_scan_interval_hours > 0)
                .then(|| Duration::from_secs(s.full_scan_interval_hours * 3600)),
            owner: partreel_core::state::owner::identity(s.instance.as_deref()),
            lease: Duration::from_secs(s.lease_secs),
            deadline: (s.run_deadline_secs > 0).then(|| Duration::from_secs(s.run_deadline_secs)),
            dam_peers: self
                .jobs
                .iter()
                .filter(|j| j.dam == job.dam)
                .map(|j| j.plm.clone())
                .collect(),
            scope: job.scope.clone(),
            job: job.name.clone(),
            ..SyncOptions::default()
        }
    }

    /// The jobs to run: all, or the one named.
    pub fn select_jobs(&self, name: Option<&str>) -> anyhow::Result<Vec<Job>> {
        match name {
            None => Ok(self.jobs.clone()),
            Some(n) => match self.jobs.iter().find(|j| j.name == n) {
                Some(j) => Ok(vec![j.clone()]),
                None => bail!(
                    "{}: no job named {n:?} (jobs: {})",
                    self.path.display(),
                    self.jobs
                        .iter()
                        .map(|j| j.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            },
        }
    }
}

/// Keys a system table may hold besides its connector's own settings.
const ENDPOINT_KEYS: &[&str] = &["type", "name", "mapping"];

/// Unknown keys in the file's system tables (`[plm]`, `[dam]`, `[systems.NAME]`), each named
/// with its table. The connector settings are flattened into those tables, which hides their
/// own refusal of unknown keys from the configuration loader; so each table's settings are
/// read once more on their own, straight from the file.
fn unknown_system_keys(path: &Path) -> Vec<Problem> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let Ok(file) = text.parse::<toml::Table>() else {
        // A file that does not parse was already reported by the loader.
        return Vec::new();
    };
    let mut tables: Vec<(String, &toml::Table)> = Vec::new();
    for key in ["plm", "dam"] {
        if let Some(toml::Value::Table(t)) = file.get(key) {
            tables.push((key.to_string(), t));
        }
    }
    if let Some(toml::Value::Table(systems)) = file.get("systems") {
        for (name, v) in systems {
            if let toml::Value::Table(t) = v {
                tables.push((format!("systems.{name}"), t));
            }
        }
    }
    let mut problems = Vec::new();
    for (key, table) in tables {
        let mut settings = table.clone();
        for k in ENDPOINT_KEYS {
            settings.remove(*k);
        }
        let kind = table
            .get("type")
            .and_then(toml::Value::as_str)
            .unwrap_or("");
        // serde stops at the first unknown key: take it out and read again, so every one is
        // named at once.
        for _ in 0..table.len() {
            let value = toml::Value::Table(settings.clone());
            let result = crate::systems::check_settings(kind, value).unwrap_or(Ok(()));
            let Err(e) = result else { break };
            let message = e.to_string();
            let Some(field) = unknown_field(&message) else {
                break;
            };
            problems.push(Problem::new(key.clone(), message.trim()));
            if settings.remove(&field).is_none() {
                break;
            }
        }
    }
    problems
}

/// `state` written as a libpq key/value connection string (`host=… dbname=… password=…`) would
/// otherwise become the name of a SQLite file — with a password in it. Refused, naming the
/// form to use, never echoing the value.
fn state_problem(state: &str) -> Option<Problem> {
    let s = state.trim();
    if s.starts_with("postgres://") || s.starts_with("postgresql://") {
        return None;
    }
    const LIBPQ_KEYS: &[&str] = &[
        "host=",
        "hostaddr=",
        "port=",
        "dbname=",
        "user=",
        "password=",
        "sslmode=",
    ];
    let lower = s.to_ascii_lowercase();
    let looks_like_libpq = lower
        .split_whitespace()
        .any(|w| LIBPQ_KEYS.iter().any(|k| w.starts_with(k)));
    looks_like_libpq.then(|| {
        Problem::new(
            "state",
            "this looks like a PostgreSQL key/value connection string, which would be taken \
         for a SQLite file name; write it as a URL, postgres://USER:PASSWORD@HOST:PORT/DATABASE \
         (best set from the environment, PARTREEL__STATE)",
        )
    })
}

/// The key of serde's "unknown field `x`, expected …" message.
fn unknown_field(message: &str) -> Option<String> {
    let rest = message.split("unknown field `").nth(1)?;
    Some(rest.split('`').next()?.to_string())
}

/// A value in the file itself of the wrong type or out of range (`carry_forward = "yes"`,
/// `overlap_secs = "45"`, `page_size = -1`), read strictly as TOML types it — the layered
/// reading below coerces strings, as it must for environment overrides, which are always
/// text. The message names the file, line, column and key.
fn file_value_problem(path: &Path) -> Option<ConfigError> {
    let text = std::fs::read_to_string(path).ok()?;
    let err = toml::from_str::<PartreelConfig>(&text).err()?;
    let message = err.message();
    if !(message.starts_with("invalid type") || message.starts_with("invalid value")) {
        // Unknown keys and the rest are reported below, all at once.
        return None;
    }
    let at = err
        .span()
        .map(|span| {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            let (line, key) = locate_key(&text, line, message);
            let column = if key.is_some() { 1 } else { column };
            let key = key.map(|k| format!(" ({k})")).unwrap_or_default();
            format!(":{line}:{column}{key}")
        })
        .unwrap_or_default();
    Some(ConfigError::BadValue {
        file: path.to_path_buf(),
        at,
        message: message.to_string(),
    })
}

/// The line and dotted key of a bad value that TOML reported at `line`: the key on that line,
/// under the nearest table header above it; when `line` is a table header (a flattened table
/// reports its own position), the key in that table whose value is the literal the message
/// names (`` `-5` ``, `"yes"`).
fn locate_key(text: &str, line: usize, message: &str) -> (usize, Option<String>) {
    let lines: Vec<&str> = text.lines().collect();
    let header = |l: &str| {
        let l = l.trim();
        (l.starts_with('[') && !l.starts_with("[["))
            .then(|| l.trim_matches(|c| c == '[' || c == ']').trim().to_string())
    };
    let table = lines[..line.min(lines.len())]
        .iter()
        .rev()
        .find_map(|l| header(l));
    let dotted = |k: &str| match &table {
        Some(t) => format!("{t}.{k}"),
        None => k.to_string(),
    };
    let Some(at) = lines.get(line.saturating_sub(1)) else {
        return (line, None);
    };
    if let Some((k, _)) = at.split_once('=')
        && header(at).is_none()
    {
        return (line, Some(dotted(k.trim())));
    }
    let literal = message
        .split('`')
        .nth(1)
        .map(str::to_string)
        .or_else(|| message.split('"').nth(1).map(|s| format!("\"{s}\"")));
    if let Some(lit) = literal {
        for (i, l) in lines.iter().enumerate().skip(line) {
            if header(l).is_some() || l.trim_start().starts_with("[[") {
                break;
            }
            if let Some((k, v)) = l.split_once('=')
                && v.split('#').next().map(str::trim) == Some(lit.as_str())
            {
                return (i + 1, Some(dotted(k.trim())));
            }
        }
    }
    (line, table)
}

/// Reads and validates a configuration file; every problem is reported at once.
pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
    if !path.exists() {
        return Err(ConfigError::NotFound(path.to_path_buf()));
    }
    if let Some(problem) = file_value_problem(path) {
        return Err(problem);
    }
    let unreadable = |message: String| ConfigError::Unreadable {
        file: path.to_path_buf(),
        message,
    };
    let built = config::Config::builder()
        .add_source(config::File::from(path).format(config::FileFormat::Toml))
        .add_source(
            config::Environment::with_prefix("PARTREEL")
                .prefix_separator("__")
                .separator("__"),
        )
        .build()
        .map_err(|e| unreadable(format!("cannot read: {e}")))?;
    let config: PartreelConfig = built
        .try_deserialize()
        .map_err(|e| unreadable(e.to_string()))?;
    let dir = path
        .parent()
        .map(Path::to_path_buf)
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("."));
    let mut problems: Vec<Problem> = Vec::new();
    let s = &config.sync;
    if s.page_size == 0 {
        problems.push(Problem::new("sync.page_size", "must be at least 1"));
    }
    if s.concurrency == 0 {
        problems.push(Problem::new("sync.concurrency", "must be at least 1"));
    }
    if !(0.0..=1.0).contains(&s.degraded_share) {
        problems.push(Problem::new(
            "sync.degraded_share",
            "must be a share between 0 and 1",
        ));
    }
    if s.lease_secs == 0 {
        problems.push(Problem::new("sync.lease_secs", "must be at least 1"));
    }

    // Every system by name, the shorthand ones under their `name` (default: the type).
    let mut systems: BTreeMap<String, SystemSection> = BTreeMap::new();
    for (key, section, side) in [
        ("plm", &config.plm, Side::Plm),
        ("dam", &config.dam, Side::Dam),
    ] {
        if let Some(sys) = section {
            if sys.side() != side {
                problems.push(Problem::new(
                    format!("{key}.type"),
                    format!("{} is not a {key}", sys.kind()),
                ));
            }
            let name = sys.name().unwrap_or(sys.kind()).to_string();
            if config.systems.contains_key(&name) {
                problems.push(Problem::new(
                    key,
                    format!("a system named {name:?} is also in [systems]"),
                ));
            }
            systems.insert(name, sys.clone());
        }
    }
    for (name, sys) in &config.systems {
        if let Some(n) = sys.name()
            && n != name
        {
            problems.push(Problem::new(
                format!("systems.{name}.name"),
                format!("the table key is the name; remove `name` or make it {name:?}"),
            ));
        }
        systems.insert(name.clone(), sys.clone());
    }
    for (name, sys) in &systems {
        let key = if config.systems.contains_key(name) {
            format!("systems.{name}")
        } else if sys.side() == Side::Plm {
            "plm".to_string()
        } else {
            "dam".to_string()
        };
        problems.extend(sys.validate().iter().map(|m| Problem::from_line(&key, m)));
    }

    problems.extend(unknown_system_keys(path));
    if let Some(problem) = state_problem(&config.state) {
        problems.push(problem);
    }

    if let Some(viewer) = &config.viewer
        && let Err(errs) = viewer.validate()
    {
        problems.extend(errs.iter().map(|m| Problem::from_line("viewer", m)));
    }
    if let Some(policy) = &config.provenance {
        problems.extend(
            policy
                .validate()
                .iter()
                .map(|m| Problem::from_line("provenance", m)),
        );
    }

    // The jobs.
    let mut jobs = Vec::new();
    if config.jobs.is_empty() {
        let plms: Vec<&String> = systems
            .iter()
            .filter(|(_, s)| s.side() == Side::Plm)
            .map(|(n, _)| n)
            .collect();
        let dams: Vec<&String> = systems
            .iter()
            .filter(|(_, s)| s.side() == Side::Dam)
            .map(|(n, _)| n)
            .collect();
        match (plms.as_slice(), dams.as_slice()) {
            ([plm], [dam]) => jobs.push(Job {
                name: format!("{plm}-{dam}"),
                plm: (*plm).clone(),
                dam: (*dam).clone(),
                scope: Scope::default(),
                schedule: None,
                jitter: Duration::ZERO,
                run_on_start: false,
            }),
            ([], _) => problems.push(Problem::general(
                "no PLM configured: add [plm] or [systems.NAME] with a PLM type",
            )),
            (_, []) => problems.push(Problem::general(
                "no DAM configured: add [dam] or [systems.NAME] with a DAM type",
            )),
            _ => problems.push(Problem::general(
                "several PLMs or DAMs configured: say which to sync with [[jobs]] (plm = \"…\", dam = \"…\")",
            )),
        }
    }
    for (i, j) in config.jobs.iter().enumerate() {
        for (key, name, side) in [("plm", &j.plm, Side::Plm), ("dam", &j.dam, Side::Dam)] {
            match systems.get(name) {
                None => problems.push(Problem::new(
                    format!("jobs[{i}].{key}"),
                    format!("no system named {name:?}"),
                )),
                Some(s) if s.side() != side => problems.push(Problem::new(
                    format!("jobs[{i}].{key}"),
                    format!("{name:?} is a {} system, not a {key}", s.kind()),
                )),
                Some(_) => {}
            }
        }
        let name = j
            .name
            .clone()
            .unwrap_or_else(|| format!("{}-{}", j.plm, j.dam));
        if jobs.iter().any(|x: &Job| x.name == name) {
            problems.push(Problem::new(
                format!("jobs[{i}].name"),
                format!("{name:?} is used twice"),
            ));
        }
        if let Some(expr) = &j.schedule
            && let Err(e) = crate::daemon::schedule::parse(expr)
        {
            problems.push(Problem::new(format!("jobs[{i}].schedule"), e.to_string()));
        }
        jobs.push(Job {
            name,
            plm: j.plm.clone(),
            dam: j.dam.clone(),
            scope: j.scope.clone(),
            schedule: j.schedule.clone(),
            jitter: Duration::from_secs(j.jitter_secs),
            run_on_start: j.run_on_start,
        });
    }
    if !problems.is_empty() {
        return Err(ConfigError::Invalid {
            file: path.to_path_buf(),
            problems,
        });
    }
    Ok(Loaded {
        path: path.to_path_buf(),
        dir,
        config,
        systems,
        jobs,
    })
}

#[cfg(test)]
mod tests {
    //! The typed errors: each problem keeps its key apart from its message, and a key from a
    //! section's own validation is written once.

    use super::*;

    #[test]
    fn a_section_line_gets_its_key_once() {
        let cases = [
            ("viewer", "viewer: no credential is configured", "viewer"),
            (
                "viewer",
                "viewer.oidc.issuer: must not be empty",
                "viewer.oidc.issuer",
            ),
            (
                "provenance",
                "provenance.max_file_bytes: must be at least 1",
                "provenance.max_file_bytes",
            ),
            (
                "systems.wc",
                "base_url: want an http(s) URL",
                "systems.wc.base_url",
            ),
            ("plm", "a sentence without a key", "plm"),
        ];
        for (section, line, key) in cases {
            let p = Problem::from_line(section, line);
            assert_eq!(p.key, key, "{line}");
            let shown = p.to_string();
            assert!(shown.starts_with(&format!("{key}: ")), "{shown}");
            assert_eq!(
                shown.matches(section).count(),
                1,
                "the section once: {shown}"
            );
        }
        assert_eq!(
            Problem::from_line("systems.wc", "base_url: got \"a: b\"").message,
            "got \"a: b\""
        );
    }

    #[test]
    fn every_problem_is_listed_with_its_key_in_one_typed_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("partreel.toml");
        std::fs::write(&path, "[sync]\npage_size = 0\nlease_secs = 0\n").expect("write");
        let Err(err) = load(&path) else {
            panic!("loads");
        };
        let shown = err.to_string();
        let ConfigError::Invalid { file, problems } = err else {
            panic!("not a validation error: {shown}");
        };
        assert_eq!(file, path);
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            ["sync.page_size", "sync.lease_secs", ""],
            "{problems:?}"
        );
        assert!(problems[2].message.starts_with("no PLM configured"));
        assert!(
            shown.starts_with(&format!(
                "{}: 3 problem(s):\n  sync.page_size: ",
                path.display()
            )),
            "{shown}"
        );
    }

    #[test]
    fn a_missing_file_and_a_bad_value_are_their_own_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("absent.toml");
        assert!(matches!(load(&path), Err(ConfigError::NotFound(p)) if p == path));
        let path = dir.path().join("partreel.toml");
        std::fs::write(&path, "[sync]\noverlap_secs = \"45\"\n").expect("write");
        match load(&path) {
            Err(ConfigError::BadValue { file, at, .. }) => {
                assert_eq!(file, path);
                assert_eq!(at, ":2:1 (sync.overlap_secs)");
            }
            other => panic!("{:?}", other.map(|_| ())),
        }
    }

    /// A system table of a type the registry does not hold is refused, and the message names
    /// every kind the registry does.
    #[test]
    fn an_unknown_type_is_refused_naming_the_known_kinds() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let path = dir.path().join("partreel.toml");
        std::fs::write(
            &path,
            "[systems.cms]\ntype = \"plone\"\nmapping = \"mappings/plone.toml\"\n",
        )
        .expect("write the configuration");
        let err = load(&path).expect_err("an unknown type").to_string();
        assert!(err.contains("plone"), "{err}");
        for s in crate::systems::SYSTEMS {
            assert!(
                err.contains(&format!("`{}`", s.kind)),
                "{} not named: {err}",
                s.kind
            );
        }
    }

    /// Each registry kind is read into its own section, on its side.
    #[test]
    fn each_registry_kind_reads_as_its_section() {
        for s in crate::systems::SYSTEMS {
            let mut table = toml::Table::new();
            table.insert("mapping".into(), "m.toml".into());
            table.insert("type".into(), s.kind.into());
            match SystemSection::deserialize(toml::Value::Table(table)) {
                Ok(section) => {
                    assert_eq!(section.kind(), s.kind);
                    assert_eq!(section.side(), s.side);
                }
                // Required settings are missing; the type itself was recognised.
                Err(e) => assert!(e.to_string().contains("missing field"), "{}: {e}", s.kind),
            }
        }
    }
}
