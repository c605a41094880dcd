//! partreel's connector for Dassault Systèmes 3DEXPERIENCE, spoken through the 3DPassport login
//! and the 3DSpace REST web services as pinned in `docs/wire/threedx.md`.
//!
//! Part revisions are Engineering Items (`dseng:EngItem`), found with the search service and
//! read in batches with `bulkfetch`; the part number is the Enterprise Item Number. A
//! prompt-to-part link is a Document created under the item with a "Reference Document" parent
//! relation (configurable), carrying the link id and the mapped fields as document attributes.
//!
//! # Layout
//! - `config`: [`ThreedxConfig`] (pure validation) → [`ValidatedThreedx`] → [`ThreedxClient`].
//! - `auth`: [`ThreedxSession`] — the CAS login (or batch-service ticket, or agent Basic
//!   credentials), the 3DSpace session cookie, the `SecurityContext` header and the
//!   `ENO_CSRF_TOKEN` on writes; `auth/login.rs` holds the passport handshakes.
//! - `client`: the [`partreel_connector::PlmConnector`] implementation; `client/scan.rs` turns
//!   unordered search results into the engine's oldest-first keyset pages; `client/links.rs`
//!   holds the document writes.
//! - `wire`, `convert`: the JSON shapes and their conversion to partreel's model.
#![deny(missing_docs)]

mod auth;
mod client;
mod config;
mod convert;
mod wire;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod props;

pub use auth::ThreedxSession;
pub use client::ThreedxClient;
pub use config::{
    AuthConfig, BuildContext, DEFAULT_CSRF_MAX_AGE_SECS, DEFAULT_MODIFIED_PREDICATE, RetireMode,
    ThreedxConfig, ValidatedThreedx,
};
