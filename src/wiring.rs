//! Builds the running pieces — connectors, mappings, state store, engine — from a loaded
//! configuration.

use std::sync::Arc;

use anyhow::Context;
use partreel_core::engine::{SyncEngine, SyncOptions};
use partreel_core::mapping::{Entity, Mapping, MappingSet};
use partreel_core::state::StateStore;
use partreel_core::state::sqlite::SqliteStore;
use partreel_core::{DamConnector, PlmConnector};

use crate::config::{DamSection, Loaded, PlmSection};

/// Reads both mapping files.
pub fn mappings(cfg: &Loaded) -> anyhow::Result<MappingSet> {
    let (plm_file, dam_file) = mapping_files(cfg);
    let plm = Mapping::load(&plm_file).map_err(|e| anyhow::anyhow!("{e}"))?;
    let dam = Mapping::load(&dam_file).map_err(|e| anyhow::anyhow!("{e}"))?;
    MappingSet::new(plm, dam).map_err(|e| anyhow::anyhow!("{e}"))
}

/// The mapping file paths, resolved.
pub fn mapping_files(cfg: &Loaded) -> (std::path::PathBuf, std::path::PathBuf) {
    let plm = match &cfg.config.plm {
        PlmSection::Windchill(e) => cfg.resolve(&e.mapping),
    };
    let dam = match &cfg.config.dam {
        DamSection::Bynder(e) => cfg.resolve(&e.mapping),
    };
    (plm, dam)
}

/// Builds the PLM connector (resolves its secrets).
pub fn plm(cfg: &Loaded, maps: &MappingSet) -> anyhow::Result<Arc<dyn PlmConnector>> {
    match &cfg.config.plm {
        PlmSection::Windchill(e) => {
            let system = e.name.clone().unwrap_or_else(|| "windchill".into());
            let validated = e
                .settings
                .validate()
                .map_err(|errs| anyhow::anyhow!("plm: {}", errs.join("; ")))?;
            let client = validated
                .build(partreel_windchill::BuildContext {
                    system,
                    config_dir: cfg.dir.clone(),
                    part_properties: maps.plm.remote_names(Entity::Part),
                    link_properties: maps.plm.remote_names(Entity::Link),
                })
                .with_context(|| format!("{}: plm", cfg.path.display()))?;
            Ok(Arc::new(client))
        }
    }
}

/// Builds the DAM connector (resolves its secrets).
pub fn dam(cfg: &Loaded) -> anyhow::Result<Arc<dyn DamConnector>> {
    match &cfg.config.dam {
        DamSection::Bynder(e) => {
            let system = e.name.clone().unwrap_or_else(|| "bynder".into());
            let validated = e
                .settings
                .validate()
                .map_err(|errs| anyhow::anyhow!("dam: {}", errs.join("; ")))?;
            let client = validated
                .build(partreel_bynder::BuildContext {
                    system,
                    config_dir: cfg.dir.clone(),
                })
                .with_context(|| format!("{}: dam", cfg.path.display()))?;
            Ok(Arc::new(client))
        }
    }
}

/// Opens the state store.
pub fn store(cfg: &Loaded) -> anyhow::Result<Arc<dyn StateStore>> {
    let path = cfg.state_path()?;
    let store = SqliteStore::open(&path)?;
    Ok(Arc::new(store))
}

/// Everything a sync needs.
pub fn engine(
    cfg: &Loaded,
    opts: SyncOptions,
) -> anyhow::Result<(SyncEngine, Arc<dyn StateStore>)> {
    let maps = mappings(cfg)?;
    let plm = plm(cfg, &maps)?;
    let dam = dam(cfg)?;
    let store = store(cfg)?;
    Ok((
        SyncEngine::new(plm, dam, store.clone(), Arc::new(maps), opts),
        store,
    ))
}
