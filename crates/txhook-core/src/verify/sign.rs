//! The signing half, for the dev tools that play the provider (`send`, `mock-provider`).

use base64::Engine;
use hmac::Mac;

use super::HmacSha256;

/// `hmac-sha256`: lowercase hex of HMAC-SHA256(key, body).
pub fn sign_hmac_hex(key: &[u8], body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(key).expect("hmac takes any key");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Standard Webhooks: the `webhook-signature` value `v1,<base64>` for `id`, `timestamp`, body.
pub fn sign_standard(key: &[u8], id: &str, timestamp: u64, body: &[u8]) -> String {
    sign_standard_text(key, id, &timestamp.to_string(), body)
}

/// [`sign_standard`] with the `webhook-timestamp` header's text as sent (the signed string
/// holds it verbatim, even when it is written `+5` or with leading zeros).
pub fn sign_standard_text(key: &[u8], id: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(key).expect("hmac takes any key");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}
