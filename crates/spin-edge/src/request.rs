//! A request's method, target and headers as both routers see them, free of any host's HTTP
//! types: built by the Spin edge from the incoming request, and by tests directly.

/// What arrived before any body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// As sent: methods are case-sensitive (RFC 9110), `post` is not `POST`.
    pub method: String,
    /// The path without the query, percent-encoded as received.
    pub path: String,
    /// The query string without `?`; empty when there is none.
    pub query: String,
    /// Header names in lowercase, in the order they came; a header may come more than once.
    pub headers: Vec<(String, String)>,
}

impl RequestHead {
    /// A request for a target that may carry a query string.
    pub fn new(method: &str, path_and_query: &str) -> Self {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        Self {
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            headers: Vec::new(),
        }
    }

    pub fn get(path_and_query: &str) -> Self {
        Self::new("GET", path_and_query)
    }

    /// Adds a header, its name lowered as every header here is.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_owned()));
        self
    }

    /// The first value of a header (NAME in lowercase).
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.header_values(name).next()
    }

    /// Every value of a header that may be repeated.
    pub fn header_values(&self, name: &str) -> impl Iterator<Item = &str> {
        self.headers
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The query's `key=value` pairs as sent (not decoded), `key` alone as an empty value.
    pub fn query_pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
    }

    /// The first value of a query parameter, percent-decoded; `None` when absent or not UTF-8.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query_pairs()
            .find(|(key, _)| *key == name)
            .and_then(|(_, value)| crate::percent::decode_query_value(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_the_target_and_reads_headers_and_query_values() {
        let req = RequestHead::get("/approvals?state=pending&cursor=4%32&flag&q=a+b")
            .header("X-Request-Id", "one")
            .header("x-request-id", "two");
        assert_eq!(
            (req.path.as_str(), req.method.as_str()),
            ("/approvals", "GET")
        );
        assert_eq!(req.query_param("state").as_deref(), Some("pending"));
        assert_eq!(req.query_param("cursor").as_deref(), Some("42"));
        assert_eq!(req.query_param("flag").as_deref(), Some(""));
        assert_eq!(req.query_param("q").as_deref(), Some("a b"));
        assert_eq!(req.query_param("missing"), None);
        assert_eq!(RequestHead::get("/?x=%zz").query_param("x"), None);
        assert_eq!(req.header_value("x-request-id"), Some("one"));
        assert_eq!(req.header_values("x-request-id").count(), 2);
        assert_eq!(RequestHead::get("/").query, "");
    }
}
