//! partreel-connector: all a connector depends on, and nothing more.
//!
//! A connector crate (Windchill, Teamcenter, 3DEXPERIENCE, Bynder, AEM) builds on this crate
//! alone: no state store, no PostgreSQL, no C2PA in its dependency tree. `partreel-core` (the
//! engine, state stores, mappings and the provenance check) re-exports these modules, so
//! `partreel_core::http::HttpClient` and `partreel_connector::http::HttpClient` are one type.
//!
//! # Layout
//! - [`model`]: part revisions, video experiments, watermark status and prompt-to-part links.
//! - [`connector`]: the traits a PLM and a DAM connector implement, and the page/query types.
//! - [`error`]: the typed errors connectors return.
//! - [`http`]: the one HTTP client every connector uses — rate limit, retries, auth, secrets,
//!   streaming.
//! - [`provenance`]: what a connector needs of provenance — the bounded download of a clip's
//!   original file, the evidence and verdict types stored with a clip.
//! - [`telemetry`]: the metrics partreel records.
#![deny(missing_docs)]

pub mod connector;
pub mod error;
pub mod http;
pub mod model;
pub mod provenance;
pub mod telemetry;

#[cfg(test)]
mod props;

pub use connector::{DamConnector, PlmConnector};
pub use error::ConnectorError;
