//! Callback authentication over HTTP: both signature schemes, key rotation, the static header,
//! what a refusal answers and counts, and the configuration checks on keys.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

use txhook::verify::{decode_whsec, sign_hmac_hex, sign_standard, sign_standard_text};

use crate::helpers::*;

/// A second Standard Webhooks secret, for rotation and wrong-key cases.
fn other_whsec() -> String {
    format!("whsec_{}", B64.encode(b"another-32-byte-secret-for-tests"))
}

/// One header, with any bytes as its value.
fn header(name: &str, value: impl AsRef<[u8]>) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        HeaderName::try_from(name).unwrap(),
        HeaderValue::from_bytes(value.as_ref()).unwrap(),
    );
    h
}

fn new_body() -> String {
    tx_body(&new_id(), "PAYMENT", "PENDING", "10.00")
}

/// The value of `txhook_callbacks_rejected_total{reason="<reason>"}` in `GET /metrics`
/// (0 before the first rejection of that reason).
async fn rejected_total(app: &TestApp, reason: &str) -> f64 {
    let text = app.metrics_text().await;
    let label = format!("reason=\"{reason}\"");
    text.lines()
        .filter(|l| l.starts_with("txhook_callbacks_rejected_total{") && l.contains(&label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn events(app: &TestApp) -> i64 {
    app.count("select count(*) from events").await
}

/// The answer to every refused callback, whatever the reason: the reason is not told to the
/// sender (it would let one probe the static header without the key).
fn not_authentic() -> Value {
    serde_json::json!({"error": "not_authentic", "message": "the callback could not be authenticated"})
}

/// POSTs `body` with `headers` and asserts: 401 with the one "not authentic" answer, nothing
/// stored, and `txhook_callbacks_rejected_total{reason}` went up for `reason`. `case` names the
/// attempt in failures.
async fn assert_refused(app: &TestApp, body: &str, headers: HeaderMap, reason: &str, case: &str) {
    let stored_before = events(app).await;
    let counted_before = rejected_total(app, reason).await;

    let r = app.post_raw(body.to_owned(), headers).await;

    assert_eq!(r.status(), 401, "{case}");
    let err: Value = r.json().await.expect("a JSON error body");
    assert_eq!(err, not_authentic(), "{case}");
    assert_eq!(
        events(app).await,
        stored_before,
        "{case}: something was stored"
    );
    let counted_after = rejected_total(app, reason).await;
    assert!(
        counted_after > counted_before,
        "{case}: txhook_callbacks_rejected_total{{reason=\"{reason}\"}} did not increase \
         ({counted_before} -> {counted_after})"
    );
}

/// POSTs and asserts `200 {"status": status}`.
async fn assert_answer(app: &TestApp, body: &str, headers: HeaderMap, status: &str, case: &str) {
    let r = app.post_raw(body.to_owned(), headers).await;
    assert_eq!(r.status(), 200, "{case}");
    let answer: Value = r.json().await.expect("a JSON answer");
    assert_eq!(answer["status"], status, "{case}: {answer}");
}

// ---------------------------------------------------------------------------------------------
// hmac-sha256

#[tokio::test]
async fn custom_signature_header_is_used_and_default_header_is_then_refused() {
    let app =
        TestApp::spawn_with(Settings::default().set("TXHOOK_SIGNATURE_HEADER", "X-Signature"))
            .await;

    let signed = new_body();
    let sig = sign_hmac_hex(SHARED_KEY.as_bytes(), signed.as_bytes());
    assert_answer(
        &app,
        &signed,
        header("x-signature", &sig),
        "stored",
        "custom header",
    )
    .await;

    let other = new_body();
    assert_refused(
        &app,
        &other,
        hmac_headers(SHARED_KEY, other.as_bytes()),
        "missing_signature",
        "default header while a custom one is configured",
    )
    .await;
    assert_eq!(events(&app).await, 1);
}

#[tokio::test]
async fn missing_signature_header_is_refused() {
    let app = TestApp::spawn().await;
    assert_refused(
        &app,
        &new_body(),
        HeaderMap::new(),
        "missing_signature",
        "no header",
    )
    .await;
}

#[tokio::test]
async fn malformed_signature_values_are_refused_as_malformed() {
    // Every malformed form is a unit test of `verify`; here the endpoint's answer to one.
    let app = TestApp::spawn().await;
    let body = new_body();
    let hex = sign_hmac_hex(SHARED_KEY.as_bytes(), body.as_bytes());
    assert_refused(
        &app,
        &body,
        header("x-hubpay-hmac", &hex[..63]),
        "malformed_signature",
        "hex truncated by one digit",
    )
    .await;
    // The same body with its right signature is accepted: the refusal was about the header.
    assert_answer(
        &app,
        &body,
        header("x-hubpay-hmac", &hex),
        "stored",
        "control",
    )
    .await;
}
#[tokio::test]
async fn signature_over_another_body_is_refused_as_invalid() {
    let app = TestApp::spawn().await;
    let signed = new_body();
    let sig = sign_hmac_hex(SHARED_KEY.as_bytes(), signed.as_bytes());
    // The same JSON with other whitespace: the signature covers the raw bytes.
    assert_refused(
        &app,
        &format!("{signed}\n"),
        header("x-hubpay-hmac", &sig),
        "invalid_signature",
        "same JSON, one more byte",
    )
    .await;
}
#[tokio::test]
async fn signature_with_the_wrong_key_is_refused_as_invalid() {
    let app = TestApp::spawn().await;
    let body = new_body();
    assert_refused(
        &app,
        &body,
        hmac_headers(&SHARED_KEY.to_uppercase(), body.as_bytes()),
        "invalid_signature",
        "key in another case",
    )
    .await;
}
// ---------------------------------------------------------------------------------------------
// Key rotation

#[tokio::test]
async fn previous_shared_keys_still_verify_and_unconfigured_keys_do_not() {
    let app = TestApp::spawn_with(Settings::default().set(
        "TXHOOK_PREVIOUS_SHARED_KEYS",
        "old-shared-key-1,old-shared-key-2",
    ))
    .await;
    for key in ["old-shared-key-2", "old-shared-key-1", SHARED_KEY] {
        let body = new_body();
        assert_answer(
            &app,
            &body,
            hmac_headers(key, body.as_bytes()),
            "stored",
            key,
        )
        .await;
    }
    let body = new_body();
    assert_refused(
        &app,
        &body,
        hmac_headers("old-shared-key-0", body.as_bytes()),
        "invalid_signature",
        "a key never configured",
    )
    .await;
    // The list separator is not part of a key.
    assert_refused(
        &app,
        &body,
        hmac_headers("old-shared-key-1,old-shared-key-2", body.as_bytes()),
        "invalid_signature",
        "the whole list as one key",
    )
    .await;
}

#[tokio::test]
async fn key_removed_from_previous_keys_is_refused() {
    // After rotation finished, old1 was dropped from the list.
    let app = TestApp::spawn_with(
        Settings::default().set("TXHOOK_PREVIOUS_SHARED_KEYS", "old-shared-key-2"),
    )
    .await;
    let body = new_body();
    assert_refused(
        &app,
        &body,
        hmac_headers("old-shared-key-1", body.as_bytes()),
        "invalid_signature",
        "removed key",
    )
    .await;
    assert_answer(
        &app,
        &body,
        hmac_headers("old-shared-key-2", body.as_bytes()),
        "stored",
        "kept key",
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Static header

const STATIC_NAME: &str = "X-Provider-Token";
const STATIC_VALUE: &str = "static-header-value-4d1e8b";

async fn spawn_with_static_header() -> TestApp {
    TestApp::spawn_with(
        Settings::default()
            .set("TXHOOK_HEADER_KEY", STATIC_NAME)
            .set("TXHOOK_HEADER_VALUE", STATIC_VALUE),
    )
    .await
}

/// Correctly signed headers for `body`, plus the static header with `value`.
fn signed_with_static(body: &str, value: &str) -> HeaderMap {
    let mut h = hmac_headers(SHARED_KEY, body.as_bytes());
    h.insert(
        HeaderName::try_from(STATIC_NAME).unwrap(),
        HeaderValue::from_str(value).unwrap(),
    );
    h
}

#[tokio::test]
async fn static_header_must_be_present_and_equal() {
    let app = spawn_with_static_header().await;
    let body = new_body();

    assert_refused(
        &app,
        &body,
        hmac_headers(SHARED_KEY, body.as_bytes()),
        "missing_static_header",
        "signed, no static header",
    )
    .await;
    let prefix = &STATIC_VALUE[..STATIC_VALUE.len() - 1];
    let longer = format!("{STATIC_VALUE}x");
    for (case, value) in [
        ("wrong value", "wrong"),
        ("prefix of the value", prefix),
        ("value plus one character", longer.as_str()),
    ] {
        assert_refused(
            &app,
            &body,
            signed_with_static(&body, value),
            "invalid_static_header",
            case,
        )
        .await;
    }
    // The static header does not stand in for the signature.
    let mut unsigned = header("x-hubpay-hmac", sign_hmac_hex(b"wrong", body.as_bytes()));
    unsigned.insert(
        HeaderName::try_from(STATIC_NAME).unwrap(),
        HeaderValue::from_static(STATIC_VALUE),
    );
    assert_refused(
        &app,
        &body,
        unsigned,
        "invalid_signature",
        "right static header, wrong signature",
    )
    .await;

    assert_answer(
        &app,
        &body,
        signed_with_static(&body, STATIC_VALUE),
        "stored",
        "right static header",
    )
    .await;
}

#[tokio::test]
async fn static_header_cannot_be_probed_without_the_key() {
    let app = spawn_with_static_header().await;
    let body = new_body();
    let wrong_sig = |value: Option<&str>| {
        let mut h = hmac_headers("not-the-key", body.as_bytes());
        if let Some(v) = value {
            h.insert(
                HeaderName::try_from(STATIC_NAME).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    };
    // A sender without the key tries header values: right, wrong, none. A sender with the key
    // but not the header gets the same answer too.
    let attempts = [
        ("no key, right header", wrong_sig(Some(STATIC_VALUE))),
        ("no key, wrong header", wrong_sig(Some("guess"))),
        ("no key, no header", wrong_sig(None)),
        ("key, wrong header", signed_with_static(&body, "guess")),
        ("key, no header", hmac_headers(SHARED_KEY, body.as_bytes())),
    ];
    let mut answers = Vec::new();
    for (case, headers) in attempts {
        let r = app.post_raw(body.clone(), headers).await;
        let status = r.status().as_u16();
        let content_type = r.headers()["content-type"].to_str().unwrap().to_owned();
        let bytes = r.bytes().await.unwrap();
        answers.push((case, (status, content_type, bytes)));
    }
    for (case, answer) in &answers[1..] {
        assert_eq!(answer, &answers[0].1, "{case} vs {}", answers[0].0);
    }
    assert_eq!(answers[0].1.0, 401);
    assert_eq!(events(&app).await, 0);
    // The reasons are still told apart where operators look.
    for reason in [
        "invalid_signature",
        "invalid_static_header",
        "missing_static_header",
    ] {
        assert!(rejected_total(&app, reason).await >= 1.0, "{reason}");
    }
}

#[tokio::test]
async fn static_header_value_is_not_kept_with_the_stored_event() {
    let app = spawn_with_static_header().await;
    let body = new_body();
    assert_answer(
        &app,
        &body,
        signed_with_static(&body, STATIC_VALUE),
        "stored",
        "right static header",
    )
    .await;

    let kept: Value = sqlx::query_scalar("select headers from events")
        .fetch_one(&app.db)
        .await
        .unwrap();
    // Headers are kept (so their absence below means something) ...
    assert!(
        kept.get("x-hubpay-hmac").is_some(),
        "headers not kept: {kept}"
    );
    // ... but not the static one, under any name.
    assert!(kept.get("x-provider-token").is_none(), "{kept}");
    let leaks = app
        .count(&format!(
            "select count(*) from events where position('{STATIC_VALUE}' in headers::text) > 0"
        ))
        .await;
    assert_eq!(leaks, 0, "the static header's value is stored: {kept}");
}

// ---------------------------------------------------------------------------------------------
// Standard Webhooks

async fn spawn_standard(previous: Option<&str>) -> TestApp {
    let mut settings = Settings::default()
        .set("TXHOOK_SIGNATURE_SCHEME", "standard-webhooks")
        .set("TXHOOK_SHARED_KEY", WHSEC);
    if let Some(p) = previous {
        settings = settings.set("TXHOOK_PREVIOUS_SHARED_KEYS", p);
    }
    TestApp::spawn_with(settings).await
}

fn msg_id() -> String {
    format!("msg_{}", uuid::Uuid::new_v4().simple())
}

#[tokio::test]
async fn standard_webhooks_valid_callback_is_stored() {
    let app = spawn_standard(None).await;
    let body = new_body();
    let headers = standard_headers(WHSEC, &msg_id(), now_secs(), body.as_bytes());
    assert_answer(&app, &body, headers, "stored", "valid").await;
    assert_eq!(events(&app).await, 1);
}

#[tokio::test]
async fn standard_webhooks_timestamp_six_minutes_off_is_refused() {
    let app = spawn_standard(None).await;
    let body = new_body();
    let headers = standard_headers(WHSEC, &msg_id(), now_secs() - 360, body.as_bytes());
    assert_refused(
        &app,
        &body,
        headers,
        "timestamp_out_of_tolerance",
        "six minutes old",
    )
    .await;
}
#[tokio::test]
async fn standard_webhooks_missing_id_or_timestamp_is_refused() {
    let app = spawn_standard(None).await;
    let body = new_body();
    let signed = standard_headers(WHSEC, &msg_id(), now_secs(), body.as_bytes());
    let mut no_id = signed.clone();
    no_id.remove("webhook-id");
    assert_refused(
        &app,
        &body,
        no_id,
        "missing_webhook_headers",
        "no webhook-id",
    )
    .await;
    let mut unsigned = signed.clone();
    unsigned.remove("webhook-signature");
    assert_refused(
        &app,
        &body,
        unsigned,
        "missing_signature",
        "no webhook-signature",
    )
    .await;
}
#[tokio::test]
async fn standard_webhooks_same_webhook_id_is_duplicate_even_with_another_body() {
    let app = spawn_standard(None).await;
    let id = msg_id();
    let first = new_body();
    let headers = standard_headers(WHSEC, &id, now_secs(), first.as_bytes());
    assert_answer(&app, &first, headers, "stored", "first delivery").await;

    let second = new_body();
    let headers = standard_headers(WHSEC, &id, now_secs(), second.as_bytes());
    assert_answer(&app, &second, headers, "duplicate", "same id, other body").await;
    assert_eq!(events(&app).await, 1);

    // And the converse: the same body under a new id is a new event.
    let headers = standard_headers(WHSEC, &msg_id(), now_secs(), first.as_bytes());
    assert_answer(&app, &first, headers, "stored", "same body, new id").await;
    assert_eq!(events(&app).await, 2);
}

#[tokio::test]
async fn standard_webhooks_svix_header_names_verify_and_deduplicate_on_svix_id() {
    let app = spawn_standard(None).await;
    let key = decode_whsec(WHSEC).unwrap();
    let id = msg_id();
    let svix = |body: &str| {
        let ts = now_secs().to_string();
        let mut h = HeaderMap::new();
        h.insert("svix-id", id.parse().unwrap());
        h.insert("svix-timestamp", ts.parse().unwrap());
        h.insert(
            "svix-signature",
            sign_standard_text(&key, &id, &ts, body.as_bytes())
                .parse()
                .unwrap(),
        );
        h
    };
    let first = new_body();
    assert_answer(&app, &first, svix(&first), "stored", "svix names").await;
    let second = new_body();
    assert_answer(&app, &second, svix(&second), "duplicate", "same svix-id").await;

    let mut forged = svix(&first);
    forged.insert(
        "svix-signature",
        sign_standard(
            &decode_whsec(&other_whsec()).unwrap(),
            &id,
            now_secs(),
            b"{}",
        )
        .parse()
        .unwrap(),
    );
    assert_refused(&app, &first, forged, "invalid_signature", "svix, wrong key").await;
    assert_eq!(events(&app).await, 1);
}

#[tokio::test]
async fn standard_webhooks_previous_key_in_whsec_form_verifies() {
    let previous = other_whsec();
    let app = spawn_standard(Some(&previous)).await;
    let body = new_body();
    let headers = standard_headers(&previous, &msg_id(), now_secs(), body.as_bytes());
    assert_answer(&app, &body, headers, "stored", "previous key").await;

    let unknown = format!("whsec_{}", B64.encode(b"a-key-that-was-never-configured!"));
    let body = new_body();
    let headers = standard_headers(&unknown, &msg_id(), now_secs(), body.as_bytes());
    assert_refused(
        &app,
        &body,
        headers,
        "invalid_signature",
        "unconfigured whsec",
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Configuration

#[test]
fn standard_webhooks_with_a_non_whsec_key_fails_to_load_without_revealing_it() {
    let file = std::env::temp_dir().join(format!(
        "txhook-signatures-empty-{}.toml",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(&file, "").unwrap();

    for (var, key) in [
        ("TXHOOK_SHARED_KEY", "plain-secret!not-base64"),
        ("TXHOOK_SHARED_KEY", "whsec_***not*base64***"),
        ("TXHOOK_SHARED_KEY", "whsec_"),
        ("TXHOOK_PREVIOUS_SHARED_KEYS", "old-secret!not-base64"),
    ] {
        let result = txhook::config::load_with(Some(&file), |v| match v {
            "DATABASE_URL" => Some("postgres://txhook@127.0.0.1:1/unused".into()),
            "TXHOOK_SIGNATURE_SCHEME" => Some("standard-webhooks".into()),
            "TXHOOK_SHARED_KEY" if var == "TXHOOK_SHARED_KEY" => Some(key.into()),
            "TXHOOK_SHARED_KEY" => Some(WHSEC.into()),
            "TXHOOK_PREVIOUS_SHARED_KEYS" if var == "TXHOOK_PREVIOUS_SHARED_KEYS" => {
                Some(key.into())
            }
            _ => None,
        });
        let err = result.expect_err(&format!("{var}={key:?} was accepted"));
        let (shown, debug) = (err.to_string(), format!("{err:?}"));
        assert!(
            shown.contains(var),
            "{var}: error does not name it: {shown}"
        );
        for text in [&shown, &debug] {
            let secret_part = key.trim_start_matches("whsec_");
            assert!(
                secret_part.is_empty() || !text.contains(secret_part),
                "{var}: error reveals the key: {text}"
            );
        }
    }
    let _ = std::fs::remove_file(&file);
}
