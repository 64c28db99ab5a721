//! The Orangepill event catalogue: every event name the stream documentation lists.
//!
//! Names outside the list are accepted and stored as they come (the provider adds events
//! without notice); the catalogue only tells documented names apart, for metrics labels and
//! for the mock stream, which emits from it.

/// One documented event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Documented {
    pub name: &'static str,
    /// Marked `*` in the documentation: sent only with the Infobip extension enabled.
    pub infobip: bool,
    pub description: &'static str,
}

const fn ev(name: &'static str, description: &'static str) -> Documented {
    Documented {
        name,
        infobip: false,
        description,
    }
}

const fn infobip(name: &'static str, description: &'static str) -> Documented {
    Documented {
        name,
        infobip: true,
        description,
    }
}

/// Every fixed event name of the documentation, in its order. The per-channel message events
/// (`CHANNEL.message.sent|failed`) are not fixed names: see [`EventName::Message`].
pub static DOCUMENTED: &[Documented] = &[
    ev("user.created", "New user is successfully created."),
    ev("user.updated", "User is updated."),
    ev("user.deleted", "User is deleted, with all related content."),
    ev("identity.created", "New identity is successfully created."),
    ev("identity.updated", "Identity is updated."),
    ev("identity.deleted", "Identity is deleted."),
    infobip(
        "persons.sync.started",
        "Two-way synchronization of persons started.",
    ),
    infobip(
        "persons.sync.done",
        "Two-way synchronization succesfully finished.",
    ),
    infobip("person.created", "Person profile is created."),
    infobip("person.updated", "Person profile is updated."),
    infobip("person.deleted", "Person profile is deleted."),
    infobip("person.assigned", "Person is assigned to Identity."),
    infobip("person.unassigned", "Person is unassigned from Identity."),
    infobip("company.created", "Company profile is created."),
    infobip("company.updated", "Company profile is updated."),
    infobip("company.deleted", "Company profile is deleted."),
    ev("account.creating", "New account is being created."),
    ev("account.created", "Account is successfully created."),
    ev("account.failed", "Account creation has failed."),
    ev("account.updated", "Account has been updated."),
    ev("account.incoming", "Incoming balance."),
    ev("account.outgoing", "Outgoing balance."),
    ev(
        "transaction.processing",
        "New transaction is created and being processed.",
    ),
    ev("transaction.updated", "Transaction is updated."),
    ev("transaction.done", "Transaction is successfully processed."),
    ev("transaction.failed", "Transaction processing failed."),
    ev("deposit.pending", "Incoming deposit detected."),
    ev("deposit.received", "Incoming deposit received."),
    ev("deposit.processing", "Deposit is stored and processing."),
    ev(
        "deposit.gas",
        "Gas is withdrawn for ERC20, BEP20, TRC20 deposit processing.",
    ),
    ev("deposit.processed", "Deposit is successfully processed."),
    ev("deposit.failed", "Deposit processing failed."),
    ev(
        "withdrawal.creating",
        "New withdrawal is created and being processed.",
    ),
    ev(
        "withdrawal.processed",
        "Withdrawal is successfully processed.",
    ),
    ev("withdrawal.failed", "Withdrawal processing failed."),
    ev(
        "currency.created",
        "Virtual currency is successfully created.",
    ),
    ev("currency.failed", "Virtual currency failed creating."),
    ev("currency.issued", "New Virtual currency supply issued."),
    ev("currency.destroyed", "Virtual currency supply destroyed."),
    ev("alias.created", "Alias successfully created."),
    ev("alias.updated", "Alias successfully updated."),
    ev("alias.deleted", "Alias successfully deleted."),
    ev(
        "apps.forward.done",
        "Transaction was successfully forwarded.",
    ),
    ev("apps.forward.failed", "Transaction forwarding failed."),
    ev(
        "apps.payment.pending",
        "Apps.Payment is created and pending.",
    ),
    ev("apps.payment.status", "Apps.Payment status change."),
    ev(
        "apps.payment.processing",
        "Apps.Payment is being processed.",
    ),
    ev(
        "apps.payment.done",
        "Apps.Payment is successfully processed.",
    ),
    ev("apps.payment.failed", "Apps.Payment processing failed."),
    ev(
        "apps.deposit.pending",
        "Apps.Deposit is created and pending.",
    ),
    ev(
        "apps.deposit.processing",
        "Apps.Deposit is being processed.",
    ),
    ev(
        "apps.deposit.done",
        "Apps.Deposit is succesfully processed.",
    ),
    ev("apps.deposit.failed", "Apps.Deposit processing failed."),
];

/// Channels the documentation names for `CHANNEL.message.*` ("and any other enabled").
pub const DOCUMENTED_CHANNELS: &[&str] = &["sms", "whatsapp", "html"];

/// Channels that get a metrics label of their own: the documented ones and the other
/// channels Infobip offers. Any other channel is counted as `other.message.*`.
const LABELLED_CHANNELS: &[&str] = &[
    "sms",
    "whatsapp",
    "html",
    "viber",
    "telegram",
    "email",
    "rcs",
    "messenger",
    "line",
    "mms",
    "voice",
    "kakao",
    "instagram",
    "apple",
];

/// What a message event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    Failed,
}

/// An event name read against the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventName<'a> {
    /// A fixed name of the documentation.
    Documented(&'static Documented),
    /// `CHANNEL.message.sent` or `CHANNEL.message.failed`, for any channel (Infobip `*`).
    Message {
        channel: &'a str,
        delivery: Delivery,
    },
    /// Anything else: stored as it is.
    Unknown(&'a str),
}

impl<'a> EventName<'a> {
    /// Reads `name` against the catalogue. Never fails: unknown names are kept.
    pub fn parse(name: &'a str) -> Self {
        if let Some(d) = DOCUMENTED.iter().find(|d| d.name == name) {
            return Self::Documented(d);
        }
        let message = |suffix: &str| {
            name.strip_suffix(suffix)
                .filter(|c| !c.is_empty() && !c.contains('.'))
        };
        if let Some(channel) = message(".message.sent") {
            return Self::Message {
                channel,
                delivery: Delivery::Sent,
            };
        }
        if let Some(channel) = message(".message.failed") {
            return Self::Message {
                channel,
                delivery: Delivery::Failed,
            };
        }
        Self::Unknown(name)
    }

    /// Whether the event is sent only with the Infobip extension (`*` in the documentation).
    pub fn infobip(&self) -> bool {
        match self {
            Self::Documented(d) => d.infobip,
            Self::Message { .. } => true,
            Self::Unknown(_) => false,
        }
    }

    /// The metrics label: the name itself when the catalogue knows it, `unknown` otherwise,
    /// so that a stream of invented names cannot grow the metrics without bound.
    pub fn label(&self) -> String {
        match self {
            Self::Documented(d) => d.name.to_owned(),
            // Only known channels: any other would let the stream mint labels.
            Self::Message { channel, delivery } if LABELLED_CHANNELS.contains(channel) => {
                match delivery {
                    Delivery::Sent => format!("{channel}.message.sent"),
                    Delivery::Failed => format!("{channel}.message.failed"),
                }
            }
            Self::Message { delivery, .. } => match delivery {
                Delivery::Sent => "other.message.sent".to_owned(),
                Delivery::Failed => "other.message.failed".to_owned(),
            },
            Self::Unknown(_) => "unknown".to_owned(),
        }
    }
}

/// Every name the mock stream emits: the fixed names, then each documented channel's two
/// message events.
pub fn all_names() -> Vec<String> {
    let mut names: Vec<String> = DOCUMENTED.iter().map(|d| d.name.to_owned()).collect();
    for c in DOCUMENTED_CHANNELS {
        names.push(format!("{c}.message.sent"));
        names.push(format!("{c}.message.failed"));
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_names_are_unique_and_complete() {
        let mut names: Vec<_> = DOCUMENTED.iter().map(|d| d.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DOCUMENTED.len());
        // 53 fixed names, besides the two per-channel message events.
        assert_eq!(DOCUMENTED.len(), 53);
        assert_eq!(DOCUMENTED.iter().filter(|d| d.infobip).count(), 10);
    }

    #[test]
    fn names_read_against_the_catalogue() {
        assert!(matches!(
            EventName::parse("transaction.done"),
            EventName::Documented(d) if d.name == "transaction.done" && !d.infobip
        ));
        assert!(EventName::parse("person.created").infobip());
        assert_eq!(
            EventName::parse("telegram.message.failed"),
            EventName::Message {
                channel: "telegram",
                delivery: Delivery::Failed
            }
        );
        assert!(EventName::parse("sms.message.sent").infobip());
        assert_eq!(
            EventName::parse("widget.exploded"),
            EventName::Unknown("widget.exploded")
        );
        assert_eq!(
            EventName::parse(".message.sent"),
            EventName::Unknown(".message.sent")
        );
        assert_eq!(EventName::parse("widget.exploded").label(), "unknown");
        assert_eq!(
            EventName::parse("sms.message.sent").label(),
            "sms.message.sent"
        );
        assert_eq!(
            EventName::parse("pigeon42.message.failed").label(),
            "other.message.failed"
        );
    }
}
