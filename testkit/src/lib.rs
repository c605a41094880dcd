//! partreel-testkit: what partreel's tests and emulators share, kept out of the engine and the
//! connectors.
//!
//! - [`fixtures`]: test clips with real C2PA manifests — signed by an ephemeral certificate
//!   chain, stripped the way a re-encode does, or altered after signing. The emulators serve
//!   them as the DAMs' files (so `partreel demo` ships this crate through `partreel-sim`);
//!   `partreel-core`'s own tests check them.
//! - [`props`] (feature `props`): property-test strategies for parsers of outside data.
//! - [`mock`] (feature `mock`): the wiremock server with a catch-all that fails unexpected
//!   requests; [`logs`] (feature `logs`): a log buffer for the no-secret-in-logs tests.
//! - [`compliance`] (feature `compliance`): the contract tests every PLM and DAM connector runs
//!   against its emulator ([`plm_compliance!`], [`dam_compliance!`]).
#![deny(missing_docs)]

pub mod fixtures;

#[cfg(feature = "props")]
pub mod props;

#[cfg(feature = "mock")]
pub mod mock;

#[cfg(feature = "logs")]
pub mod logs;

#[cfg(feature = "compliance")]
pub mod compliance;
