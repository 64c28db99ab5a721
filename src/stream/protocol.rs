//! The Orangepill stream's JSON text frames, both ways.
//!
//! Out: `{"type":"subscribe","realm":KEY}` and `{"type":"unsubscribe","realm":KEY}`. The text
//! of an outgoing frame holds the realm key, so it is built only to be sent: never logged,
//! never kept.
//!
//! In: `info`, `subscribe`, `unsubscribe`, `error` (its text is in `realm`) and
//! `notification` (`event`, `data` = entity id, `timestamp`).

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::timestamp::Timestamp;

/// The realm the server names in `info` when the key was not accepted.
pub const NO_REALM: &str = "NONE";

#[derive(Serialize)]
struct Outgoing<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    realm: &'a str,
}

/// The text of the subscribe frame for `key`. Secret: send it, do not log it.
pub fn subscribe(key: &SecretString) -> String {
    outgoing("subscribe", key)
}

/// The text of the unsubscribe frame for `key`. Secret: send it, do not log it.
pub fn unsubscribe(key: &SecretString) -> String {
    outgoing("unsubscribe", key)
}

fn outgoing(kind: &str, key: &SecretString) -> String {
    serde_json::to_string(&Outgoing {
        kind,
        realm: key.expose_secret(),
    })
    .expect("two strings always serialise")
}

/// A frame from the server, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerFrame {
    /// `info`: the realm id, or [`NO_REALM`] before an `error`.
    Info {
        realm: String,
    },
    /// The subscription is active.
    Subscribed {
        realm: String,
    },
    /// The subscription ended at our request.
    Unsubscribed {
        realm: String,
    },
    /// The server refused something; the text came in `realm`.
    Error {
        message: String,
    },
    Notification(Notification),
}

/// One event of the realm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub event: String,
    /// `data`: the affected entity's id, opaque.
    pub entity_id: String,
    /// `None` when the frame carried no readable timestamp; the event is still kept.
    pub timestamp: Option<Timestamp>,
}

/// Why a frame could not be read. The connection stays up either way.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("frame is not a JSON object")]
    NotJson,
    #[error("binary frame")]
    Binary,
    #[error("frame has no type")]
    NoType,
    #[error("unknown frame type {0:?}")]
    UnknownType(String),
    #[error("{kind} frame without {field}")]
    MissingField {
        kind: &'static str,
        field: &'static str,
    },
}

#[derive(Deserialize)]
struct Raw {
    #[serde(rename = "type")]
    kind: Option<String>,
    realm: Option<String>,
    event: Option<String>,
    data: Option<Value>,
    timestamp: Option<Value>,
}

/// Reads a text frame.
pub fn parse(text: &str) -> Result<ServerFrame, Malformed> {
    let raw: Raw = serde_json::from_str(text).map_err(|_| Malformed::NotJson)?;
    let kind = raw.kind.ok_or(Malformed::NoType)?;
    let realm = |kind: &'static str| {
        raw.realm.clone().ok_or(Malformed::MissingField {
            kind,
            field: "realm",
        })
    };
    Ok(match kind.as_str() {
        "info" => ServerFrame::Info {
            realm: realm("info")?,
        },
        "subscribe" => ServerFrame::Subscribed {
            realm: realm("subscribe")?,
        },
        "unsubscribe" => ServerFrame::Unsubscribed {
            realm: realm("unsubscribe")?,
        },
        "error" => ServerFrame::Error {
            message: realm("error")?,
        },
        "notification" => {
            let missing = |field| Malformed::MissingField {
                kind: "notification",
                field,
            };
            let event = raw
                .event
                .filter(|e| !e.is_empty())
                .ok_or(missing("event"))?;
            // An id is opaque: a string as it is, a number by its digits.
            let entity_id = match raw.data {
                Some(Value::String(s)) => s,
                Some(Value::Number(n)) => n.to_string(),
                _ => return Err(missing("data")),
            };
            ServerFrame::Notification(Notification {
                event,
                entity_id,
                timestamp: raw.timestamp.as_ref().and_then(Timestamp::from_json),
            })
        }
        _ => return Err(Malformed::UnknownType(kind)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outgoing_frames_are_exactly_as_documented() {
        let key = SecretString::from("k\"ey");
        assert_eq!(subscribe(&key), r#"{"type":"subscribe","realm":"k\"ey"}"#);
        assert_eq!(
            unsubscribe(&key),
            r#"{"type":"unsubscribe","realm":"k\"ey"}"#
        );
    }

    #[test]
    fn documented_server_frames_are_read() {
        assert_eq!(
            parse(r#"{"type":"info","realm":"NONE","timestamp":1671547687}"#),
            Ok(ServerFrame::Info {
                realm: "NONE".into()
            })
        );
        assert_eq!(
            parse(r#"{"type":"error","realm":"Invalid Realm Key.","timestamp":1671547687}"#),
            Ok(ServerFrame::Error {
                message: "Invalid Realm Key.".into()
            })
        );
        assert_eq!(
            parse(r#"{"type":"subscribe","realm":"r1","timestamp":1671547687}"#),
            Ok(ServerFrame::Subscribed { realm: "r1".into() })
        );
        let n = parse(
            r#"{"type":"notification","event":"transaction.done","data":"63967141191e9023f356df9f","timestamp":"162553625262"}"#,
        );
        assert_eq!(
            n,
            Ok(ServerFrame::Notification(Notification {
                event: "transaction.done".into(),
                entity_id: "63967141191e9023f356df9f".into(),
                timestamp: Some(Timestamp {
                    millis: 162_553_625_262
                }),
            }))
        );
    }

    #[test]
    fn malformed_frames_say_why() {
        assert_eq!(parse("not json"), Err(Malformed::NotJson));
        assert_eq!(parse("[1]"), Err(Malformed::NotJson));
        assert_eq!(parse("{}"), Err(Malformed::NoType));
        assert_eq!(
            parse(r#"{"type":"mystery"}"#),
            Err(Malformed::UnknownType("mystery".into()))
        );
        assert!(matches!(
            parse(r#"{"type":"notification","data":"x","timestamp":1}"#),
            Err(Malformed::MissingField { field: "event", .. })
        ));
        assert!(matches!(
            parse(r#"{"type":"notification","event":"a.b","timestamp":1}"#),
            Err(Malformed::MissingField { field: "data", .. })
        ));
    }

    #[test]
    fn a_notification_without_a_readable_timestamp_is_still_read() {
        let Ok(ServerFrame::Notification(n)) =
            parse(r#"{"type":"notification","event":"a.b","data":"e1"}"#)
        else {
            panic!("not read");
        };
        assert_eq!(n.timestamp, None);
    }
}
