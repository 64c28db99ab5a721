//! Standard Webhooks verification (<https://www.standardwebhooks.com/>).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use hmac::Mac;
use http::HeaderMap;
use subtle::{Choice, ConstantTimeEq};

use super::{HmacSha256, Keys, Rejection, Verified};

/// Accepted distance between `webhook-timestamp` and now, either way.
pub const TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// Longest `webhook-id` accepted (it becomes the deduplication key).
const MAX_ID_LEN: usize = 256;

/// The names of the three headers, in one naming.
struct Names {
    id: &'static str,
    timestamp: &'static str,
    signature: &'static str,
}

const STANDARD: Names = Names {
    id: "webhook-id",
    timestamp: "webhook-timestamp",
    signature: "webhook-signature",
};

/// What Svix-style senders send: the same values under other names.
const SVIX: Names = Names {
    id: "svix-id",
    timestamp: "svix-timestamp",
    signature: "svix-signature",
};

impl Names {
    /// The standard names, unless none of them is present and `svix-` ones are used instead.
    /// One naming for all three: a callback cannot mix them.
    fn of(headers: &HeaderMap) -> &'static Names {
        let standard = [STANDARD.id, STANDARD.timestamp, STANDARD.signature];
        if standard.iter().any(|n| headers.contains_key(*n)) {
            &STANDARD
        } else {
            &SVIX
        }
    }
}

pub(super) fn verify(
    keys: &Keys,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Result<Verified, Rejection> {
    let names = Names::of(headers);
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let id = text(names.id)
        .map(str::trim)
        .filter(|id| !id.is_empty() && id.len() <= MAX_ID_LEN)
        .ok_or(Rejection::MissingWebhookHeaders)?;
    // The signed string holds the timestamp exactly as received (`+5`, leading zeros and
    // all); only the tolerance check uses its value.
    let ts_text = text(names.timestamp).ok_or(Rejection::MissingWebhookHeaders)?;
    let ts: u64 = ts_text
        .trim()
        .parse()
        .map_err(|_| Rejection::MissingWebhookHeaders)?;
    let signatures = headers
        .get(names.signature)
        .ok_or(Rejection::MissingSignature)?
        .to_str()
        .map_err(|_| Rejection::MalformedSignature)?;

    let now_s = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    if now_s.abs_diff(ts) > TOLERANCE.as_secs() {
        return Err(Rejection::TimestampOutOfTolerance);
    }

    // Only well-formed `v1,<base64 of 32 bytes>` entries count; other versions are skipped.
    let candidates: Vec<Vec<u8>> = signatures
        .split_ascii_whitespace()
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .filter_map(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
        .filter(|sig| sig.len() == 32)
        .collect();
    if candidates.is_empty() {
        return Err(Rejection::MalformedSignature);
    }

    // Every key against every candidate, with no early exit on the first match.
    let mut ok = Choice::from(0);
    for key in keys.iter() {
        let mut mac = HmacSha256::new_from_slice(key).expect("hmac takes any key");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(ts_text.as_bytes());
        mac.update(b".");
        mac.update(body);
        let expected = mac.finalize().into_bytes();
        for sig in &candidates {
            ok |= expected.as_slice().ct_eq(sig.as_slice());
        }
    }
    if bool::from(ok) {
        Ok(Verified {
            webhook_id: Some(id.to_owned()),
        })
    } else {
        Err(Rejection::InvalidSignature)
    }
}
