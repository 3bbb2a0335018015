//! An option's remote values (`valuesUrl`), as Rundeck 6.1.0 loads them for the run form and,
//! for an `enforced` option without listed values, at run time. Read from its source
//! (rundeck/rundeck v6.1.0, not recorded in `testing/reference/rundeck`):
//! `ScheduledExecutionController.loadRemoteOptionValues` (the user must read or view the job),
//! `OptionsUtil.expandUrl` (which references expand, and how they are encoded),
//! `ScheduledExecutionService.getJobOptionConfigRemoteUrl` (a token or password is read from key
//! storage as a secure option's is, and left empty, sent as `Bearer null`, when the user may not
//! read it), `ScheduledExecutionController.getRemoteJSON` (the request, the status and content
//! type it takes) and `loadOptionsRemoteValues` (retries, and which JSON it takes).

use super::{PASSWORD, Rundeck};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// `jobs.options.remoteUrlRetry`'s default: attempts while the status is not 2xx.
const ATTEMPTS: usize = 5;

/// `jobs.options.remoteUrlTimeout`'s default, in seconds.
const TIMEOUT_SECS: u64 = 10;

/// The authentication types `RemoteUrlAuthenticationType.valueOf` takes.
pub const AUTHENTICATION_TYPES: [&str; 3] = ["BASIC", "API_KEY", "BEARER_TOKEN"];

/// The `ApiTokenReporter` values: where an API key goes.
pub const API_TOKEN_REPORTERS: [&str; 2] = ["HEADER", "QUERY_PARAM"];

impl Rundeck {
    /// The values Rundeck offers USER for OPTION of the job in JOB_FILE, as (name shown, value
    /// given), with the other options' values chosen so far in SELECTED; or the reason it
    /// shows instead.
    pub fn option_values(
        &self,
        job_file: &Path,
        option: &str,
        user: &str,
        selected: &[(&str, &str)],
    ) -> Result<Vec<(String, String)>, String> {
        let document: Value =
            serde_yaml::from_str(&std::fs::read_to_string(job_file).map_err(|e| e.to_string())?)
                .map_err(|e| e.to_string())?;
        let job = &document[0];
        self.find_job(job, user)?;
        let declared = job["options"].as_array().cloned().unwrap_or_default();
        let opt = declared
            .iter()
            .find(|o| o["name"] == option)
            .ok_or_else(|| format!("option not found: {option}"))?;
        let url = opt["valuesUrl"]
            .as_str()
            .ok_or_else(|| format!("not a url option: {option}"))?;
        let url = self.expand(url, job, opt, user, selected);
        let auth = self.authentication(&opt["configRemoteUrl"], user);
        let mut last = String::new();
        for _ in 0..ATTEMPTS {
            match fetch(&url, &auth) {
                Ok(json) => return values(json),
                Err(Fetch::Answered(why)) => return Err(failed(&why)),
                Err(Fetch::Status(why) | Fetch::Unreachable(why)) => last = why,
            }
        }
        Err(failed(&last))
    }

    /// `OptionsUtil.expandUrl`: `${job.*}`, `${globals.*}`, `${option.name}` and
    /// `${option.NAME.value}` (empty when not chosen), encoded as a URI component before the
    /// `?` and form-encoded after it; anything else is left as written (so is `${rundeck.*}`,
    /// the server's own name and id, which this stand-in does not have).
    fn expand(
        &self,
        url: &str,
        job: &Value,
        opt: &Value,
        user: &str,
        selected: &[(&str, &str)],
    ) -> String {
        let text = |v: &Value| v.as_str().unwrap_or("").to_owned();
        let lookup = |scope: &str, name: &str| -> Option<String> {
            match (scope, name) {
                ("job", "name" | "group" | "description" | "project") => Some(match name {
                    "project" => "automatizacion".to_owned(),
                    _ => text(&job[name]),
                }),
                ("job", "user.name") => Some(user.to_owned()),
                ("globals", _) => self.globals.get(name).cloned(),
                ("option", "name") => Some(text(&opt["name"])),
                ("option", _) => name.strip_suffix(".value").map(|other| {
                    selected
                        .iter()
                        .find(|(n, _)| *n == other)
                        .map(|(_, v)| (*v).to_owned())
                        .unwrap_or_default()
                }),
                _ => None,
            }
        };
        let (path, query) = match url.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (url, None),
        };
        let pattern = regex_lite::Regex::new(r"\$\{(job|option|rundeck|globals)\.([^}]+?)\}")
            .expect("a valid pattern");
        let expand_part = |part: &str, form: bool| {
            pattern
                .replace_all(part, |caps: &regex_lite::Captures| {
                    match lookup(&caps[1], &caps[2]) {
                        Some(value) => encode(&value, form),
                        None => caps[0].to_owned(),
                    }
                })
                .into_owned()
        };
        match query {
            Some(query) => format!("{}?{}", expand_part(path, false), expand_part(query, true)),
            None => expand_part(path, false),
        }
    }

    /// `getJobOptionConfigRemoteUrl`: the type (inferred from the fields for jobs saved
    /// without one) and the secret, read from key storage only if USER may read it as a
    /// password, otherwise none.
    fn authentication(&self, config: &Value, user: &str) -> Auth {
        let secret = |key: &str| {
            config[key].as_str().and_then(|path| {
                self.keys
                    .get(path)
                    .filter(|k| k.content_type == PASSWORD && self.may_read(user, path))
                    .map(|k| String::from_utf8_lossy(&k.content).into_owned())
            })
        };
        let given = |key: &str| config[key].as_str().is_some();
        let kind = config["authenticationType"].as_str().or_else(|| {
            if given("tokenStoragePath") || given("keyName") || given("apiTokenReporter") {
                Some("API_KEY")
            } else if given("passwordStoragePath") || given("username") {
                Some("BASIC")
            } else {
                None
            }
        });
        // Groovy writes a null token into the header as the word.
        let token = || secret("tokenStoragePath").unwrap_or_else(|| "null".to_owned());
        match kind {
            Some("BEARER_TOKEN") => {
                Auth::Header("Authorization".into(), format!("Bearer {}", token()))
            }
            Some("API_KEY") => {
                let key = config["keyName"].as_str().unwrap_or("null").to_owned();
                if config["apiTokenReporter"] == "HEADER" {
                    Auth::Header(key, token())
                } else {
                    Auth::Query(key, token())
                }
            }
            Some("BASIC") => Auth::Basic(
                config["username"].as_str().unwrap_or("").to_owned(),
                secret("passwordStoragePath").unwrap_or_default(),
            ),
            _ => Auth::None,
        }
    }
}

enum Auth {
    None,
    Header(String, String),
    Query(String, String),
    Basic(String, String),
}

enum Fetch {
    /// Not answered at all: Rundeck tries again.
    Unreachable(String),
    /// Answered with a status outside 200–300: Rundeck tries again.
    Status(String),
    /// Answered 2xx, with something Rundeck does not take: no retry.
    Answered(String),
}

fn failed(why: &str) -> String {
    format!("Failed loading remote option values: {why}")
}

/// `getRemoteJSON`: GET with `Accept: application/json`, following redirects; a status from 200
/// to 300 with the content type `application/json` (parameters aside), parsed as JSON.
fn fetch(url: &str, auth: &Auth) -> Result<Value, Fetch> {
    // java.net.URI's check: what expansion left unexpanded cannot be sent.
    if let Some(at) = url.find(['{', '}', ' ', '"', '<', '>']) {
        return Err(Fetch::Unreachable(format!(
            "Illegal character in URL at index {at}: {url}"
        )));
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(TIMEOUT_SECS)))
        .build()
        .into();
    let mut request = agent.get(url).header("Accept", "application/json");
    match auth {
        Auth::None => {}
        Auth::Header(name, value) => request = request.header(name.as_str(), value.as_str()),
        Auth::Query(name, value) => request = request.query(name.as_str(), value.as_str()),
        Auth::Basic(user, password) => {
            use base64::Engine;
            let pair =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            request = request.header("Authorization", format!("Basic {pair}"));
        }
    }
    let mut response = request
        .call()
        .map_err(|e| Fetch::Unreachable(e.to_string()))?;
    let status = response.status();
    if !(200..=300).contains(&status.as_u16()) {
        return Err(Fetch::Status(format!(
            "Server returned an error response: {} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        )));
    }
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if content_type.split(';').next().unwrap_or("").trim() != "application/json" {
        return Err(Fetch::Answered(format!(
            "Unexpected content type received: {content_type}"
        )));
    }
    let body = response
        .body_mut()
        .read_to_string()
        .map_err(|e| Fetch::Answered(e.to_string()))?;
    serde_json::from_str(&body).map_err(|e| Fetch::Answered(e.to_string()))
}

/// `loadOptionsRemoteValues`' check of the JSON: a list of strings, or of objects with a
/// non-empty `name` and `value`, or one object of name → value. Where a list mixes strings and
/// objects, Rundeck keeps the strings only. Nothing (an empty list, null) is "Empty result".
fn values(json: Value) -> Result<Vec<(String, String)>, String> {
    let truthy = |v: &Value| match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Number(n) => n.as_f64() != Some(0.0),
    };
    if !truthy(&json) {
        return Err("Empty result".into());
    }
    let shown = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match json {
        Value::Array(entries) => {
            let mut problems = Vec::new();
            let (mut strings, mut objects) = (Vec::new(), Vec::new());
            for (i, entry) in entries.iter().enumerate() {
                match entry {
                    Value::Object(o) => {
                        for key in ["name", "value"] {
                            if !o.get(key).is_some_and(truthy) {
                                problems.push(format!("Item: {i} has no '{key}' entry"));
                            }
                        }
                        objects.push((shown(&entry["name"]), shown(&entry["value"])));
                    }
                    Value::String(s) => strings.push((s.clone(), s.clone())),
                    _ => problems.push(format!(
                        "Item: {i} expected string or map like {{name:\"..\",value:\"..\"}}"
                    )),
                }
            }
            if !problems.is_empty() {
                return Err(format!(
                    "Failed parsing remote option values: {}",
                    problems.join("\n")
                ));
            }
            Ok(if strings.is_empty() { objects } else { strings })
        }
        Value::Object(map) => Ok(map.iter().map(|(k, v)| (k.clone(), shown(v))).collect()),
        _ => Err(
            "Failed parsing remote option values: Expected top-level list with format: \
                  [{name:\"..\",value:\"..\"},..], or ['value','value2',..] or simple object \
                  with {name:\"value\",...}"
                .into(),
        ),
    }
}

/// Grails' `encodeAsURIComponent` (FORM false) or `encodeAsURL` (form encoding: a space is `+`).
fn encode(value: &str, form: bool) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(byte as char)
            }
            b'!' | b'~' | b'\'' | b'(' | b')' if !form => out.push(byte as char),
            b' ' if form => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}
