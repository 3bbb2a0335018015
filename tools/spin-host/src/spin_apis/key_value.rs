//! `fermyon:spin/key-value`: Spin's `default` key-value store, kept as Spin 3.6 keeps it: one
//! SQLite file (`<sqlite-dir>/sqlite_key_value.db`, table `spin_key_value`) behind one
//! connection for the life of the process, every call under its lock.

use super::Trap;
use super::fermyon::spin::key_value;
use crate::state::State;
use rusqlite::OptionalExtension;
use wasmtime::component::Resource;

/// An open store: its label, checked against the component's `key_value_stores`.
pub struct KvStore {
    label: String,
}

impl key_value::Host for State {}

impl State {
    fn kv<T>(
        &self,
        store: &Resource<KvStore>,
        work: impl FnOnce(&rusqlite::Connection, &str) -> rusqlite::Result<T>,
    ) -> Trap<Result<T, key_value::Error>> {
        let label = self.table.get(store)?.label.clone();
        let file = self.services.key_value.clone();
        Ok(tokio::task::block_in_place(|| {
            file.with(|conn| work(conn, &label))
                .map_err(|e| key_value::Error::Other(e.to_string()))
        }))
    }
}

impl key_value::HostStore for State {
    async fn open(&mut self, label: String) -> Trap<Result<Resource<KvStore>, key_value::Error>> {
        if !self.component.key_value_stores.contains(&label) {
            return Ok(Err(key_value::Error::AccessDenied));
        }
        // The manifest check refuses any other label at start; this is the guest asking.
        if label != "default" {
            return Ok(Err(key_value::Error::NoSuchStore));
        }
        Ok(Ok(self.table.push(KvStore { label })?))
    }

    async fn get(
        &mut self,
        store: Resource<KvStore>,
        key: String,
    ) -> Trap<Result<Option<Vec<u8>>, key_value::Error>> {
        self.kv(&store, |conn, label| {
            conn.prepare_cached("SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2")?
                .query_row((label, &key), |row| row.get(0))
                .optional()
        })
    }

    async fn set(
        &mut self,
        store: Resource<KvStore>,
        key: String,
        value: Vec<u8>,
    ) -> Trap<Result<(), key_value::Error>> {
        self.kv(&store, |conn, label| {
            conn.prepare_cached(
                "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
            )?
            .execute((label, &key, &value))
            .map(drop)
        })
    }

    async fn delete(
        &mut self,
        store: Resource<KvStore>,
        key: String,
    ) -> Trap<Result<(), key_value::Error>> {
        self.kv(&store, |conn, label| {
            conn.prepare_cached("DELETE FROM spin_key_value WHERE store = ?1 AND key = ?2")?
                .execute((label, &key))
                .map(drop)
        })
    }

    async fn exists(
        &mut self,
        store: Resource<KvStore>,
        key: String,
    ) -> Trap<Result<bool, key_value::Error>> {
        self.kv(&store, |conn, label| {
            conn.prepare_cached("SELECT 1 FROM spin_key_value WHERE store = ?1 AND key = ?2")?
                .exists((label, &key))
        })
    }

    async fn get_keys(
        &mut self,
        store: Resource<KvStore>,
    ) -> Trap<Result<Vec<String>, key_value::Error>> {
        self.kv(&store, |conn, label| {
            conn.prepare_cached("SELECT key FROM spin_key_value WHERE store = ?1")?
                .query_map([label], |row| row.get(0))?
                .collect()
        })
    }

    async fn drop(&mut self, store: Resource<KvStore>) -> Trap<()> {
        self.table.delete(store)?;
        Ok(())
    }
}
