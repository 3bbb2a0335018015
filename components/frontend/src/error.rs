//! The console's one error type, and the one place where errors become statuses and the words a
//! reader sees. Internal detail goes to the log line, never onto a page.

use crate::backend::BackendError;
use crate::pages::problem::Problem;
use crate::settings::SettingsError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsoleError {
    NoRoute,
    MethodNotAllowed,
    /// A query parameter the console did not write, such as a hand-edited page link.
    BadRequest(&'static str),
    /// A filter form's value the ledger refused: the field's label and the ledger's reason.
    BadFilter {
        label: &'static str,
        reason: String,
    },
    NoSuchRelease(String),
    Backend(BackendError),
    Settings(SettingsError),
    /// A template failed to render: a bug.
    Render(String),
}

impl From<BackendError> for ConsoleError {
    fn from(e: BackendError) -> Self {
        ConsoleError::Backend(e)
    }
}

impl From<SettingsError> for ConsoleError {
    fn from(e: SettingsError) -> Self {
        ConsoleError::Settings(e)
    }
}

impl ConsoleError {
    pub fn status(&self) -> u16 {
        match self {
            ConsoleError::NoRoute | ConsoleError::NoSuchRelease(_) => 404,
            ConsoleError::MethodNotAllowed => 405,
            ConsoleError::BadRequest(_)
            | ConsoleError::BadFilter { .. }
            | ConsoleError::Backend(BackendError::Refused { .. }) => 400,
            ConsoleError::Backend(BackendError::Unavailable(_)) => 503,
            // A 404 where the console expected data means it is talking to the wrong service.
            ConsoleError::Backend(BackendError::NotFound | BackendError::Failed(_)) => 502,
            ConsoleError::Settings(_) | ConsoleError::Render(_) => 500,
        }
    }

    /// What the page says. Server-side failures carry the request id, to find the log line.
    pub fn problem(&self, request_id: &str) -> Problem {
        let (title, message) = match self {
            ConsoleError::NoRoute => (
                "Page not found",
                "There is no page at this address.".to_owned(),
            ),
            ConsoleError::MethodNotAllowed => (
                "Method not allowed",
                "The console only shows pages; use the API to change the ledger.".to_owned(),
            ),
            ConsoleError::BadRequest(why) => ("Bad request", (*why).to_owned()),
            ConsoleError::BadFilter { label, reason } => (
                "This cannot be looked up",
                format!("{label}: {reason}. Change it and try again."),
            ),
            ConsoleError::Backend(BackendError::Refused { .. }) => (
                "Bad request",
                "The ledger does not accept this page's address; follow the console's own \
                 links instead of editing them."
                    .to_owned(),
            ),
            ConsoleError::NoSuchRelease(version) => (
                "Release not found",
                format!("The ledger has no release {version}."),
            ),
            ConsoleError::Backend(BackendError::Unavailable(_)) => (
                "The release ledger is not answering",
                "The console could not reach the ledger in time, so it cannot show current \
                 data. Try again in a moment."
                    .to_owned(),
            ),
            ConsoleError::Backend(_) => (
                "The release ledger returned an error",
                "The console asked the ledger for this page's data and got an answer it \
                 cannot show."
                    .to_owned(),
            ),
            ConsoleError::Settings(_) => (
                "The console is misconfigured",
                "The console's configuration is not usable. Its log names the setting.".to_owned(),
            ),
            ConsoleError::Render(_) => (
                "The console failed",
                "The console could not draw this page.".to_owned(),
            ),
        };
        let status = self.status();
        Problem {
            status,
            title,
            message,
            request_id: (status >= 500).then(|| request_id.to_owned()),
        }
    }

    /// The cause, for the log line.
    pub fn log_detail(&self) -> Option<String> {
        match self {
            ConsoleError::Backend(
                BackendError::Unavailable(why)
                | BackendError::Failed(why)
                | BackendError::Refused { log: why, .. },
            ) => Some(why.clone()),
            ConsoleError::Backend(BackendError::NotFound) => {
                Some("the backend answered 404 for a list".into())
            }
            ConsoleError::Settings(e) => Some(e.to_string()),
            ConsoleError::Render(why) => Some(format!("template: {why}")),
            _ => None,
        }
    }
}
