//! The Spin interfaces the host provides, generated from `wit/host.wit` and backed by the real
//! things, one file each: variables from the manifest, SQLite files under the SQLite directory
//! (the databases and the key-value store), and PostgreSQL servers over the network (only
//! those `allowed_outbound_hosts` names).

pub use crate::pools::{PooledPg, PooledSqlite};
use crate::state::State;
pub use key_value::KvStore;

mod key_value;
mod postgres;
mod sqlite;
mod variables;

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "automatizacion:app/spin-host",
    imports: { default: async | trappable },
    with: {
        "spin:sqlite/sqlite.connection": PooledSqlite,
        "spin:postgres/postgres.connection": PooledPg,
        "fermyon:spin/key-value.store": KvStore,
        "wasi:keyvalue/store.bucket": KvStore,
    },
});

/// A host call's result: `Err` traps the guest, `Ok` carries the interface's own answer.
type Trap<T> = wasmtime::Result<T>;

impl State {
    /// A span for one database statement, named by its first word (`SELECT sqlite`).
    pub(super) fn db_span(
        &self,
        system: &'static str,
        statement: &str,
    ) -> Option<crate::traces::Span> {
        let verb = statement
            .split_whitespace()
            .next()
            .unwrap_or("SQL")
            .to_ascii_uppercase();
        let mut span = self.child_span(format!("{verb} {system}"), crate::traces::CLIENT)?;
        span.attribute("db.system.name", system);
        span.attribute("db.query.text", statement);
        Some(span)
    }
}
