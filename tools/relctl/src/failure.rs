//! The one error type of the tool: each variant is what happened, and prints as one line.

use std::fmt;

#[derive(Debug)]
pub enum Failure {
    /// The input is wrong before anything was sent (exit 2).
    Invalid(String),
    /// A server answered and said no: its status and its reason (exit 1).
    Refused { status: u16, reason: String },
    /// Nothing answered, or the answer was not what the protocol says (exit 1).
    Unreachable(String),
    /// A wait ran out of time; the message says what was still missing (exit 3).
    TimedOut(String),
    /// A deployment failed after it started; the message says what was put back (exit 1).
    DeployFailed(String),
    /// Who or what asked cannot be trusted: an unsigned tag, an unknown signer (exit 1).
    Untrusted(String),
    /// An analysis stopped the rollout: failed, or inconclusive where that stops (exit 1).
    Stopped(String),
}

impl Failure {
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Invalid(_) => 2,
            Failure::Refused { .. }
            | Failure::Unreachable(_)
            | Failure::DeployFailed(_)
            | Failure::Untrusted(_)
            | Failure::Stopped(_) => 1,
            Failure::TimedOut(_) => 3,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Failure::Invalid(reason)
            | Failure::Unreachable(reason)
            | Failure::TimedOut(reason)
            | Failure::DeployFailed(reason)
            | Failure::Untrusted(reason)
            | Failure::Stopped(reason) => reason.clone(),
            Failure::Refused { status, reason } => format!("refused ({status}): {reason}"),
        };
        // One line, whatever a server put in its reason.
        f.write_str(&text.split_whitespace().collect::<Vec<_>>().join(" "))
    }
}

impl From<ledger::types::Invalid> for Failure {
    fn from(invalid: ledger::types::Invalid) -> Self {
        Failure::Invalid(invalid.0)
    }
}
