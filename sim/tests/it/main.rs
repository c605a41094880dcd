//! Integration tests of the emulators: a started `Sim` driven over HTTP with reqwest.

mod bynder;
mod conformance;
mod faults;
mod scale;
mod seeding;
mod util;
mod windchill;
