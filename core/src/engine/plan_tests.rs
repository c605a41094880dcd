//! Table tests for planning.
