//! Talking to a running app over HTTP, and the API calls the tests share.

use crate::agent::agent;
use crate::fixtures::{release_body, token};
use crate::host::Host;
use serde_json::Value;
use std::time::Duration;

/// Records `versions` as releases through the API at `base` (any server that speaks it: the
/// app on either runtime, or the Flask peer), each as `release_body` describes it.
pub fn seed_releases(base: &str, versions: impl IntoIterator<Item = String>) -> Result<(), String> {
    let deployer = token("seed", &["deployer"]);
    for version in versions {
        let status = agent()
            .post(&format!("{base}/api/releases"))
            .header("authorization", &format!("Bearer {deployer}"))
            .send_json(release_body(&version))
            .map_err(|e| format!("seeding release {version} at {base}: {e}"))?
            .status()
            .as_u16();
        if status != 201 && status != 200 {
            return Err(format!(
                "seeding release {version} at {base} answered {status}"
            ));
        }
    }
    Ok(())
}

/// Waits until something listens on `addr` (`host:port`), for at most `limit`.
pub fn wait_for_listener(addr: &str, limit: std::time::Duration) -> Result<(), String> {
    let deadline = std::time::Instant::now() + limit;
    while std::net::TcpStream::connect(addr).is_err() {
        if std::time::Instant::now() > deadline {
            return Err(format!("nothing listened on {addr} within {limit:?}"));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Ok(())
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// Checks the status (showing the body when it is another) and the content type.
    pub fn assert_is(&self, status: u16, content_type: &str) -> &Self {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(
            self.header("content-type"),
            Some(content_type),
            "{}",
            self.body
        );
        self
    }

    /// Checks the status and that the body holds each of TEXTS.
    pub fn assert_shows(&self, status: u16, texts: &[&str]) -> &Self {
        assert_eq!(self.status, status, "{}", self.body);
        for text in texts {
            assert!(self.body.contains(text), "no {text:?} in {}", self.body);
        }
        self
    }

    /// Checks that the API refused the request as unprocessable because of FIELD.
    pub fn assert_refused_field(&self, field: &str) {
        assert_eq!(self.status, 422, "{}", self.body);
        assert_eq!(self.json()["field"], field, "{}", self.body);
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn reply(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
    let mut response = response.expect("HTTP exchange");
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    Reply {
        status,
        headers,
        body,
    }
}

impl Host {
    pub fn get(&self, path: &str) -> Reply {
        self.get_as(path, None)
    }

    pub fn get_as(&self, path: &str, token: Option<&str>) -> Reply {
        match token {
            Some(token) => self.get_with(path, &[("authorization", &format!("Bearer {token}"))]),
            None => self.get_with(path, &[]),
        }
    }

    /// GET with extra request headers, as a browser would send them.
    pub fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        let mut request = agent().get(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        reply(request.call())
    }

    pub fn post(&self, path: &str, token: Option<&str>, content_type: &str, body: &[u8]) -> Reply {
        let mut request = agent()
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        reply(request.send(body))
    }

    /// Records release VERSION as TOKEN's subject, which must succeed.
    pub fn create_release(&self, token: &str, version: &str) -> Reply {
        let reply = self.post_json("/api/releases", token, &release_body(version));
        assert_eq!(reply.status, 201, "{}", reply.body);
        reply
    }

    /// Records release 1.0.0 with FIELD set to VALUE, which the API must refuse for FIELD.
    pub fn assert_release_refused(&self, token: &str, field: &str, value: Value) {
        let mut body = release_body("1.0.0");
        body[field] = value;
        self.post_json("/api/releases", token, &body)
            .assert_refused_field(field);
    }

    /// A JSON POST with an empty body (the approval request takes one).
    pub fn post_empty(&self, path: &str, token: &str) -> Reply {
        self.post(path, Some(token), "application/json", b"")
    }

    pub fn post_json(&self, path: &str, token: &str, body: &Value) -> Reply {
        self.post(
            path,
            Some(token),
            "application/json",
            body.to_string().as_bytes(),
        )
    }

    /// Like `post_json`, but a transport failure (the host died) is `None`, not a panic.
    pub fn try_post_json(&self, path: &str, token: &str, body: &Value) -> Option<u16> {
        agent()
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .send(body.to_string().as_bytes())
            .ok()
            .map(|r| r.status().as_u16())
    }

    /// Sends `request` as raw bytes on a new connection and returns everything the runtime
    /// wrote back before it closed the connection (empty when it answered nothing).
    pub fn raw(&self, request: &[u8]) -> Vec<u8> {
        use std::io::{Read, Write};
        let mut stream =
            std::net::TcpStream::connect(self.base.trim_start_matches("http://")).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream.write_all(request).unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        answer
    }

    /// Records, through the API, a release that succeeded on staging and waits for its
    /// production approval: the story the console's tests look at.
    pub fn pending_release_story(&self, version: &str, notes: &str) {
        let kestra = token("kestra", &["deployer"]);
        let mut release = release_body(version);
        release["notes"] = Value::from(notes);
        let created = self.post_json("/api/releases", &kestra, &release);
        assert_eq!(created.status, 201, "{}", created.body);
        for status in ["started", "succeeded"] {
            let event = serde_json::json!({
                "cluster": "staging",
                "status": status,
                "execution_url": "https://kestra.example/executions/1",
            });
            let path = format!("/api/releases/{version}/deployments");
            let recorded = self.post_json(&path, &kestra, &event);
            assert_eq!(recorded.status, 201, "{}", recorded.body);
        }
        let path = format!("/api/releases/{version}/approval");
        let requested = self.post(&path, Some(&kestra), "application/json", b"");
        assert_eq!(requested.status, 201, "{}", requested.body);
    }

    /// Decides the release's approval through the API, as `alice` (an approver).
    pub fn decide(&self, version: &str, decision: &str, comment: &str) {
        let alice = token("alice", &["approver"]);
        let body = serde_json::json!({"decision": decision, "comment": comment});
        let path = format!("/api/releases/{version}/approval/decision");
        let decided = self.post_json(&path, &alice, &body);
        assert_eq!(decided.status, 200, "{}", decided.body);
    }
}
