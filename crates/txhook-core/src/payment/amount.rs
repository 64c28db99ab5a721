//! Exact decimal amounts. The digits are kept as written and never pass through `f64`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Most significant digits accepted in an amount (PostgreSQL `NUMERIC` holds far more, but
/// no currency needs them, and a bound keeps hostile input cheap).
const MAX_DIGITS: usize = 200;
/// Largest exponent magnitude accepted in `1e5` notation.
const MAX_EXPONENT: i64 = 200;

/// A decimal number exactly as the provider wrote it (`0.10` stays `0.10`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decimal(String);

impl Decimal {
    /// Accepts `-?digits[.digits][e[+-]digits]` within the bounds above.
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        let mut i = 0;
        if b.first() == Some(&b'-') {
            i += 1;
        }
        let int_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let mut digits = i - int_start;
        if digits == 0 {
            return None;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            let frac_start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i == frac_start {
                return None;
            }
            digits += i - frac_start;
        }
        if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
            let exp: i64 = s[i + 1..]
                .strip_prefix('+')
                .unwrap_or(&s[i + 1..])
                .parse()
                .ok()?;
            if exp.abs() > MAX_EXPONENT || !s[i + 1..].bytes().skip(1).all(|c| c.is_ascii_digit()) {
                return None;
            }
            i = b.len();
        }
        (i == b.len() && digits <= MAX_DIGITS).then(|| Self(s.to_owned()))
    }

    /// The digits as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Decimal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Decimal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // With serde_json's `arbitrary_precision`, a Number built from the string is written
        // out digit for digit.
        let n: serde_json::Number = self.0.parse().map_err(serde::ser::Error::custom)?;
        n.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Decimal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A JSON number (kept as written thanks to `arbitrary_precision`) or a numeric string.
        let text = match serde_json::Value::deserialize(d)? {
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::String(s) => s,
            _ => return Err(serde::de::Error::custom("expected a decimal number")),
        };
        Decimal::parse(&text)
            .ok_or_else(|| serde::de::Error::custom("not a decimal number within range"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_digits_and_rejects_non_decimals() {
        for ok in [
            "0.10",
            "12345678901234567890.123456789",
            "-5",
            "1e3",
            "2.50E-2",
            "1E+2",
        ] {
            assert_eq!(Decimal::parse(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "", "-", ".5", "5.", "1e", "abc", "1e999999", "NaN", "1.2.3", "+1", " 1", "1e+-2",
        ] {
            assert!(Decimal::parse(bad).is_none(), "{bad:?}");
        }
    }
}
