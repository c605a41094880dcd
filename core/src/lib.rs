//! partreel-core: everything partreel knows that is not specific to one vendor.
//!
//! # Layout
//! - [`model`]: part revisions, video experiments, watermark status and prompt-to-part links.
//! - [`connector`]: the traits a PLM and a DAM connector implement, and the page/query types.
//! - [`error`]: the typed errors connectors and the engine return.
//! - [`http`]: the one HTTP client every connector uses — rate limit, retries, auth hook, secrets.
//! - [`mapping`]: mapping files (canonical field ↔ remote field, owner, transforms).
//! - [`state`]: the state store trait and its SQLite implementation.
//! - [`provenance`]: the watermark-preserved flag computed from the clip file's C2PA manifest.
//! - [`engine`]: the sync engine — pull, resolve, plan, apply, commit.
//! - [`doctor`]: read-only preflight checks of a configured system (`partreel doctor`).
//! - [`telemetry`]: the metrics partreel records.
#![deny(missing_docs)]

pub mod connector;
pub mod doctor;
pub mod engine;
pub mod error;
pub mod http;
pub mod mapping;
pub mod model;
pub mod provenance;
pub mod state;
pub mod telemetry;

pub use connector::{DamConnector, PlmConnector};
pub use error::ConnectorError;
