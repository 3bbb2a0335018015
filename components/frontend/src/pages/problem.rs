//! What a reader sees when a page cannot show its data: what happened, in plain words, and the
//! request id that finds the detail in the logs.

use super::Chrome;
use askama::Template;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub status: u16,
    pub title: &'static str,
    pub message: String,
    pub request_id: Option<String>,
}

/// A failed page: its usual heading and navigation, and the problem where its data would be.
#[derive(Template)]
#[template(path = "problem.html")]
pub struct ProblemPage {
    pub chrome: Chrome,
    pub problem: Problem,
}
