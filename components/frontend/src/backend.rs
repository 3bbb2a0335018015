//! The backend's public API as the console reaches it: GET requests with the console's own
//! headers, sent together and awaited against one deadline, and each answer sorted into
//! success, "not found", "unreachable" or "failed".

use crate::settings::Settings;
use serde::de::DeserializeOwned;
use spin_edge::TraceParent;
use std::time::Duration;

/// One GET the host sends for the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub url: String,
    pub headers: Vec<(String, String)>,
}

/// What came back for one [`Outgoing`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    Reply {
        status: u16,
        body: Vec<u8>,
    },
    /// No connection, refused, reset, or not allowed by the host; the text is for the log.
    Unreachable(String),
    /// No complete answer before the deadline.
    TimedOut,
}

/// Sends requests. The Spin edge sends them all before it waits for any, so a page's calls
/// overlap; native tests use doubles.
pub trait Transport {
    /// One [`Fetched`] per request, in order; none waits past `timeout` from the call.
    fn get_all(&self, requests: &[Outgoing], timeout: Duration) -> Vec<Fetched>;
}

/// Why the console could not use an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendError {
    /// Down or too slow: the page renders with a banner and 503.
    Unavailable(String),
    /// The backend answered 404.
    NotFound,
    /// The backend refused what the console passed on from the address (400 or 422): a
    /// hand-edited cursor, or a filter the reader typed. The page is a 400. `log` is for the
    /// log; `field` and `detail` are the problem's, which name what the reader can fix.
    Refused {
        log: String,
        field: Option<String>,
        detail: Option<String>,
    },
    /// Any other answer the console cannot use: the page is a 502. The text is for the log.
    Failed(String),
}

pub struct Backend<'a> {
    settings: &'a Settings,
    transport: &'a dyn Transport,
    request_id: &'a str,
    /// The `traceparent` each call carries: this page's trace, the console's span.
    traceparent: String,
}

impl<'a> Backend<'a> {
    pub fn new(
        settings: &'a Settings,
        transport: &'a dyn Transport,
        request_id: &'a str,
        trace: &TraceParent,
    ) -> Self {
        Self {
            settings,
            transport,
            request_id,
            traceparent: trace.header(),
        }
    }

    /// Only these headers leave the console: never anything a browser sent.
    fn outgoing(&self, path: &str) -> Outgoing {
        let mut headers = vec![
            ("accept".to_owned(), "application/json".to_owned()),
            ("x-request-id".to_owned(), self.request_id.to_owned()),
            ("traceparent".to_owned(), self.traceparent.clone()),
        ];
        if let Some(token) = &self.settings.backend_token {
            headers.push(("authorization".to_owned(), format!("Bearer {token}")));
        }
        Outgoing {
            url: format!("{}{path}", self.settings.backend_url),
            headers,
        }
    }

    /// GETs every path at once; each answer is a JSON body or the reason it is not.
    pub fn get_all(&self, paths: &[&str]) -> Vec<Result<Vec<u8>, BackendError>> {
        let requests: Vec<Outgoing> = paths.iter().map(|path| self.outgoing(path)).collect();
        let mut fetched = self
            .transport
            .get_all(&requests, self.settings.backend_timeout);
        fetched.resize(requests.len(), Fetched::Unreachable("no answer".into()));
        paths
            .iter()
            .zip(fetched)
            .map(|(path, fetched)| classify(path, fetched))
            .collect()
    }

    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, BackendError> {
        let body = self.get_all(&[path]).pop().expect("one answer per path");
        decode(path, body)
    }
}

fn classify(path: &str, fetched: Fetched) -> Result<Vec<u8>, BackendError> {
    match fetched {
        Fetched::Reply { status: 200, body } => Ok(body),
        Fetched::Reply { status: 404, .. } => Err(BackendError::NotFound),
        Fetched::Reply { status: 503, .. } => Err(BackendError::Unavailable(format!(
            "GET {path}: the backend answered 503"
        ))),
        Fetched::Reply {
            status: status @ (400 | 422),
            body,
        } => {
            let problem: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let text = |key: &str| problem[key].as_str().map(str::to_owned);
            Err(BackendError::Refused {
                log: format!(
                    "GET {path}: the backend answered {status}: {}",
                    String::from_utf8_lossy(&body[..body.len().min(300)])
                ),
                field: text("field"),
                detail: text("detail"),
            })
        }
        Fetched::Reply { status, body } => Err(BackendError::Failed(format!(
            "GET {path}: the backend answered {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        ))),
        Fetched::Unreachable(why) => Err(BackendError::Unavailable(format!("GET {path}: {why}"))),
        Fetched::TimedOut => Err(BackendError::Unavailable(format!(
            "GET {path}: no answer before the deadline"
        ))),
    }
}

/// Parses one answer from [`Backend::get_all`].
pub fn decode<T: DeserializeOwned>(
    path: &str,
    body: Result<Vec<u8>, BackendError>,
) -> Result<T, BackendError> {
    serde_json::from_slice(&body?)
        .map_err(|e| BackendError::Failed(format!("GET {path}: unexpected JSON: {e}")))
}
