//! The read model: the hot reads' answers kept in Spin's key-value store, so that a read
//! served from it opens no database at all (under Spin 3.6 each request's SQLite connection
//! is new, and opening it is the dearest part of a read).
//!
//! Freshness comes from a *generation*: a random token that every write sets after its
//! commit, before it answers. An answer is kept with the generation it was read under, and
//! served only while that is still the current one. A read reads the generation *before* the
//! database, so whatever it keeps was read after the write that set that generation: a read
//! sent after a write's answer always sees that write, whichever writer set the generation
//! last. Tokens are random, never counted, so two writers cannot set the same one.
//!
//! A store that loses the generation (Redis evicting it, a flush) invalidates every kept
//! answer: a read that finds none sets a fresh one first ([`generation`]).
//!
//! What a generation cannot cover is bounded by [`MAX_AGE_MICROS`]: a crash between a write's
//! commit and its new generation, a key-value store that failed the write, or a change made
//! outside the API. The store holds one entry per kept read (first pages, release details),
//! never one per cursor, so it stays as small as the set of releases.

use crate::host::KeyValue;
use ledger::Timestamp;
use ledger::types::Version;

/// How long a kept answer may be served at most, whatever the generation says.
pub const MAX_AGE_MICROS: i64 = 2_000_000;

/// How long `/metrics` may serve DORA's four keys kept at most: its window slides with the
/// clock (a deployment leaves it 30 days on), which no write marks, and a minute of that is
/// nothing to a 30-day figure that Prometheus scrapes every 30 s. Writes still refresh it.
pub const DORA_MAX_AGE_MICROS: i64 = 60_000_000;

/// The key every write sets after its commit.
pub const GENERATION: &str = "ledger:generation";

/// A read the model may keep, named by its route and parsed query: one constructor per read,
/// so that every key the store holds is spelled here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read(String);

impl Read {
    pub fn overview() -> Self {
        Self("overview".into())
    }

    pub fn clusters() -> Self {
        Self("clusters".into())
    }

    /// The first page of releases, unfiltered.
    pub fn releases(limit: u32) -> Self {
        Self(format!("releases?limit={limit}"))
    }

    pub fn release(version: &Version) -> Self {
        Self(format!("release/{version}"))
    }

    /// The first page of approvals in STATE (`any` for all of them).
    pub fn approvals(state: &str, limit: u32) -> Self {
        Self(format!("approvals?state={state}&limit={limit}"))
    }

    /// The first page of the audit log, unfiltered.
    pub fn audit(limit: u32) -> Self {
        Self(format!("audit?limit={limit}"))
    }

    /// DORA's four keys for `/metrics` (kept up to [`DORA_MAX_AGE_MICROS`]).
    pub fn dora() -> Self {
        Self("metrics:dora".into())
    }
}

/// The store's key for a READ within a configuration (`scope`: the settings and build the
/// answer depends on).
pub struct ReadKey(String);

impl ReadKey {
    pub fn new(scope: &str, read: &Read) -> Self {
        Self(format!("ledger:read:{scope}:{}", read.0))
    }
}

/// A kept answer: its generation, when it was read, and the body.
fn encode(generation: &[u8], read_at: Timestamp, body: &[u8]) -> Vec<u8> {
    let mut entry = Vec::with_capacity(body.len() + 64);
    entry.extend_from_slice(generation);
    entry.push(b'\n');
    entry.extend_from_slice(read_at.as_micros().to_string().as_bytes());
    entry.push(b'\n');
    entry.extend_from_slice(body);
    entry
}

/// The body of ENTRY if it was read under GENERATION no more than MAX_AGE before NOW.
fn current(entry: &[u8], generation: &[u8], now: Timestamp, max_age: i64) -> Option<Vec<u8>> {
    let mut parts = entry.splitn(3, |&b| b == b'\n');
    let (kept, read_at, body) = (parts.next()?, parts.next()?, parts.next()?);
    let read_at: i64 = std::str::from_utf8(read_at).ok()?.parse().ok()?;
    let age = now.as_micros() - read_at;
    (kept == generation && (0..=max_age).contains(&age)).then(|| body.to_vec())
}

/// The generation a read starts from. A store without one (new, flushed, or one that evicted
/// it) gets FRESH first: every answer kept before is then stale, since none was kept under a
/// token that was never set. Setting it before reading the database keeps the promise: a
/// write that set its own generation earlier committed before this read began.
pub fn generation(store: &dyn KeyValue, fresh: &str) -> Result<Vec<u8>, String> {
    match store.get(GENERATION)? {
        Some(current) => Ok(current),
        None => {
            store.set(GENERATION, fresh.as_bytes())?;
            Ok(fresh.as_bytes().to_vec())
        }
    }
}

/// The kept answer for KEY, if it is current and no older than MAX_AGE (microseconds).
pub fn kept(
    store: &dyn KeyValue,
    key: &ReadKey,
    generation: &[u8],
    now: Timestamp,
    max_age: i64,
) -> Result<Option<Vec<u8>>, String> {
    Ok(store
        .get(&key.0)?
        .and_then(|entry| current(&entry, generation, now, max_age)))
}

/// Keeps BODY as KEY's answer, read under GENERATION at NOW.
pub fn keep(
    store: &dyn KeyValue,
    key: &ReadKey,
    generation: &[u8],
    now: Timestamp,
    body: &[u8],
) -> Result<(), String> {
    store.set(&key.0, &encode(generation, now, body))
}

/// After a write's commit: a new generation, so that no answer read before it is served.
pub fn written(store: &dyn KeyValue, token: &str) -> Result<(), String> {
    store.set(GENERATION, token.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(micros: i64) -> Timestamp {
        Timestamp::from_micros(micros)
    }

    #[test]
    fn an_answer_is_current_under_its_generation_and_within_its_age() {
        let entry = encode(b"g1", at(1_000), b"{\"items\":[]}");
        let current =
            |entry: &[u8], generation: &[u8], now| current(entry, generation, now, MAX_AGE_MICROS);
        assert_eq!(
            current(&entry, b"g1", at(1_000)).unwrap(),
            b"{\"items\":[]}"
        );
        assert_eq!(
            current(&entry, b"g1", at(1_000 + MAX_AGE_MICROS)).unwrap(),
            b"{\"items\":[]}"
        );
        assert!(
            current(&entry, b"g2", at(1_000)).is_none(),
            "another generation"
        );
        assert!(
            current(&entry, b"g1", at(1_001 + MAX_AGE_MICROS)).is_none(),
            "too old"
        );
        assert!(
            current(&entry, b"g1", at(999)).is_none(),
            "read in the future"
        );
        assert!(current(b"garbage", b"g1", at(1_000)).is_none());
    }

    #[test]
    fn bodies_keep_their_newlines() {
        let entry = encode(b"", at(5), b"a\nb\n");
        assert_eq!(current(&entry, b"", at(5), 0).unwrap(), b"a\nb\n");
    }
}
