//! Transaction states and the rule that keeps retries and reorderings from moving a
//! transaction backwards.

use serde::{Deserialize, Serialize};

/// A transaction state; values the document does not list are kept as they came.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum TxState {
    FundsRequired,
    Pending,
    AwaitingApproval,
    Processing,
    Success,
    Failed,
    Reversed,
    Other(String),
}

impl TxState {
    /// Every documented state.
    pub const ALL: [TxState; 7] = [
        TxState::FundsRequired,
        TxState::Pending,
        TxState::AwaitingApproval,
        TxState::Processing,
        TxState::Success,
        TxState::Failed,
        TxState::Reversed,
    ];

    /// The provider's spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Self::FundsRequired => "FUNDS_REQUIRED",
            Self::Pending => "PENDING",
            Self::AwaitingApproval => "AWAITING_APPROVAL",
            Self::Processing => "PROCESSING",
            Self::Success => "SUCCESS",
            Self::Failed => "FAILED",
            Self::Reversed => "REVERSED",
            Self::Other(s) => s,
        }
    }

    /// `SUCCESS`, `FAILED` and `REVERSED` end a transaction.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Success | Self::Failed | Self::Reversed)
    }
}

impl From<String> for TxState {
    fn from(s: String) -> Self {
        match s.as_str() {
            "FUNDS_REQUIRED" => Self::FundsRequired,
            "PENDING" => Self::Pending,
            "AWAITING_APPROVAL" => Self::AwaitingApproval,
            "PROCESSING" => Self::Processing,
            "SUCCESS" => Self::Success,
            "FAILED" => Self::Failed,
            "REVERSED" => Self::Reversed,
            _ => Self::Other(s),
        }
    }
}

impl From<TxState> for String {
    fn from(s: TxState) -> Self {
        s.as_str().to_owned()
    }
}

impl std::str::FromStr for TxState {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::from(s.to_owned()))
    }
}

/// Whether a callback in state `incoming`, received after one in state `current`, becomes
/// the transaction's current state (the contract's state rules):
/// - a terminal state is never replaced by a non-terminal or unknown one; of the terminal
///   states only `REVERSED` may follow `SUCCESS` (a repeat of the same terminal state
///   refreshes the details, e.g. a late `completedAt`);
/// - `PROCESSING` is not replaced by `FUNDS_REQUIRED`, `PENDING` or `AWAITING_APPROVAL`;
/// - otherwise the latest received wins.
pub fn supersedes(current: &TxState, incoming: &TxState) -> bool {
    use TxState::*;
    if current.is_terminal() {
        return incoming == current || (*current == Success && *incoming == Reversed);
    }
    !(*current == Processing && matches!(incoming, FundsRequired | Pending | AwaitingApproval))
}

/// Why a callback (`incoming`, event `sequence`) did not replace the current state
/// (`current`, set by event `current_sequence`): the rule that kept it, in words.
pub fn why_kept(
    current: &TxState,
    current_sequence: i64,
    incoming: &TxState,
    sequence: i64,
) -> String {
    use TxState::*;
    let (c, i) = (current.as_str(), incoming.as_str());
    if current.is_terminal() {
        return format!("{i} after {c}: terminal state kept");
    }
    if *current == Processing && matches!(incoming, FundsRequired | Pending | AwaitingApproval) {
        return format!("{i} after {c}: {c} is not replaced by {i}");
    }
    if sequence < current_sequence {
        return format!("{i} was received before {c}, which stays current");
    }
    format!("{i} after {c}: kept by the state rules")
}

/// Whether a callback (`incoming`, event `sequence`) replaces the current state (`current`,
/// set by event `current_sequence`).
///
/// The rule as the projector applies it (through `payment::apply`; nowhere else). Events
/// are judged in the order they were received (their sequence), whatever order they reach
/// the projector in: a callback received after the current one applies by the state rules;
/// one received before it (its writer committed late, or it is a quarantined event
/// reprocessed later) applies only where it would have prevented the current state, as a
/// terminal state prevents a later `PENDING`.
pub fn applies_over(
    current: &TxState,
    current_sequence: i64,
    incoming: &TxState,
    sequence: i64,
) -> bool {
    if sequence > current_sequence {
        supersedes(current, incoming)
    } else {
        supersedes(current, incoming) && !supersedes(incoming, current)
    }
}

#[cfg(test)]
mod tests {
    use super::TxState::*;
    use super::*;

    #[test]
    fn terminal_states_are_never_replaced_by_non_terminal_or_unknown() {
        for t in [Success, Failed, Reversed] {
            for n in [
                FundsRequired,
                Pending,
                AwaitingApproval,
                Processing,
                Other("NEW".into()),
            ] {
                assert!(!supersedes(&t, &n), "{t:?} <- {n:?}");
            }
        }
    }

    #[test]
    fn only_reversed_follows_success_among_terminals() {
        assert!(supersedes(&Success, &Reversed));
        assert!(!supersedes(&Reversed, &Success));
        assert!(!supersedes(&Failed, &Success));
        assert!(!supersedes(&Success, &Failed));
        assert!(!supersedes(&Failed, &Reversed));
    }

    #[test]
    fn processing_is_not_replaced_by_earlier_states() {
        for n in [FundsRequired, Pending, AwaitingApproval] {
            assert!(!supersedes(&Processing, &n));
        }
        assert!(supersedes(&Processing, &Success));
        assert!(supersedes(&Processing, &Other("ON_HOLD".into())));
        assert!(supersedes(&Pending, &Processing));
        assert!(supersedes(&Other("ON_HOLD".into()), &Pending));
        assert!(supersedes(&AwaitingApproval, &Pending));
    }
}
