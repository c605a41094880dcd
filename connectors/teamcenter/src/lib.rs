//! partreel's connector for Siemens Teamcenter, spoken through its SOA services over JSON/REST
//! as pinned in `docs/wire/teamcenter.md`.
//!
//! Part revisions are item revisions, found by a business object query on their modification
//! time or by item id (`getItemFromId`), and read with `loadObjects` under an object property
//! policy that names only the properties partreel and the mapping need. A prompt-to-part link is
//! a record (a Form subtype by default) holding the link id, status, clip URL and mapped fields,
//! related to the item revision by a GRM relation (`PromptToPart` by default). Writes are
//! batched: array inputs tagged with `clientId`s, partial errors mapped back to their element.
//!
//! # Layout
//! - `config`: [`TeamcenterConfig`] (pure validation) → [`ValidatedTeamcenter`] → [`TeamcenterClient`].
//! - `auth`: [`TeamcenterSession`] — login, the `JSESSIONID` cookie, one re-login per expiry, logout.
//! - `client`: the [`partreel_connector::PlmConnector`] implementation (reads and the call wrapper);
//!   `client/links.rs` creates and relates records, `client/update.rs` writes and retires them,
//!   `client/schema.rs` reads type descriptions.
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

pub use auth::TeamcenterSession;
pub use client::TeamcenterClient;
pub use config::{BuildContext, Retire, TeamcenterConfig, ValidatedTeamcenter, default_rate_limit};
