//! partreel-aem: the [`partreel_connector::DamConnector`] for Adobe Experience Manager Assets (AEM as
//! a Cloud Service and AEM 6.5).
//!
//! AEM holds the AI video clips under one DAM folder (`dam_root`); their tags (SKU, part number
//! and revision, prompt, model, review status, rights, watermark …) are properties of each
//! asset's `jcr:content/metadata` node. This crate finds changed clips with the QueryBuilder
//! (`jcr:content/jcr:lastModified`, oldest first), reads one through the Assets HTTP API (Siren
//! JSON under `/api/assets`), writes metadata with `PUT {"class":"asset","properties":{…}}` and
//! confirms each write by reading the asset back. Credentials are Adobe IMS OAuth
//! server-to-server tokens (or a fixed bearer token for local development). The wire contract is
//! `docs/wire/aem.md`.
//!
//! # Layout
//! - [`config`]: [`AemConfig`], its pure validation and the build step.
//! - [`auth`]: IMS client credentials or a fixed bearer token.
//! - [`csrf`]: the Granite CSRF token on writes.
//! - [`client`]: [`AemClient`], the requests.
//! - [`wire`]: paths, query parameters and the JSON shapes (Siren, QueryBuilder).
//! - [`convert`]: Siren entity / QueryBuilder hit → [`partreel_connector::model::VideoExperiment`].
//! - [`folder`]: folder listings with Siren paging.
#![deny(missing_docs)]

pub mod auth;
pub mod client;
pub mod config;
pub mod convert;
pub mod csrf;
pub mod folder;
pub mod wire;

pub use client::AemClient;
pub use config::{AemAuthConfig, AemConfig, BuildContext, ValidatedAem};
pub use folder::FolderEntry;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod props;
