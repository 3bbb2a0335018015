//! What an execution's state is, and what the API double and the executor share about every
//! execution (`run` runs them, `api` answers for them).

use serde_json::Value;
use std::collections::BTreeMap;

/// An execution's state, as Kestra names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Waiting for another execution of the flow to end (`concurrency.limit`).
    Queued,
    /// Ended before it ran, by `concurrency.behavior: CANCEL`.
    Cancelled,
    Running,
    /// Stopped at a Pause; the API double's resume lets it go on.
    Paused,
    Success,
    /// Failed, with the failing task's id and why.
    Failed(String),
}

/// What the API double shares with the executor: each execution's flow and state.
#[derive(Default)]
pub struct Shared {
    pub executions: BTreeMap<String, (String, String, State)>,
    pub flows: BTreeMap<(String, String), Value>,
    /// Each execution's tasks that have started, in order.
    pub task_runs: BTreeMap<String, Vec<String>>,
    /// Each execution's inputs, as `GET …/executions/{id}` shows them.
    pub inputs: BTreeMap<String, Value>,
    /// Each execution's labels (key → value), as `GET …/executions/{id}` shows them.
    pub labels: BTreeMap<String, BTreeMap<String, String>>,
    /// The KV store: (namespace, key) → value, with its JSON type.
    pub kv: BTreeMap<(String, String), Value>,
}
