//! The server timestamp of a notification, normalised.
//!
//! The stream sends `timestamp` as a JSON number or a string, in seconds or in milliseconds
//! since the Unix epoch. The unit is decided by magnitude: a value below 10^11 is seconds
//! (10^11 seconds is the year 5138), anything from 10^11 up is milliseconds (10^11
//! milliseconds is March 1973, before any Orangepill event). A fraction is allowed and kept to
//! the millisecond. Both forms normalise to one integer: milliseconds since the epoch. That
//! integer is the timestamp part of the deduplication key, so `1671547687`, `"1671547687"`
//! and `1671547687000` are the same instant and the same key.

use chrono::{DateTime, Utc};
use serde_json::Value;

/// Values below this are seconds; from it up, milliseconds.
pub const MILLIS_FROM: u64 = 100_000_000_000;

/// A readable server timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    /// Milliseconds since the Unix epoch.
    pub millis: i64,
}

impl Timestamp {
    /// Reads a `timestamp` field: a number or a string of one, seconds or milliseconds.
    /// `None` when it is neither, negative, or out of range.
    pub fn from_json(v: &Value) -> Option<Self> {
        match v {
            // With arbitrary precision the number's text is exactly what was sent.
            Value::Number(n) => Self::parse(&n.to_string()),
            Value::String(s) => Self::parse(s),
            _ => None,
        }
    }

    /// Reads decimal text (`1671547687`, `"162553625262"`, `1671547687.25`, `1.6e9`).
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let (whole, fraction) = match text.split_once('.') {
            Some((w, f)) => (w, f),
            None => (text, ""),
        };
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        let (whole, frac_millis) = if !whole.is_empty() && digits(whole) && digits(fraction) {
            let whole: u64 = whole.parse().ok()?;
            // The first three fraction digits, padded: ".5" is 500 of a thousand.
            let f: String = fraction.chars().chain("000".chars()).take(3).collect();
            (whole, f.parse::<u64>().ok()?)
        } else {
            // Exponent forms and the like: through f64, which is exact enough for these.
            let f: f64 = text
                .parse()
                .ok()
                .filter(|f: &f64| f.is_finite() && *f >= 0.0)?;
            if f >= u64::MAX as f64 {
                return None;
            }
            (
                f.trunc() as u64,
                ((f.fract() * 1000.0).round() as u64).min(999),
            )
        };
        let millis = if whole < MILLIS_FROM {
            whole.checked_mul(1000)?.checked_add(frac_millis)?
        } else {
            whole
        };
        let millis = i64::try_from(millis).ok()?;
        DateTime::<Utc>::from_timestamp_millis(millis)?;
        Some(Self { millis })
    }

    /// The instant.
    pub fn time(&self) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp_millis(self.millis).expect("checked when read")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn millis(v: Value) -> Option<i64> {
        Timestamp::from_json(&v).map(|t| t.millis)
    }

    #[test]
    fn seconds_and_milliseconds_by_magnitude_in_either_form() {
        assert_eq!(millis(json!(1671547687)), Some(1_671_547_687_000));
        assert_eq!(millis(json!("1671547687")), Some(1_671_547_687_000));
        assert_eq!(millis(json!(1671547687123u64)), Some(1_671_547_687_123));
        assert_eq!(millis(json!(" 1671547687123 ")), Some(1_671_547_687_123));
        // The documentation's own example: 12 digits, so milliseconds (February 1975).
        assert_eq!(millis(json!("162553625262")), Some(162_553_625_262));
        assert_eq!(millis(json!(99_999_999_999u64)), Some(99_999_999_999_000));
    }

    #[test]
    fn fractions_and_exponents_are_kept_to_the_millisecond() {
        assert_eq!(millis(json!("1671547687.5")), Some(1_671_547_687_500));
        assert_eq!(millis(json!("1671547687.12345")), Some(1_671_547_687_123));
        assert_eq!(millis(json!("1671547687123.9")), Some(1_671_547_687_123));
        let n: Value = serde_json::from_str("1.671547687e9").unwrap();
        assert_eq!(millis(n), Some(1_671_547_687_000));
    }

    #[test]
    fn unreadable_timestamps_are_refused() {
        for v in [
            json!("soon"),
            json!(""),
            json!(-5),
            json!(null),
            json!(true),
            json!({}),
            json!("1e400"),
            json!("99999999999999999999999"),
        ] {
            assert_eq!(millis(v.clone()), None, "{v}");
        }
    }

    #[test]
    fn time_is_utc() {
        let t = Timestamp::parse("1671547687").unwrap();
        assert_eq!(t.time().to_rfc3339(), "2022-12-20T14:48:07+00:00");
    }
}
