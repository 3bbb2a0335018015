//! What the host lends the router for one request: its capabilities (variables, the database,
//! the key-value store, the clock, fresh ids, the body), each as a function or a trait, so
//! that the Spin edge lends Spin's and the native tests lend real databases and a map.

use crate::http::Body;
use ledger::{DbError, Executor, Timestamp};

/// What the read model needs from a key-value store (Spin's `default` store in the
/// component; a map in the native tests). Errors are the store's, in words.
pub trait KeyValue {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String>;
    fn set(&self, key: &str, value: &[u8]) -> Result<(), String>;
}

/// Opens the database: PostgreSQL at the given `db_url`, or the default SQLite database.
pub type OpenDb<'a> = dyn Fn(Option<&str>) -> Result<Box<dyn Executor + 'a>, DbError> + 'a;

/// Opens the key-value store the read model lives in (Spin's `default` store).
pub type OpenKeyValue<'a> = dyn Fn() -> Result<Box<dyn KeyValue + 'a>, String> + 'a;

/// What the host lends the router for one request.
pub struct Host<'a> {
    /// A Spin variable's value, or `None` if it is not set.
    pub variable: &'a dyn Fn(&str) -> Option<String>,
    pub open_db: &'a OpenDb<'a>,
    pub open_key_value: &'a OpenKeyValue<'a>,
    pub now: Timestamp,
    /// A fresh random id, used when the request brings no usable `x-request-id`.
    pub fresh_request_id: String,
    /// A fresh random trace id (32 hex digits), used when the request brings no usable
    /// `traceparent`.
    pub fresh_trace_id: String,
    /// Reads the body of a request whose body is [`Body::Unread`]; called at most once.
    pub read_body: &'a dyn Fn() -> Body,
}
