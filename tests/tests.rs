//! End-to-end tests: the `partreel` binary against the emulators, one test binary (so CI links
//! once), one module per area.

mod util;

mod aem;
mod cli;
mod concurrent;
mod daemon;
mod doctor;
mod duplicates;
mod faults;
mod manifest;
mod postgres;
mod provenance;
mod provenance_sync;
mod state_file;
mod sync;
mod teamcenter;
mod threedx;
mod threedx_bynder;
mod variants;
mod viewer;
