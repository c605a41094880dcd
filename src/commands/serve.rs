//! `partreel serve`: the viewer over the state a sync keeps.
//!
//! Reads `state`, `[viewer]` and `dam.base_url` from the configuration file itself (other keys
//! are ignored here), so it runs beside a daemon with the same file. When `viewer.dam_hosts`
//! is empty, the DAMs' API hosts are the only hosts the media proxy may fetch from. When the
//! file configures DAM systems, their connectors are built (the whole file is loaded and
//! checked then) so the media proxy fetches each DAM's renditions with that DAM's credentials.
//! `state` is a SQLite file or a PostgreSQL URL (the daemons' shared state); either way the
//! viewer opens it read-only and never creates it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use partreel_core::connector::DamConnector;
use partreel_core::state::view::{PostgresView, SqliteView, ViewStore};
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::cli::ServeArgs;
use crate::viewer::auth::hash_token;
use crate::viewer::config::{StaticTokenConfig, ViewerConfig};
use crate::viewer::{self, ViewerState};

/// The keys `serve` reads from the configuration file.
#[derive(Debug, Deserialize)]
struct ServeFile {
    #[serde(default = "default_state")]
    state: String,
    #[serde(default)]
    viewer: ViewerConfig,
    #[serde(default)]
    dam: Option<SystemKeys>,
    #[serde(default)]
    systems: std::collections::BTreeMap<String, SystemKeys>,
}

/// The keys of a system table the viewer needs.
#[derive(Debug, Deserialize)]
struct SystemKeys {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    base_url: Option<String>,
}

/// The environment override of `state` (the configuration's `PARTREEL__SECTION__KEY` scheme).
const STATE_ENV: &str = "PARTREEL__STATE";

/// Whether a system type is a DAM's (the registry's DAM kinds).
fn is_dam_type(kind: &str) -> bool {
    crate::systems::kinds(crate::systems::Side::Dam).any(|k| k == kind)
}

fn default_state() -> String {
    "partreel.db".into()
}

/// Where the state the viewer reads lives.
#[derive(Debug, Clone)]
pub enum StateAt {
    /// A SQLite state file.
    File(PathBuf),
    /// A PostgreSQL URL (`postgres://…`).
    Url(String),
}

impl StateAt {
    /// Opens the read-only view, with at most `connections` queries at once.
    async fn open(&self, connections: usize) -> anyhow::Result<Arc<dyn ViewStore>> {
        Ok(match self {
            StateAt::File(path) => Arc::new(SqliteView::open(path, connections)?),
            StateAt::Url(url) => Arc::new(PostgresView::connect(url, connections).await?),
        })
    }
}

/// A viewer serving in the background.
pub struct Running {
    /// `http://ADDR`.
    pub url: String,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Stops serving and waits for open requests to finish.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.task.await.context("viewer task")??;
        Ok(())
    }
}

/// The DAM connectors of the configuration, by system name (none when it names no DAM).
pub type Dams = BTreeMap<String, Arc<dyn DamConnector>>;

/// Validates `cfg`, opens the state read-only, binds and serves in the background; the media
/// proxy uses `dams`' credentials.
pub async fn start(state: &StateAt, cfg: &ViewerConfig, dams: Dams) -> anyhow::Result<Running> {
    let validated = cfg
        .validate()
        .map_err(|errs| anyhow::anyhow!("{} problem(s):\n  {}", errs.len(), errs.join("\n  ")))?;
    let view = state.open(validated.query_connections).await?;
    let listen = validated.listen;
    let st = Arc::new(ViewerState::new(view, validated)?.with_dams(dams));
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("viewer: cannot listen on {listen}"))?;
    let url = format!("http://{}", listener.local_addr()?);
    let (stop, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(viewer::serve(listener, st, async {
        let _ = rx.await;
    }));
    Ok(Running { url, stop, task })
}

/// The `host:port` of a URL, for `dam_hosts`.
pub fn host_port(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    let host = u.host_str()?;
    Some(match u.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    })
}

/// Builds the connectors of the DAM systems `names` from the whole configuration at `path`.
fn dam_connectors(path: &Path, names: &[String]) -> anyhow::Result<Dams> {
    if names.is_empty() {
        return Ok(Dams::new());
    }
    let cfg =
        crate::config::load(path).context("the media proxy needs the DAM systems' credentials")?;
    names
        .iter()
        .map(|n| Ok((n.clone(), crate::wiring::dam(&cfg, n)?)))
        .collect()
}

fn read(path: &Path) -> anyhow::Result<(StateAt, ViewerConfig, Vec<String>)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read configuration {}", path.display()))?;
    let file: ServeFile =
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // As for the daemon, the environment's PARTREEL__STATE wins (the URL with its password
    // comes from a secret, the file holds a placeholder).
    let from_env = std::env::var(STATE_ENV)
        .ok()
        .filter(|s| !s.trim().is_empty());
    let s = from_env.as_deref().unwrap_or(&file.state).trim();
    let state = if s.starts_with("postgres://") || s.starts_with("postgresql://") {
        StateAt::Url(s.to_string())
    } else {
        let file = Path::new(s.strip_prefix("sqlite://").unwrap_or(s));
        StateAt::File(if file.is_absolute() {
            file.to_path_buf()
        } else {
            dir.join(file)
        })
    };
    let mut viewer = file.viewer;
    let dam_names: Vec<String> = file
        .systems
        .iter()
        .filter(|(_, s)| s.kind.as_deref().is_some_and(is_dam_type))
        .map(|(n, _)| n.clone())
        .collect();
    if viewer.dam_hosts.is_empty() {
        let named = file
            .systems
            .into_values()
            .filter(|s| s.kind.as_deref().is_some_and(is_dam_type));
        viewer.dam_hosts = file
            .dam
            .into_iter()
            .chain(named)
            .filter_map(|d| d.base_url.as_deref().and_then(host_port))
            .collect();
    }
    Ok((state, viewer, dam_names))
}

pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut shutdown = super::Shutdown::listen();
    let (state, mut cfg, dam_names) = read(&args.config)?;
    if let Some(listen) = args.listen {
        cfg.listen = listen;
    }
    let dams = dam_connectors(&args.config, &dam_names)?;
    let running = start(&state, &cfg, dams)
        .await
        // The viewer's errors name the `viewer` key themselves.
        .with_context(|| args.config.display().to_string())?;
    println!("partreel viewer listening on {}", running.url);
    shutdown.wait().await;
    running.stop().await?;
    Ok(ExitCode::SUCCESS)
}

/// Starts the viewer for `partreel demo --serve` on a free loopback port, with a fresh random
/// token (returned, only its hash is configured), the DAM emulators as the DAM hosts, and the
/// DAM connectors of the demo's configuration `config` for their credentials.
pub async fn start_demo(
    state: &Path,
    config: &Path,
    dam_urls: &[&str],
) -> anyhow::Result<(Running, String)> {
    let token = hex::encode(rand::random::<[u8; 24]>());
    let cfg = ViewerConfig {
        listen: "127.0.0.1:0".into(),
        tokens: vec![StaticTokenConfig {
            name: "demo".into(),
            sha256: hex::encode(hash_token(&token)),
            expires: None,
        }],
        dam_hosts: dam_urls.iter().filter_map(|u| host_port(u)).collect(),
        ..ViewerConfig::default()
    };
    let (_, _, dam_names) = read(config)?;
    let dams = dam_connectors(config, &dam_names)?;
    Ok((
        start(&StateAt::File(state.to_path_buf()), &cfg, dams).await?,
        token,
    ))
}
