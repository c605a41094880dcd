//! partreel-bynder: the [`partreel_connector::DamConnector`] for Bynder's asset bank (API v4).
//!
//! Bynder holds the AI video clips; their tags (SKU, part number and revision, prompt, model,
//! review status, rights, watermark …) are metaproperties. This crate lists changed video media,
//! reads one, writes metaproperties by name (mapping names to ids and select options to option
//! ids, creating missing options) and confirms each asynchronous write by reading it back.
//! The wire contract is `docs/wire/bynder.md`.
//!
//! # Layout
//! - [`config`]: [`BynderConfig`], its pure validation and the build step.
//! - [`auth`]: OAuth 2.0 client credentials or a permanent token.
//! - [`client`]: [`BynderClient`], the requests.
//! - [`wire`]: the JSON shapes.
//! - [`convert`]: media JSON → [`partreel_connector::model::VideoExperiment`].
//! - [`metaprops`]: the metaproperty definition cache and write planning.
#![deny(missing_docs)]

pub mod auth;
pub mod client;
pub mod config;
pub mod convert;
pub mod metaprops;
pub mod wire;

pub use client::BynderClient;
pub use config::{BuildContext, BynderAuthConfig, BynderConfig, ValidatedBynder};

#[cfg(test)]
mod tests;

#[cfg(test)]
mod props;
