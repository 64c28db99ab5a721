//! Standard Webhooks verification (<https://www.standardwebhooks.com/>).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use hmac::Mac;
use http::HeaderMap;
use subtle::ConstantTimeEq;

use super::{HmacSha256, Keys, Rejection, Verified};

/// Accepted distance between `webhook-timestamp` and now, either way.
pub const TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// Longest `webhook-id` accepted (it becomes the deduplication key).
const MAX_ID_LEN: usize = 256;

pub(super) fn verify(
    keys: &Keys,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Result<Verified, Rejection> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let id = text("webhook-id")
        .map(str::trim)
        .filter(|id| !id.is_empty() && id.len() <= MAX_ID_LEN)
        .ok_or(Rejection::MissingWebhookHeaders)?;
    let ts: u64 = text("webhook-timestamp")
        .and_then(|t| t.trim().parse().ok())
        .ok_or(Rejection::MissingWebhookHeaders)?;
    let signatures = headers
        .get("webhook-signature")
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

    let ok = keys.iter().any(|key| {
        let mut mac = HmacSha256::new_from_slice(key).expect("hmac takes any key");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(ts.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        let expected = mac.finalize().into_bytes();
        // Compared with every candidate: no early exit on the first match.
        candidates.iter().fold(false, |acc, sig| {
            acc | bool::from(expected.as_slice().ct_eq(sig.as_slice()))
        })
    });
    if ok {
        Ok(Verified {
            webhook_id: Some(id.to_owned()),
        })
    } else {
        Err(Rejection::InvalidSignature)
    }
}
