//! Spin's `default` key-value store, kept as Spin 3.6 keeps it: one SQLite file
//! (`<sqlite-dir>/sqlite_key_value.db`, table `spin_key_value`) behind one connection for the
//! life of the process, every call under its lock. Both of Spin's interfaces to it are here,
//! over the same statements: `fermyon:spin/key-value` and `wasi:keyvalue` (`store` and
//! `batch`), whose `get-many` answers only the keys it found, in no promised order, as Spin's
//! does (`SELECT … WHERE key IN …`).

use super::Trap;
use super::fermyon::spin::key_value;
use super::wasi::keyvalue::{batch, store};
use crate::state::State;
use rusqlite::{Connection, OptionalExtension};
use wasmtime::component::Resource;

/// An open store: its label, checked against the component's `key_value_stores`.
pub struct KvStore {
    label: String,
}

/// Why a store could not be opened, in the words both interfaces share.
enum Refused {
    AccessDenied,
    NoSuchStore,
}

/// What one store call does on the connection; an error becomes the interface's `other`.
type Work<'a, T> = Box<dyn FnOnce(&Connection, &str) -> rusqlite::Result<T> + 'a>;

impl State {
    fn open_store(&mut self, label: String) -> Trap<Result<Resource<KvStore>, Refused>> {
        if !self.component.key_value_stores.contains(&label) {
            return Ok(Err(Refused::AccessDenied));
        }
        // The manifest check refuses any other label at start; this is the guest asking.
        if label != "default" {
            return Ok(Err(Refused::NoSuchStore));
        }
        Ok(Ok(self.table.push(KvStore { label })?))
    }

    fn kv<T>(&self, store: &Resource<KvStore>, work: Work<'_, T>) -> Trap<Result<T, String>> {
        let label = self.table.get(store)?.label.clone();
        let file = self.services.key_value.clone();
        Ok(tokio::task::block_in_place(|| {
            file.with(|conn| work(conn, &label))
                .map_err(|e| e.to_string())
        }))
    }
}

fn get(key: &str) -> Work<'_, Option<Vec<u8>>> {
    Box::new(move |conn, label| {
        conn.prepare_cached("SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2")?
            .query_row((label, key), |row| row.get(0))
            .optional()
    })
}

fn set(key: String, value: Vec<u8>) -> Work<'static, ()> {
    Box::new(move |conn, label| upsert(conn, label, &key, &value))
}

fn upsert(conn: &Connection, label: &str, key: &str, value: &[u8]) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
         ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
    )?
    .execute((label, key, value))
    .map(drop)
}

fn delete(key: String) -> Work<'static, ()> {
    Box::new(move |conn, label| {
        conn.prepare_cached("DELETE FROM spin_key_value WHERE store = ?1 AND key = ?2")?
            .execute((label, &key))
            .map(drop)
    })
}

fn exists(key: String) -> Work<'static, bool> {
    Box::new(move |conn, label| {
        conn.prepare_cached("SELECT 1 FROM spin_key_value WHERE store = ?1 AND key = ?2")?
            .exists((label, &key))
    })
}

fn keys() -> Work<'static, Vec<String>> {
    Box::new(|conn, label| {
        conn.prepare_cached("SELECT key FROM spin_key_value WHERE store = ?1")?
            .query_map([label], |row| row.get(0))?
            .collect()
    })
}

/// `store = ?1 AND key IN (?2, …)` for N keys, and its parameters: the label, then the keys.
fn among(label: &str, keys: &[String]) -> (String, Vec<String>) {
    let marks = (2..keys.len() + 2)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let params = std::iter::once(label.to_owned())
        .chain(keys.iter().cloned())
        .collect();
    (format!("store = ?1 AND key IN ({marks})"), params)
}

/// The keys found, with their values: one statement, so one lock, whatever the number.
fn get_many(keys: Vec<String>) -> Work<'static, Vec<(String, Option<Vec<u8>>)>> {
    Box::new(move |conn, label| {
        let (which, params) = among(label, &keys);
        conn.prepare_cached(&format!(
            "SELECT key, value FROM spin_key_value WHERE {which}"
        ))?
        .query_map(rusqlite::params_from_iter(params), |row| {
            Ok((row.get(0)?, Some(row.get(1)?)))
        })?
        .collect()
    })
}

/// All or none, in one transaction, as Spin's `set-many` on its SQLite store.
fn set_many(entries: Vec<(String, Vec<u8>)>) -> Work<'static, ()> {
    Box::new(move |conn, label| {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let done = entries
            .iter()
            .try_for_each(|(key, value)| upsert(conn, label, key, value));
        conn.execute_batch(if done.is_ok() { "COMMIT" } else { "ROLLBACK" })?;
        done
    })
}

fn delete_many(keys: Vec<String>) -> Work<'static, ()> {
    Box::new(move |conn, label| {
        let (which, params) = among(label, &keys);
        conn.prepare_cached(&format!("DELETE FROM spin_key_value WHERE {which}"))?
            .execute(rusqlite::params_from_iter(params))
            .map(drop)
    })
}

// `fermyon:spin/key-value@2.0.0`.

fn spin_error<T>(answer: Result<T, String>) -> Result<T, key_value::Error> {
    answer.map_err(key_value::Error::Other)
}

impl key_value::Host for State {}

impl key_value::HostStore for State {
    async fn open(&mut self, label: String) -> Trap<Result<Resource<KvStore>, key_value::Error>> {
        Ok(self.open_store(label)?.map_err(|refused| match refused {
            Refused::AccessDenied => key_value::Error::AccessDenied,
            Refused::NoSuchStore => key_value::Error::NoSuchStore,
        }))
    }

    async fn get(
        &mut self,
        store: Resource<KvStore>,
        key: String,
    ) -> Trap<Result<Option<Vec<u8>>, key_value::Error>> {
        self.kv(&store, get(&key)).map(spin_error)
    }

    async fn set(
        &mut self,
        store: Resource<KvStore>,
        key: String,
        value: Vec<u8>,
    ) -> Trap<Result<(), key_value::Error>> {
        self.kv(&store, set(key, value)).map(spin_error)
    }

    async fn delete(
        &mut self,
        store: Resource<KvStore>,
        key: String,
    ) -> Trap<Result<(), key_value::Error>> {
        self.kv(&store, delete(key)).map(spin_error)
    }

    async fn exists(
        &mut self,
        store: Resource<KvStore>,
        key: String,
    ) -> Trap<Result<bool, key_value::Error>> {
        self.kv(&store, exists(key)).map(spin_error)
    }

    async fn get_keys(
        &mut self,
        store: Resource<KvStore>,
    ) -> Trap<Result<Vec<String>, key_value::Error>> {
        self.kv(&store, keys()).map(spin_error)
    }

    async fn drop(&mut self, store: Resource<KvStore>) -> Trap<()> {
        self.table.delete(store)?;
        Ok(())
    }
}

// `wasi:keyvalue/store@0.2.0-draft2` and `wasi:keyvalue/batch@0.2.0-draft2`.

fn wasi_error<T>(answer: Result<T, String>) -> Result<T, store::Error> {
    answer.map_err(store::Error::Other)
}

impl store::Host for State {
    async fn open(&mut self, label: String) -> Trap<Result<Resource<KvStore>, store::Error>> {
        Ok(self.open_store(label)?.map_err(|refused| match refused {
            Refused::AccessDenied => store::Error::AccessDenied,
            Refused::NoSuchStore => store::Error::NoSuchStore,
        }))
    }
}

impl store::HostBucket for State {
    async fn get(
        &mut self,
        bucket: Resource<KvStore>,
        key: String,
    ) -> Trap<Result<Option<Vec<u8>>, store::Error>> {
        self.kv(&bucket, get(&key)).map(wasi_error)
    }

    async fn set(
        &mut self,
        bucket: Resource<KvStore>,
        key: String,
        value: Vec<u8>,
    ) -> Trap<Result<(), store::Error>> {
        self.kv(&bucket, set(key, value)).map(wasi_error)
    }

    async fn delete(
        &mut self,
        bucket: Resource<KvStore>,
        key: String,
    ) -> Trap<Result<(), store::Error>> {
        self.kv(&bucket, delete(key)).map(wasi_error)
    }

    async fn exists(
        &mut self,
        bucket: Resource<KvStore>,
        key: String,
    ) -> Trap<Result<bool, store::Error>> {
        self.kv(&bucket, exists(key)).map(wasi_error)
    }

    /// Every key in one answer, without a cursor, as Spin's SQLite store answers.
    async fn list_keys(
        &mut self,
        bucket: Resource<KvStore>,
        _cursor: Option<String>,
    ) -> Trap<Result<store::KeyResponse, store::Error>> {
        let listed = self.kv(&bucket, keys())?;
        Ok(wasi_error(listed).map(|keys| store::KeyResponse { keys, cursor: None }))
    }

    async fn drop(&mut self, bucket: Resource<KvStore>) -> Trap<()> {
        self.table.delete(bucket)?;
        Ok(())
    }
}

impl batch::Host for State {
    async fn get_many(
        &mut self,
        bucket: Resource<KvStore>,
        keys: Vec<String>,
    ) -> Trap<Result<Vec<(String, Option<Vec<u8>>)>, store::Error>> {
        self.kv(&bucket, get_many(keys)).map(wasi_error)
    }

    async fn set_many(
        &mut self,
        bucket: Resource<KvStore>,
        entries: Vec<(String, Vec<u8>)>,
    ) -> Trap<Result<(), store::Error>> {
        self.kv(&bucket, set_many(entries)).map(wasi_error)
    }

    async fn delete_many(
        &mut self,
        bucket: Resource<KvStore>,
        keys: Vec<String>,
    ) -> Trap<Result<(), store::Error>> {
        self.kv(&bucket, delete_many(keys)).map(wasi_error)
    }
}
