//! The console's Spin variables, read and checked once per request.

use crate::links::{Links, RepositoryStyle};
use spin_edge::{Variable, value_or_default};
use std::fmt;
use std::time::Duration;

/// Every variable the console reads. `spin.toml` declares exactly these (a test checks it).
pub const VARIABLES: &[Variable] = &[
    Variable {
        name: "backend_url",
        default: "http://backend.spin.internal",
        secret: false,
        meaning: "Where the console reaches the API: Spin service chaining by default, the backend's Service URL in clusters. It is also the console's only `allowed_outbound_hosts` entry.",
    },
    Variable {
        name: "backend_token",
        default: "",
        secret: true,
        meaning: "A `viewer` token the console sends when `public_read` is `false`.",
    },
    Variable {
        name: "refresh_seconds",
        default: "15",
        secret: false,
        meaning: "How often the overview refreshes its data in place; `0` turns it off.",
    },
    Variable {
        name: "backend_timeout_ms",
        default: "5000",
        secret: false,
        meaning: "How long a page waits for the API before it shows the \"not answering\" banner (503).",
    },
    Variable {
        name: "repository_url",
        default: "",
        secret: false,
        meaning: "The repository's web address, e.g. `https://github.com/acme/automatizacion`: release pages link each commit and the changes since the release before. Empty: no links.",
    },
    Variable {
        name: "repository_style",
        default: "github",
        secret: false,
        meaning: "How the repository host spells commit and compare pages: `github` (also Gitea, Forgejo) or `gitlab`.",
    },
    Variable {
        name: "rundeck_job_url",
        default: "",
        secret: false,
        meaning: "The `approve-release` job's page in Rundeck: pending approvals link to it with the version filled in. Empty: no links.",
    },
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `http(s)://host[:port][/prefix]`, without a trailing slash.
    pub backend_url: String,
    /// A `viewer` bearer token for backends with `public_read = false`.
    pub backend_token: Option<String>,
    /// How often the overview refreshes its data; 0 turns refreshing off.
    pub refresh_seconds: u32,
    /// How long a page waits for the backend before it gives up with a 503.
    pub backend_timeout: Duration,
    /// The repository's and Rundeck's pages the console links to.
    pub links: Links,
}

/// A variable whose value the console cannot use. Its name is safe to show; its value is not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError {
    pub variable: &'static str,
    pub reason: String,
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "variable {}: {}", self.variable, self.reason)
    }
}

impl Settings {
    pub fn load(variable: &dyn Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let read = |name: &str| {
            value_or_default(VARIABLES, variable, name)
                .trim()
                .to_owned()
        };
        Ok(Self {
            backend_url: parse_backend_url(&read("backend_url"))?,
            backend_token: parse_token(&read("backend_token"))?,
            refresh_seconds: parse_number("refresh_seconds", &read("refresh_seconds"), 3600)?,
            backend_timeout: Duration::from_millis(parse_number(
                "backend_timeout_ms",
                &read("backend_timeout_ms"),
                120_000,
            )?),
            links: Links {
                repository: {
                    let style = parse_style(&read("repository_style"))?;
                    parse_web_url("repository_url", &read("repository_url"))?
                        .map(|url| (url, style))
                },
                rundeck_job: parse_web_url("rundeck_job_url", &read("rundeck_job_url"))?,
            },
        })
    }
}

/// An http(s) page address for a link, or `None` when empty.
fn parse_web_url(variable: &'static str, url: &str) -> Result<Option<String>, SettingsError> {
    if url.is_empty() {
        return Ok(None);
    }
    let plain = url.chars().all(|c| c.is_ascii_graphic()) && !url.contains(['?', '#', '"', '<']);
    let authority = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .and_then(|rest| rest.split('/').next())
        .filter(|host| !host.is_empty() && !host.contains('@'));
    match (plain, authority) {
        (true, Some(_)) => Ok(Some(url.trim_end_matches('/').to_owned())),
        _ => Err(invalid(
            variable,
            "expected an http(s) page address without query or fragment",
        )),
    }
}

fn parse_style(style: &str) -> Result<RepositoryStyle, SettingsError> {
    match style {
        "github" => Ok(RepositoryStyle::GitHub),
        "gitlab" => Ok(RepositoryStyle::GitLab),
        _ => Err(invalid("repository_style", "expected github or gitlab")),
    }
}

fn invalid(variable: &'static str, reason: impl Into<String>) -> SettingsError {
    SettingsError {
        variable,
        reason: reason.into(),
    }
}

fn parse_backend_url(url: &str) -> Result<String, SettingsError> {
    let error = |reason| Err(invalid("backend_url", reason));
    let Some((scheme, rest)) = url.split_once("://") else {
        return error("not an absolute http(s) URL");
    };
    if !matches!(scheme, "http" | "https") {
        return error("the scheme must be http or https");
    }
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() || authority.starts_with(':') {
        return error("the URL names no host");
    }
    if url.contains(['?', '#', '@']) || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return error("only scheme, host, port and path are allowed");
    }
    Ok(url.trim_end_matches('/').to_owned())
}

fn parse_token(token: &str) -> Result<Option<String>, SettingsError> {
    if token.is_empty() {
        return Ok(None);
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid(
            "backend_token",
            "a bearer token is printable ASCII without spaces",
        ));
    }
    Ok(Some(token.to_owned()))
}

fn parse_number<T>(variable: &'static str, value: &str, max: T) -> Result<T, SettingsError>
where
    T: std::str::FromStr + PartialOrd + fmt::Display,
{
    match value.parse::<T>() {
        Ok(n) if n <= max => Ok(n),
        _ => Err(invalid(
            variable,
            format!("expected a whole number from 0 to {max}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::load(&move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn defaults_chain_to_the_backend_component() {
        let settings = load(&[]).unwrap();
        assert_eq!(settings.backend_url, "http://backend.spin.internal");
        assert_eq!(settings.backend_token, None);
        assert_eq!(settings.refresh_seconds, 15);
        assert_eq!(settings.backend_timeout, Duration::from_secs(5));
    }

    #[test]
    fn reads_a_service_url_a_token_and_numbers() {
        let settings = load(&[
            (
                "backend_url",
                " http://automatizacion-backend.automatizacion.svc.cluster.local/ ",
            ),
            ("backend_token", "eyJ.abc.def"),
            ("refresh_seconds", "0"),
            ("backend_timeout_ms", "250"),
        ])
        .unwrap();
        assert_eq!(
            settings.backend_url,
            "http://automatizacion-backend.automatizacion.svc.cluster.local"
        );
        assert_eq!(settings.backend_token.as_deref(), Some("eyJ.abc.def"));
        assert_eq!(settings.refresh_seconds, 0);
        assert_eq!(settings.backend_timeout, Duration::from_millis(250));
        assert_eq!(
            settings.links,
            Links::default(),
            "no links unless configured"
        );
        let linked = load(&[
            ("repository_url", "https://gitlab.example.com/acme/app/"),
            ("repository_style", "gitlab"),
        ])
        .unwrap();
        assert_eq!(
            linked.links.repository,
            Some((
                "https://gitlab.example.com/acme/app".into(),
                RepositoryStyle::GitLab
            ))
        );
    }

    #[test]
    fn names_the_variable_it_cannot_use() {
        let cases = [
            ("backend_url", "backend.spin.internal"),
            ("backend_url", "ftp://backend"),
            ("backend_url", "http://"),
            ("backend_url", "http://user:pw@backend"),
            ("backend_url", "http://backend/?x=1"),
            ("backend_token", "two words"),
            ("refresh_seconds", "-1"),
            ("refresh_seconds", "3601"),
            ("backend_timeout_ms", "soon"),
            ("repository_url", "github.com/acme/app"),
            ("repository_url", "https://github.com/acme/app?tab=1"),
            ("repository_url", "javascript:alert(1)"),
            ("repository_style", "bitbucket"),
            ("rundeck_job_url", "https://user@rundeck"),
        ];
        for (variable, value) in cases {
            let error = load(&[(variable, value)]).unwrap_err();
            assert_eq!(error.variable, variable, "{value}");
            // A secret's value must never reach a log line or a page.
            assert!(!error.to_string().contains(value), "{error}");
        }
    }
}
