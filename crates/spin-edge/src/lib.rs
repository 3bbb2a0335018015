//! What both components do at the Spin boundary, written once: the request as a router sees
//! it (headers lowered, target split), the response handed to Spin whole, one access-log line
//! per request that nobody can forge or hide text in, the W3C trace that ties a page to its
//! API calls, percent-coding with one rule for `+`, and the Spin variables each reads. Each
//! component keeps only what is its own (the API's body reader, the console's outgoing calls).

mod access_log;
mod percent;
mod prometheus;
mod request;
mod response;
mod trace;
mod variables;
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
mod wasm;

pub use access_log::{AccessLog, escape_invisible};
pub use percent::{
    decode_path_segment, decode_query_value, encode_path_segment, encode_query_value,
};
pub use prometheus::label_value;
pub use request::RequestHead;
pub use response::Response;
pub use trace::{TraceParent, continue_or_start, trace_id_of};
pub use variables::{Variable, value_or_default};
#[cfg(target_arch = "wasm32")]
pub use wasm::{fresh_hex, incoming_head, send};
