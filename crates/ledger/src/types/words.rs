//! The closed sets of words the ledger speaks: environments, deployment statuses, approval
//! states and decisions.

use super::{FromText, Invalid, invalid, shorten};
use serde::Serialize;
use std::fmt;

word_enum!(
    /// Where a cluster sits in the promotion path.
    Environment { Staging = "staging", Production = "production" }
);

word_enum!(
    /// What a deployment event reports.
    DeploymentStatus {
        Started = "started",
        Succeeded = "succeeded",
        Failed = "failed",
        RolledBack = "rolled_back",
    }
);

word_enum!(
    /// A production approval's state.
    ApprovalState { Pending = "pending", Approved = "approved", Rejected = "rejected" }
);

word_enum!(
    /// The decision on a pending approval.
    Decision { Approve = "approve", Reject = "reject" }
);

impl Decision {
    pub fn resulting_state(self) -> ApprovalState {
        match self {
            Self::Approve => ApprovalState::Approved,
            Self::Reject => ApprovalState::Rejected,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_word_sets_parse_only_their_words() {
        assert_eq!(
            Environment::parse("production"),
            Ok(Environment::Production)
        );
        assert!(Environment::parse("Production").is_err());
        assert_eq!(
            DeploymentStatus::parse("rolled_back"),
            Ok(DeploymentStatus::RolledBack)
        );
        assert!(DeploymentStatus::parse("done").is_err());
        assert_eq!(
            Decision::parse("reject").unwrap().resulting_state(),
            ApprovalState::Rejected
        );
        assert!(ApprovalState::parse("").is_err());
    }
}
