//! partreel's configuration file: the state store, sync settings, and one PLM and one DAM.
//!
//! Read with the `config` crate (TOML, plus `PARTREEL__SECTION__KEY` environment overrides),
//! then validated purely: every problem is collected and reported at once, each naming the
//! file and key. Secrets are never in this file — only `{ env = "…" }` or `{ file = "…" }`
//! references to them. See `docs/configuration.md`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use partreel_bynder::BynderConfig;
use partreel_core::engine::SyncOptions;
use partreel_windchill::WindchillConfig;
use serde::Deserialize;

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
    /// The PLM.
    pub plm: PlmSection,
    /// The DAM.
    pub dam: DamSection,
}

fn default_state() -> String {
    "partreel.db".into()
}

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
    /// Name of this process in work leases.
    pub instance: String,
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
            instance: d.owner,
        }
    }
}

/// `[plm]`: which PLM, tagged by `type`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PlmSection {
    /// PTC Windchill (WRS).
    Windchill(Endpoint<WindchillConfig>),
}

/// `[dam]`: which DAM, tagged by `type`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DamSection {
    /// Bynder.
    Bynder(Endpoint<BynderConfig>),
}

/// A system: its name, its mapping file and its connector settings.
#[derive(Debug, Clone, Deserialize)]
pub struct Endpoint<C> {
    /// System name used in link ids, logs and reports (default: the type).
    #[serde(default)]
    pub name: Option<String>,
    /// Mapping file (relative to this file).
    pub mapping: PathBuf,
    /// Connector settings.
    #[serde(flatten)]
    pub settings: C,
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

    /// The SQLite state file.
    pub fn state_path(&self) -> anyhow::Result<PathBuf> {
        let s = self.config.state.trim();
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            bail!(
                "{}: state: PostgreSQL state stores are not available in this build; use a SQLite file path",
                self.path.display()
            );
        }
        let p = s.strip_prefix("sqlite://").unwrap_or(s);
        Ok(self.resolve(Path::new(p)))
    }

    /// Sync options from `[sync]`.
    pub fn sync_options(&self) -> SyncOptions {
        let s = &self.config.sync;
        SyncOptions {
            overlap: Duration::from_secs(s.overlap_secs),
            page_size: s.page_size,
            carry_forward: s.carry_forward,
            concurrency: s.concurrency,
            full_scan_interval: (s.full_scan_interval_hours > 0)
                .then(|| Duration::from_secs(s.full_scan_interval_hours * 3600)),
            owner: s.instance.clone(),
            ..SyncOptions::default()
        }
    }
}

/// Reads and validates a configuration file; every problem is reported at once.
pub fn load(path: &Path) -> anyhow::Result<Loaded> {
    if !path.exists() {
        bail!("configuration file {} not found", path.display());
    }
    let built = config::Config::builder()
        .add_source(config::File::from(path).format(config::FileFormat::Toml))
        .add_source(
            config::Environment::with_prefix("PARTREEL")
                .prefix_separator("__")
                .separator("__"),
        )
        .build()
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let config: PartreelConfig = built
        .try_deserialize()
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let dir = path
        .parent()
        .map(Path::to_path_buf)
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("."));
    let loaded = Loaded {
        path: path.to_path_buf(),
        dir,
        config,
    };
    let mut problems = Vec::new();
    let s = &loaded.config.sync;
    if s.page_size == 0 {
        problems.push("sync.page_size: must be at least 1".to_string());
    }
    if s.concurrency == 0 {
        problems.push("sync.concurrency: must be at least 1".to_string());
    }
    match &loaded.config.plm {
        PlmSection::Windchill(e) => {
            if let Err(errs) = e.settings.validate() {
                problems.extend(errs.into_iter().map(|m| format!("plm.{m}")));
            }
        }
    }
    match &loaded.config.dam {
        DamSection::Bynder(e) => {
            if let Err(errs) = e.settings.validate() {
                problems.extend(errs.into_iter().map(|m| format!("dam.{m}")));
            }
        }
    }
    if !problems.is_empty() {
        bail!(
            "{}: {} problem(s):\n  {}",
            path.display(),
            problems.len(),
            problems.join("\n  ")
        );
    }
    Ok(loaded)
}
