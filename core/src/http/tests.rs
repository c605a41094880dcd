//! Unit tests for the HTTP plumbing.
