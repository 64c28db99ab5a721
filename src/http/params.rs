//! Query-string parsing that names the parameter it refuses.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::ApiError;

/// The query string as a map, refusing parameters not in `known`.
pub fn query(
    raw: Option<&str>,
    known: &'static [&'static str],
) -> Result<HashMap<String, String>, ApiError> {
    let mut map = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        let Some(name) = known.iter().find(|n| **n == k) else {
            return Err(ApiError::BadParameter {
                param: "query",
                why: format!("unknown parameter {k:?}; known: {}", known.join(", ")),
            });
        };
        if map.insert(k.into_owned(), v.into_owned()).is_some() {
            return Err(ApiError::BadParameter {
                param: name,
                why: "given more than once".into(),
            });
        }
    }
    Ok(map)
}

/// `limit`: 1..=`max`, `default` when absent.
pub fn limit(v: Option<&String>, default: u32, max: u32) -> Result<u32, ApiError> {
    match v {
        None => Ok(default),
        Some(s) => s
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| ApiError::BadParameter {
                param: "limit",
                why: format!("must be a whole number from 1 to {max}"),
            }),
    }
}

/// A non-empty text filter.
pub fn text(
    map: &HashMap<String, String>,
    param: &'static str,
) -> Result<Option<String>, ApiError> {
    map.get(param)
        .map(|v| storable(v, param).map(str::to_owned))
        .transpose()
}

/// `v` if PostgreSQL can compare it with what it holds: 1 to 256 characters, no NUL (which
/// PostgreSQL text cannot hold, and refuses with an error that is the client's, not the
/// store's).
pub fn storable<'a>(v: &'a str, param: &'static str) -> Result<&'a str, ApiError> {
    if v.is_empty() || v.len() > 256 {
        return Err(ApiError::BadParameter {
            param,
            why: "must be 1 to 256 characters".into(),
        });
    }
    if v.contains('\0') {
        return Err(ApiError::BadParameter {
            param,
            why: "must not contain a NUL character".into(),
        });
    }
    Ok(v)
}

/// An RFC 3339 time.
pub fn time(
    map: &HashMap<String, String>,
    param: &'static str,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
    map.get(param)
        .map(|v| {
            chrono::DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&chrono::Utc))
                .map_err(|_| ApiError::BadParameter {
                    param,
                    why: "must be an RFC 3339 time, e.g. 2026-11-24T10:00:00Z".into(),
                })
        })
        .transpose()
}

/// Whole seconds from 0 to `max` (0 when absent).
pub fn seconds(
    v: Option<&String>,
    param: &'static str,
    max: u64,
) -> Result<std::time::Duration, ApiError> {
    match v {
        None => Ok(std::time::Duration::ZERO),
        Some(s) => s
            .parse::<u64>()
            .ok()
            .filter(|n| *n <= max)
            .map(std::time::Duration::from_secs)
            .ok_or_else(|| ApiError::BadParameter {
                param,
                why: format!("must be whole seconds from 0 to {max}"),
            }),
    }
}

/// A comma-separated list of values PostgreSQL can compare (each as [`storable`]).
pub fn list(map: &HashMap<String, String>, param: &'static str) -> Result<Vec<String>, ApiError> {
    match map.get(param) {
        None => Ok(Vec::new()),
        Some(v) => v
            .split(',')
            .map(|item| storable(item.trim(), param).map(str::to_owned))
            .collect(),
    }
}

/// A non-negative whole number.
pub fn sequence(v: Option<&String>, param: &'static str) -> Result<Option<i64>, ApiError> {
    v.map(|s| {
        s.parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| ApiError::BadParameter {
                param,
                why: "must be a non-negative whole number".into(),
            })
    })
    .transpose()
}

const CURSOR_PREFIX: &str = "t1:";

/// The opaque cursor for a listing position.
pub fn encode_cursor(after: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{CURSOR_PREFIX}{after}"))
}

/// The listing position an opaque cursor stands for.
pub fn decode_cursor(v: Option<&String>) -> Result<Option<i64>, ApiError> {
    v.map(|c| {
        URL_SAFE_NO_PAD
            .decode(c)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.strip_prefix(CURSOR_PREFIX)?.parse::<i64>().ok())
            .ok_or_else(|| ApiError::BadParameter {
                param: "cursor",
                why: "not a cursor this server issued".into(),
            })
    })
    .transpose()
}
