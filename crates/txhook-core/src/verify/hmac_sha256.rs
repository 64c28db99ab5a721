//! The `hmac-sha256` scheme: one header carrying HMAC-SHA256(shared key, raw body).

use hmac::Mac;
use http::{HeaderMap, HeaderName};
use subtle::{Choice, ConstantTimeEq};

use super::{HmacSha256, Keys, Rejection, Verified};

pub(super) fn verify(
    keys: &Keys,
    header: &HeaderName,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Verified, Rejection> {
    let value = headers
        .get(header)
        .ok_or(Rejection::MissingSignature)?
        .to_str()
        .map_err(|_| Rejection::MalformedSignature)?;
    let sig = decode_signature(value)?;
    // Every key is tried, without stopping at the first match: the time taken does not
    // depend on which key signed.
    let mut ok = Choice::from(0);
    for key in keys.iter() {
        let mut mac = HmacSha256::new_from_slice(key).expect("hmac takes any key");
        mac.update(body);
        ok |= mac.finalize().into_bytes().as_slice().ct_eq(&sig);
    }
    if bool::from(ok) {
        Ok(Verified { webhook_id: None })
    } else {
        Err(Rejection::InvalidSignature)
    }
}

/// Decodes an `hmac-sha256` header value: hex (either case, optional `sha256=` prefix) or
/// standard base64; anything that is not exactly 32 bytes is malformed.
fn decode_signature(value: &str) -> Result<[u8; 32], Rejection> {
    use base64::Engine;
    let v = value.trim();
    let v = match v.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("sha256=") => &v[7..],
        _ => v,
    };
    let bytes = if v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(v).map_err(|_| Rejection::MalformedSignature)?
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(v)
            .map_err(|_| Rejection::MalformedSignature)?
    };
    bytes.try_into().map_err(|_| Rejection::MalformedSignature)
}
