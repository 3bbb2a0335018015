use crate::db::DbError;
use std::fmt;

/// Why the ledger refused or failed an operation. The API maps each variant to one status code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerError {
    /// The named thing does not exist.
    NotFound(String),
    /// The request contradicts the ledger's state (a different digest, a second decision, ...).
    Conflict(String),
    /// A well-formed value that the ledger cannot accept, such as an unknown cluster.
    Rejected { field: &'static str, reason: String },
    /// The actor may not do this, whatever their role (the four-eyes rule).
    FourEyes(String),
    /// Storage failed; the detail is for logs only.
    Storage(DbError),
}

impl fmt::Display for LedgerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LedgerError::NotFound(what) => write!(f, "{what} not found"),
            LedgerError::Conflict(why) | LedgerError::FourEyes(why) => f.write_str(why),
            LedgerError::Rejected { field, reason } => write!(f, "{field}: {reason}"),
            LedgerError::Storage(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for LedgerError {}

impl From<DbError> for LedgerError {
    fn from(e: DbError) -> Self {
        LedgerError::Storage(e)
    }
}
