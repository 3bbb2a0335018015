//! The console's stylesheet, script and icon, compiled into the component so that it works
//! air-gapped. Pages link them with `?v=<hash>`: a new build changes the URL, so browsers may
//! keep a versioned copy forever and revalidate anything else by ETag.

use crate::http::{ConsoleRequest, ConsoleResponse};

pub struct Asset {
    pub path: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
    hash: u64,
}

impl Asset {
    const fn new(path: &'static str, content_type: &'static str, bytes: &'static [u8]) -> Self {
        Self {
            path,
            content_type,
            bytes,
            hash: fnv1a(bytes),
        }
    }

    /// The content's hash, as the `v` query parameter and inside the ETag.
    pub fn version(&self) -> String {
        format!("{:016x}", self.hash)
    }

    pub fn etag(&self) -> String {
        format!("\"{}\"", self.version())
    }

    /// The URL pages link to.
    pub fn href(&self) -> String {
        format!("{}?v={}", self.path, self.version())
    }

    /// 304 when the browser's copy is current; the bytes otherwise.
    pub fn respond(&self, req: &ConsoleRequest) -> ConsoleResponse {
        let etag = self.etag();
        let cache_control = if req.query_param("v") == Some(self.version()) {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        let fresh = req
            .header_value("if-none-match")
            .is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
        let response = if fresh {
            ConsoleResponse {
                status: 304,
                headers: Vec::new(),
                body: Vec::new(),
            }
        } else {
            ConsoleResponse::new(200, self.content_type, self.bytes.to_vec())
                .with_header("x-content-type-options", "nosniff")
        };
        response
            .with_header("etag", &etag)
            .with_header("cache-control", cache_control)
    }
}

pub const CSS: Asset = Asset::new(
    "/static/console.css",
    "text/css; charset=utf-8",
    include_bytes!("../assets/console.css"),
);
pub const JS: Asset = Asset::new(
    "/static/console.js",
    "text/javascript; charset=utf-8",
    include_bytes!("../assets/console.js"),
);
pub const ICON: Asset = Asset::new(
    "/static/icon.svg",
    "image/svg+xml",
    include_bytes!("../assets/icon.svg"),
);

pub const ALL: [&Asset; 3] = [&CSS, &JS, &ICON];

/// FNV-1a, 64 bits: enough to tell two builds' files apart, and computable at compile time.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versioned_urls_are_immutable_and_others_revalidate() {
        let versioned = CSS.respond(&ConsoleRequest::get(&CSS.href()));
        assert_eq!(versioned.status, 200);
        assert_eq!(versioned.body, CSS.bytes);
        assert_eq!(
            versioned.header("content-type"),
            Some("text/css; charset=utf-8")
        );
        assert_eq!(
            versioned.header("cache-control"),
            Some("public, max-age=31536000, immutable")
        );
        assert_eq!(versioned.header("etag"), Some(CSS.etag().as_str()));

        let stale = CSS.respond(&ConsoleRequest::get("/static/console.css?v=0000"));
        assert_eq!(stale.header("cache-control"), Some("no-cache"));
    }

    #[test]
    fn a_matching_etag_gets_304_without_a_body() {
        let req = ConsoleRequest::get(JS.path).header("if-none-match", &JS.etag());
        let response = JS.respond(&req);
        assert_eq!(response.status, 304);
        assert!(response.body.is_empty());
        assert_eq!(response.header("etag"), Some(JS.etag().as_str()));

        let other = ConsoleRequest::get(JS.path).header("if-none-match", "\"other\"");
        assert_eq!(JS.respond(&other).status, 200);
    }

    #[test]
    fn every_asset_has_its_own_version() {
        assert_ne!(CSS.version(), JS.version());
        assert_ne!(JS.version(), ICON.version());
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
