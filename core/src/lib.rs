//! partreel-core: everything partreel knows that is not specific to one vendor.
//!
//! # Layout
//! - [`model`], [`connector`], [`error`], [`http`], [`telemetry`]: re-exported from
//!   `partreel-connector`, the crate connectors build on (the model, the connector traits, typed
//!   errors, the HTTP plumbing, the metrics).
//! - [`mapping`]: mapping files (canonical field ↔ remote field, owner, transforms).
//! - [`state`]: the state store trait and its SQLite implementation.
//! - [`provenance`]: the watermark-preserved flag computed from the clip file's C2PA manifest.
//! - [`engine`]: the sync engine — pull, resolve, plan, apply, commit.
//! - [`doctor`]: read-only preflight checks of a configured system (`partreel doctor`).
#![deny(missing_docs)]

pub mod doctor;
pub mod engine;
pub mod mapping;
pub mod provenance;
pub mod state;

#[cfg(test)]
mod props;

pub use partreel_connector::{ConnectorError, DamConnector, PlmConnector};
pub use partreel_connector::{connector, error, http, model, telemetry};
