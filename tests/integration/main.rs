//! Integration tests: see common.rs.
