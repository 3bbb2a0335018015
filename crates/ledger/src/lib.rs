//! The release ledger: which release (an OCI artifact digest) runs in which cluster, the
//! approvals that gate production, and the audit trail.
//!
//! This crate holds every business rule and every SQL statement. It knows nothing of Spin or
//! HTTP: the `backend` component parses requests into the validated types of [`types`], calls
//! [`Ledger`], and runs the SQL through an [`Executor`] backed by Spin's SQLite or PostgreSQL.
//! Native tests drive the very same code through `rusqlite` and `postgres`.

pub mod analysis;
pub mod clusters;
pub mod db;
pub mod drift;
mod error;
pub mod filters;
pub mod identity;
pub mod insights;
mod ledger;
pub mod migrations;
pub mod model;
mod store;
pub mod time;
pub mod types;

pub use clusters::Clusters;
pub use db::{DbError, Dialect, Executor, Row, Value};
pub use error::LedgerError;
pub use ledger::{Context, Created, Ledger, Observed};
pub use time::Timestamp;
