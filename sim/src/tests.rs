//! Unit tests of the emulators driven in-process.
