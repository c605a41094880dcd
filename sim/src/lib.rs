//! partreel-sim: loopback emulators of the vendor APIs partreel speaks, with deterministic seed
//! data, fault injection and a request log.
//!
//! # Layout
//! - [`framework`]: what every emulator shares — the sim clock, fault injection, the rate
//!   limit, the request log and the serving middleware.
//! - `windchill`: PTC Windchill WRS (OData v4), per `docs/wire/windchill.md`.
//! - `bynder`: Bynder API v4, per `docs/wire/bynder.md`.
//! - `seed`: the deterministic generator (the demo story, then N parts and M clips).
//! - `control`: the `/__sim/` HTTP control API for a sim run as its own process.
//! - [`teamcenter`], [`threedx`], [`aem`]: the Siemens Teamcenter, 3DEXPERIENCE and AEM Assets
//!   emulators, each startable on its own.
//! - [`registry`]: the one list of the emulated systems (kind, side, endpoints, the settings
//!   of the written configuration, the vendor's error shapes), which the rest iterates.
//! - [`Sim`]: all five emulators (Windchill, Teamcenter, 3DEXPERIENCE, Bynder, AEM) started on
//!   `127.0.0.1:0` on one clock, with test mutations.
#![deny(missing_docs)]

pub mod aem;
mod bynder;
pub mod config_writer;
mod control;
pub mod framework;
pub mod registry;
mod seed;
mod sim;
pub mod teamcenter;
pub mod threedx;
mod windchill;

#[cfg(test)]
mod tests;

pub use framework::clock::SimClock;
pub use framework::faults::{FaultControl, FaultCounters, FaultKind, FaultPlan};
pub use framework::ratelimit::RateLimit;
pub use framework::reqlog::{RequestEntry, RequestLog, System};
/// What a clip file carries, for [`Sim::bynder_replace_file`].
pub use partreel_testkit::fixtures::ClipKind;
pub use sim::{Emulator, FileFault, GeneratedPlm, Sim, SimConfig, SimCredentials};
