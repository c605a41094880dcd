//! partreel's connector for PTC Windchill, spoken through Windchill REST Services (WRS, OData
//! v4) as pinned in `docs/wire/windchill.md`.
//!
//! Part revisions are read from `ProdMgmt/Parts`. A prompt-to-part link is a WTDocument in
//! `DocMgmt/Documents` that carries the link id and the mapped fields as soft attributes (IBAs)
//! and hangs on the part revision through a describe link (`Parts('…')/DescribedBy`).
//!
//! # Layout
//! - `config`: [`WindchillConfig`] (pure validation) → [`ValidatedWindchill`] → [`WindchillClient`].
//! - `auth`: [`WindchillSession`] — HTTP Basic on every request, the CSRF nonce on writes.
//! - `client`: the [`partreel_connector::PlmConnector`] implementation; `client/links.rs` holds the
//!   write half (create the document, attach it, read back a write's answer).
//! - `odata`: URL, key and `$filter` literal building.
//! - `wire`, `convert`: the JSON shapes and their conversion to partreel's model.
//! - `metadata`: EDMX `$metadata` → [`partreel_connector::connector::RemoteSchema`].
//! - `typed`: values written as the types `$metadata` declares, and compared back by type.
#![deny(missing_docs)]

mod auth;
mod batch;
mod client;
mod config;
mod convert;
mod metadata;
mod odata;
mod typed;
mod wire;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod props;

pub use auth::WindchillSession;
pub use client::WindchillClient;
pub use config::{BuildContext, ValidatedWindchill, WindchillConfig};
