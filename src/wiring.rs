//! Builds the running pieces — connectors, mappings, state store, engines — from a loaded
//! configuration. Each system's connector is built once and shared by the jobs that use it
//! (so they share its rate limit and session).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use partreel_core::connector::{DamBuildContext, PlmBuildContext};
use partreel_core::engine::SyncEngine;
use partreel_core::mapping::{Entity, Mapping, MappingSet};
use partreel_core::state::StateStore;
use partreel_core::state::postgres::PostgresStore;
use partreel_core::state::sqlite::SqliteStore;
use partreel_core::{DamConnector, PlmConnector};

use crate::config::{Job, Loaded};

/// A system's mapping file, resolved.
pub fn mapping_file(cfg: &Loaded, system: &str) -> anyhow::Result<PathBuf> {
    let sys = cfg
        .systems
        .get(system)
        .with_context(|| format!("no system named {system:?}"))?;
    Ok(cfg.resolve(sys.mapping()))
}

/// Reads one system's mapping file.
pub fn mapping(cfg: &Loaded, system: &str) -> anyhow::Result<Mapping> {
    let file = mapping_file(cfg, system)?;
    Mapping::load(&file).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Reads both mapping files of a job.
pub fn mappings(cfg: &Loaded, job: &Job) -> anyhow::Result<MappingSet> {
    MappingSet::new(mapping(cfg, &job.plm)?, mapping(cfg, &job.dam)?)
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// Builds a PLM connector (resolves its secrets). `maps` gives the properties to read.
pub fn plm(cfg: &Loaded, name: &str, maps: &Mapping) -> anyhow::Result<Arc<dyn PlmConnector>> {
    let where_ = || format!("{}: system {name}", cfg.path.display());
    let Some(sys) = cfg.systems.get(name) else {
        bail!("{}: not configured", where_());
    };
    let ctx = PlmBuildContext {
        system: name.to_string(),
        config_dir: cfg.dir.clone(),
        part_properties: maps.remote_names(Entity::Part),
        link_properties: maps.remote_names(Entity::Link),
    };
    match sys.build_plm(ctx, where_) {
        Some(built) => built,
        None => bail!("{}: a {} system is not a PLM", where_(), sys.kind()),
    }
}

/// Builds a DAM connector (resolves its secrets).
pub fn dam(cfg: &Loaded, name: &str) -> anyhow::Result<Arc<dyn DamConnector>> {
    let where_ = || format!("{}: system {name}", cfg.path.display());
    let Some(sys) = cfg.systems.get(name) else {
        bail!("{}: not configured", where_());
    };
    let ctx = DamBuildContext {
        system: name.to_string(),
        config_dir: cfg.dir.clone(),
    };
    match sys.build_dam(ctx, where_) {
        Some(built) => built,
        None => bail!("{}: a {} system is not a DAM", where_(), sys.kind()),
    }
}

/// Closes each PLM connector of these engines once (jobs share connectors): Teamcenter logs
/// out; stateless connectors do nothing.
pub async fn close(engines: &[(String, SyncEngine)]) {
    let mut closed: Vec<&Arc<dyn PlmConnector>> = Vec::new();
    for (_, engine) in engines {
        let plm = engine.plm();
        if closed.iter().any(|c| Arc::ptr_eq(c, plm)) {
            continue;
        }
        plm.close().await;
        closed.push(plm);
    }
}

/// Opens the state store: PostgreSQL when `state` is a `postgres://` URL (connecting and
/// migrating now, so an unreachable database fails at start), else the SQLite file.
pub fn store(cfg: &Loaded) -> anyhow::Result<Arc<dyn StateStore>> {
    if let Some(url) = cfg.state_url() {
        // Called from sync code on the binary's multi-thread runtime: connect on it (the
        // store's sessions live there), without blocking its other tasks.
        let runtime = tokio::runtime::Handle::try_current()
            .context("the PostgreSQL state store needs the async runtime")?;
        if runtime.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
            bail!("the PostgreSQL state store is opened from the multi-thread runtime only");
        }
        let store = tokio::task::block_in_place(|| runtime.block_on(PostgresStore::connect(url)))
            .with_context(|| format!("{}: state", cfg.path.display()))?;
        return Ok(Arc::new(store));
    }
    let path = cfg.state_path()?;
    let wait = Duration::from_secs(cfg.config.sync.state_wait_secs);
    let store = SqliteStore::open_with(&path, wait).with_context(|| {
        format!(
            "{}: state: cannot open the SQLite file {}",
            cfg.path.display(),
            path.display()
        )
    })?;
    Ok(Arc::new(store))
}

/// Builds one engine per job (named, in configuration order), sharing connectors and the state
/// store; `tweak` adjusts each job's options (command-line flags).
pub fn engines(
    cfg: &Loaded,
    jobs: &[Job],
    tweak: impl Fn(&mut partreel_core::engine::SyncOptions),
) -> anyhow::Result<Vec<(String, SyncEngine)>> {
    engines_with_store(cfg, store(cfg)?, jobs, tweak)
}

/// [`engines`] on a state store the caller already opened (the daemon also checks it for
/// `/readyz` and reads its gauges).
pub fn engines_with_store(
    cfg: &Loaded,
    store: Arc<dyn StateStore>,
    jobs: &[Job],
    tweak: impl Fn(&mut partreel_core::engine::SyncOptions),
) -> anyhow::Result<Vec<(String, SyncEngine)>> {
    let mut plms: BTreeMap<String, Arc<dyn PlmConnector>> = BTreeMap::new();
    let mut dams: BTreeMap<String, Arc<dyn DamConnector>> = BTreeMap::new();
    // One provenance checker for every job (its c2pa settings are built once).
    let policy = cfg.config.provenance.clone().unwrap_or_default();
    let problems = policy.validate();
    if !problems.is_empty() {
        bail!("{}: {}", cfg.path.display(), problems.join("; "));
    }
    let checker = Arc::new(
        partreel_core::provenance::Checker::new(&policy)
            .with_context(|| format!("{}: provenance", cfg.path.display()))?,
    );
    let mut engines = Vec::new();
    for job in jobs {
        let maps = mappings(cfg, job)?;
        let plm = match plms.get(&job.plm) {
            Some(p) => p.clone(),
            None => {
                let p = plm(cfg, &job.plm, &maps.plm)?;
                plms.insert(job.plm.clone(), p.clone());
                p
            }
        };
        let dam = match dams.get(&job.dam) {
            Some(d) => d.clone(),
            None => {
                let d = dam(cfg, &job.dam)?;
                dams.insert(job.dam.clone(), d.clone());
                d
            }
        };
        let mut opts = cfg.sync_options(job);
        opts.provenance = Some(checker.clone());
        tweak(&mut opts);
        engines.push((
            job.name.clone(),
            SyncEngine::new(plm, dam, store.clone(), Arc::new(maps), opts),
        ));
    }
    Ok(engines)
}
