//! Which events a consumer wants: by source, transaction type and state, and Orangepill
//! event name (`*` as a suffix wildcard). The same filter serves the SSE stream, `txhook
//! listen` and the destinations.
//!
//! Type and state concern callbacks; event names concern stream events. A filter that names
//! only one kind selects only that kind: `type=PAYMENT` gives no stream events, and
//! `event=transaction.*` no callbacks. Naming both kinds gives the callbacks that match the
//! first and the stream events that match the second.

use serde::{Deserialize, Serialize};

use crate::store::EventRow;

/// A consumer's filter; empty selects every event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Filter {
    /// `callback` or `orangepill`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Transaction types, e.g. `PAYMENT`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<String>,
    /// Transaction states, e.g. `SUCCESS`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub states: Vec<String>,
    /// Orangepill event names; a trailing `*` matches any suffix (`transaction.*`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
}

/// Why a filter was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FilterError {
    #[error("source must be callback or orangepill")]
    Source,
    #[error("{0} must be 1 to 256 characters, without NUL, at most 100 of them")]
    Value(&'static str),
}

impl Filter {
    /// Checks the filter's values.
    pub fn validate(&self) -> Result<(), FilterError> {
        if let Some(s) = &self.source {
            if s != "callback" && s != "orangepill" {
                return Err(FilterError::Source);
            }
        }
        for (name, values) in [
            ("types", &self.types),
            ("states", &self.states),
            ("events", &self.events),
        ] {
            if values.len() > 100
                || values
                    .iter()
                    .any(|v| v.is_empty() || v.len() > 256 || v.contains('\0'))
            {
                return Err(FilterError::Value(name));
            }
        }
        Ok(())
    }

    /// Whether `event` passes.
    pub fn matches(&self, event: &EventRow) -> bool {
        if self.source.as_deref().is_some_and(|s| s != event.source) {
            return false;
        }
        let on_callbacks = !self.types.is_empty() || !self.states.is_empty();
        let on_stream = !self.events.is_empty();
        match event.source.as_str() {
            "callback" => {
                if !on_callbacks {
                    return !on_stream;
                }
                any_of(&self.types, event.transaction_type.as_deref())
                    && any_of(&self.states, event.state.as_deref())
            }
            _ => {
                if !on_stream {
                    return !on_callbacks;
                }
                let name = event.event_name.as_deref().unwrap_or("");
                self.events.iter().any(|p| match p.strip_suffix('*') {
                    Some(prefix) => name.starts_with(prefix),
                    None => name == p,
                })
            }
        }
    }
}

/// `value` is one of `wanted` (any value when `wanted` is empty).
fn any_of(wanted: &[String], value: Option<&str>) -> bool {
    wanted.is_empty() || value.is_some_and(|v| wanted.iter().any(|w| w == v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn callback(kind: &str, state: &str) -> EventRow {
        EventRow {
            source: "callback".into(),
            transaction_type: Some(kind.into()),
            state: Some(state.into()),
            ..EventRow::default()
        }
    }

    fn stream(name: &str) -> EventRow {
        EventRow {
            source: "orangepill".into(),
            event_name: Some(name.into()),
            ..EventRow::default()
        }
    }

    fn filter(source: Option<&str>, types: &[&str], states: &[&str], events: &[&str]) -> Filter {
        let own = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
        Filter {
            source: source.map(str::to_owned),
            types: own(types),
            states: own(states),
            events: own(events),
        }
    }

    #[test]
    fn each_criterion_selects_the_events_it_concerns() {
        let pay_ok = callback("PAYMENT", "SUCCESS");
        let dep_pending = callback("DEPOSIT", "PENDING");
        let done = stream("transaction.done");
        let user = stream("user.created");

        let all = Filter::default();
        assert!(
            [&pay_ok, &dep_pending, &done, &user]
                .iter()
                .all(|e| all.matches(e))
        );

        let payments = filter(None, &["PAYMENT"], &[], &[]);
        assert!(payments.matches(&pay_ok));
        assert!(!payments.matches(&dep_pending) && !payments.matches(&done));

        let successes = filter(None, &["PAYMENT", "DEPOSIT"], &["SUCCESS"], &[]);
        assert!(successes.matches(&pay_ok) && !successes.matches(&dep_pending));

        let transactions = filter(None, &[], &[], &["transaction.*"]);
        assert!(transactions.matches(&done));
        assert!(!transactions.matches(&user) && !transactions.matches(&pay_ok));
        assert!(filter(None, &[], &[], &["user.created"]).matches(&user));

        let both = filter(None, &["DEPOSIT"], &[], &["user.*"]);
        assert!(both.matches(&dep_pending) && both.matches(&user));
        assert!(!both.matches(&pay_ok) && !both.matches(&done));

        let stream_only = filter(Some("orangepill"), &[], &[], &[]);
        assert!(stream_only.matches(&done) && !stream_only.matches(&pay_ok));
    }

    #[test]
    fn bad_values_are_refused() {
        assert_eq!(
            filter(Some("email"), &[], &[], &[]).validate(),
            Err(FilterError::Source)
        );
        assert_eq!(
            filter(None, &["a\0"], &[], &[]).validate(),
            Err(FilterError::Value("types"))
        );
        assert!(
            filter(Some("callback"), &["PAYMENT"], &["SUCCESS"], &["x.*"])
                .validate()
                .is_ok()
        );
    }
}
