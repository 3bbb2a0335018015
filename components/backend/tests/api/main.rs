//! The API router, request in and response out, over real SQLite and PostgreSQL databases.
//! Tokens are minted with the `token` crate (the CLI's own code) or signed here with the test
//! keys in `tests/keys`.
//!
//! One test binary, one file per concern; `support` holds the shared set-up.

mod analysis;
mod auth;
mod choices;
mod drift;
mod filters;
mod input;
mod insights;
mod issuers;
mod meta;
mod openapi;
mod pattern_samples;
mod read_model;
mod rules;
mod story;
mod support;
