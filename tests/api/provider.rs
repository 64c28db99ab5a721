//! The provider side: registration against a fake provider speaking real HTTP, and
//! `txhook send` against the real server.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::helpers::*;

const PROVIDER_API_KEY: &str = "provider-api-key-93d1";
const HEADER_VALUE: &str = "static-header-value-0c4e";

/// One request the fake provider received.
#[derive(Debug, Clone)]
struct Seen {
    authorization: Option<String>,
    content_type: Option<String>,
    body: Value,
}

#[derive(Clone)]
struct Fake {
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Answers in order; the last one repeats.
    answers: Arc<Vec<(u16, &'static str)>>,
    /// The request at this index waits for a permit before it is answered.
    gate: Option<(usize, Arc<Semaphore>)>,
}

/// A provider on loopback that answers `POST /api/v1/transactions/subscribe` from a script.
struct FakeProvider {
    addr: SocketAddr,
    fake: Fake,
}

impl FakeProvider {
    async fn start(
        answers: Vec<(u16, &'static str)>,
        gate: Option<(usize, Arc<Semaphore>)>,
    ) -> Self {
        let fake = Fake {
            seen: Arc::default(),
            answers: Arc::new(answers),
            gate,
        };
        let app = axum::Router::new()
            .route("/api/v1/transactions/subscribe", post(subscribe))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, fake }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.fake.seen.lock().unwrap().clone()
    }
}

async fn subscribe(
    State(fake): State<Fake>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, String) {
    let header = |n: &str| headers.get(n).map(|v| v.to_str().unwrap().to_owned());
    let index = {
        let mut seen = fake.seen.lock().unwrap();
        seen.push(Seen {
            authorization: header("authorization"),
            content_type: header("content-type"),
            body: serde_json::from_str(&body).unwrap_or(Value::Null),
        });
        seen.len() - 1
    };
    if let Some((at, gate)) = &fake.gate {
        if *at == index {
            gate.acquire().await.unwrap().forget();
        }
    }
    let (status, answer) = fake.answers[index.min(fake.answers.len() - 1)];
    (StatusCode::from_u16(status).unwrap(), answer.to_owned())
}

fn registering(provider: &FakeProvider, public: &str) -> Settings {
    registering_at(provider.url(), public)
}

fn registering_at(provider_url: String, public: &str) -> Settings {
    Settings::default()
        .set("TXHOOK_PROVIDER_URL", provider_url)
        .set("TXHOOK_PUBLIC_URL", public)
        .set("TXHOOK_PROVIDER_API_KEY", PROVIDER_API_KEY)
        .set("TXHOOK_HEADER_KEY", "X-Txhook-Token")
        .set("TXHOOK_HEADER_VALUE", HEADER_VALUE)
        .set("TXHOOK_REGISTER_BACKOFF_MS", "20")
}

/// Polls `GET /api/v1/subscription` until `state` is `want`.
async fn subscription_reaches(app: &TestApp, want: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let got: Value = app.get_admin_json("/api/v1/subscription").await;
        if got["state"] == want {
            return got;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "state never {want}: {got}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls `/readyz` until the registration detail's state is `want`.
async fn readiness_shows(app: &TestApp, want: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let got: Value = app.get_admin_json("/readyz").await;
        if got["registration"]["state"] == want {
            return got;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "readiness never {want}: {got}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn headers_with_static(body: &str) -> reqwest::header::HeaderMap {
    let mut h = hmac_headers(SHARED_KEY, body.as_bytes());
    h.insert("x-txhook-token", HEADER_VALUE.parse().unwrap());
    h
}

#[tokio::test]
async fn registration_retries_503_then_registers_while_callbacks_are_received() {
    // Arrange: 503, 503, then 201 held back until the test lets it through.
    let gate = Arc::new(Semaphore::new(0));
    let provider = FakeProvider::start(
        vec![
            (503, r#"{"error":"maintenance"}"#),
            (503, r#"{"error":"maintenance"}"#),
            (201, r#"{"status":"subscribed"}"#),
        ],
        Some((2, gate.clone())),
    )
    .await;
    let app = TestApp::spawn_with(registering(&provider, "https://hooks.example.com/")).await;

    // Act + Assert: two failures are recorded while the third attempt is in flight ...
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while provider.seen().len() < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "third attempt never came"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let pending = subscription_reaches(&app, "retrying").await;
    assert_eq!(pending["lastAttempt"]["httpStatus"], 503);
    assert_eq!(pending["lastAttempt"]["attempt"], 2);

    // ... and callbacks are received meanwhile.
    let body = tx_body(&new_id(), "PAYMENT", "PENDING", "12.30");
    let r = app
        .post_raw(body.clone(), headers_with_static(&body).await)
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "stored");

    gate.add_permits(1);
    let done = subscription_reaches(&app, "registered").await;
    assert_eq!(done["lastAttempt"]["httpStatus"], 201);
    assert_eq!(
        done["callbackUrl"],
        "https://hooks.example.com/webhooks/transactions"
    );
    assert!(done["registeredAt"].is_string());
    readiness_shows(&app, "registered").await;

    // Every attempt carried exactly the documented body and the bearer credential.
    let seen = provider.seen();
    assert_eq!(seen.len(), 3);
    for s in &seen {
        assert_eq!(
            s.body,
            json!({
                "callbackUrl": "https://hooks.example.com/webhooks/transactions",
                "sharedKey": SHARED_KEY,
                "headerKey": "X-Txhook-Token",
                "headerValue": HEADER_VALUE,
            })
        );
        assert_eq!(
            s.authorization.as_deref(),
            Some(&*format!("Bearer {PROVIDER_API_KEY}"))
        );
        assert_eq!(s.content_type.as_deref(), Some("application/json"));
    }

    // Recorded: three attempts, no secret anywhere in them.
    let rows: Vec<(i32, Option<i32>, String)> =
        sqlx::query_as("select attempt, http_status, outcome from registrations order by id")
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(
        rows,
        vec![
            (1, Some(503), "retrying".into()),
            (2, Some(503), "retrying".into()),
            (3, Some(201), "registered".into()),
        ]
    );
    let dump: String = sqlx::query_scalar("select string_agg(r::text, ' ') from registrations r")
        .fetch_one(&app.db)
        .await
        .unwrap();
    for secret in [SHARED_KEY, HEADER_VALUE, PROVIDER_API_KEY] {
        assert!(!dump.contains(secret), "a secret was recorded");
    }
    let metrics = app.metrics_text().await;
    assert!(metrics.contains("txhook_registration_state"), "{metrics}");
}

#[tokio::test]
async fn provider_400_is_not_retried_and_is_reported() {
    let provider = FakeProvider::start(
        vec![(400, r#"{"error":"callbackUrl must be https"}"#)],
        None,
    )
    .await;
    let app = TestApp::spawn_with(registering(&provider, "http://hooks.example.com")).await;

    let got = subscription_reaches(&app, "rejected").await;
    assert_eq!(got["lastAttempt"]["httpStatus"], 400);
    assert!(
        got["lastAttempt"]["answer"]
            .as_str()
            .unwrap()
            .contains("callbackUrl must be https"),
        "{got}"
    );
    let ready = readiness_shows(&app, "rejected").await;
    assert_eq!(ready["registration"]["httpStatus"], 400);
    assert!(
        ready["registration"]["answer"]
            .as_str()
            .unwrap()
            .contains("must be https")
    );

    // Not retried: with a 20 ms backoff a retry would have come long before this window ends.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(provider.seen().len(), 1);
    assert_eq!(app.count("select count(*) from registrations").await, 1);
}

#[tokio::test]
async fn replicas_starting_together_register_once() {
    let provider = FakeProvider::start(vec![(201, "{}")], None).await;
    let db = fresh_database().await;
    let settings =
        || registering(&provider, "https://hooks.example.com").set("DATABASE_URL", db.clone());
    let (a, b) = tokio::join!(
        TestApp::spawn_with(settings()),
        TestApp::spawn_with(settings())
    );
    readiness_shows(&a, "registered").await;
    readiness_shows(&b, "registered").await;
    assert_eq!(provider.seen().len(), 1);

    // A restart with the same callbackUrl and key does not register again either.
    let c = TestApp::spawn_with(settings()).await;
    let ready = readiness_shows(&c, "registered").await;
    assert!(
        ready["registration"]["answer"]
            .as_str()
            .unwrap()
            .contains("already registered")
    );
    assert_eq!(provider.seen().len(), 1);

    // A new key is news for the provider.
    let d = TestApp::spawn_with(settings().set("TXHOOK_SHARED_KEY", "rotated-shared-key-1")).await;
    readiness_shows(&d, "registered").await;
    assert_eq!(provider.seen().len(), 2);
    assert_eq!(provider.seen()[1].body["sharedKey"], "rotated-shared-key-1");
}

/// Serves `router` on loopback; returns its base URL.
async fn serve_fake(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

#[tokio::test]
async fn retry_after_zero_does_not_shorten_the_backoff() {
    // Arrange: four 503s asking to retry at once, then a success; a 100 ms backoff.
    let seen: Arc<Mutex<Vec<tokio::time::Instant>>> = Arc::default();
    let router = axum::Router::new().route(
        "/api/v1/transactions/subscribe",
        post({
            let seen = seen.clone();
            move || async move {
                let n = {
                    let mut seen = seen.lock().unwrap();
                    seen.push(tokio::time::Instant::now());
                    seen.len()
                };
                if n <= 4 {
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        [("retry-after", "0")],
                        "busy",
                    )
                } else {
                    (StatusCode::CREATED, [("retry-after", "0")], "{}")
                }
            }
        }),
    );
    let url = serve_fake(router).await;

    // Act
    let app = TestApp::spawn_with(
        registering_at(url, "https://hooks.example.com").set("TXHOOK_REGISTER_BACKOFF_MS", "100"),
    )
    .await;
    subscription_reaches(&app, "registered").await;

    // Assert: each wait is at least the backoff's lower bound (half its doubling ceiling),
    // where Retry-After: 0 alone would have sent the attempts back to back.
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 5);
    for (i, pair) in seen.windows(2).enumerate() {
        let gap = pair[1] - pair[0];
        let floor = Duration::from_millis(50 << i);
        assert!(
            gap >= floor,
            "wait {i} was {gap:?}, below the backoff {floor:?}"
        );
    }
    assert_eq!(app.count("select count(*) from registrations").await, 5);
}

/// Counts what a streamed body handed out, and says when the body was dropped (read to its
/// end, or given up by the client).
struct BodyProbe {
    produced: std::sync::atomic::AtomicUsize,
    dropped: tokio::sync::Notify,
}

struct DropSignal(Arc<BodyProbe>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        self.0.dropped.notify_one();
    }
}

#[tokio::test]
async fn a_huge_provider_answer_is_not_read_to_its_end_and_registration_goes_on() {
    // Arrange: a 503 whose body is 50 MB, streamed; then a success.
    const CHUNK: usize = 64 * 1024;
    const TOTAL: usize = 50 * 1024 * 1024;
    let probe = Arc::new(BodyProbe {
        produced: Default::default(),
        dropped: Default::default(),
    });
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let router = axum::Router::new().route(
        "/api/v1/transactions/subscribe",
        post({
            let (probe, calls) = (probe.clone(), calls.clone());
            move || async move {
                use std::sync::atomic::Ordering::SeqCst;
                if calls.fetch_add(1, SeqCst) > 0 {
                    return (StatusCode::CREATED, axum::body::Body::from("{}"));
                }
                let signal = DropSignal(probe.clone());
                let chunks = (0..TOTAL / CHUNK).map(move |_| {
                    signal.0.produced.fetch_add(CHUNK, SeqCst);
                    Ok::<_, std::convert::Infallible>(bytes::Bytes::from(vec![b'x'; CHUNK]))
                });
                let body = axum::body::Body::from_stream(futures_util::stream::iter(chunks));
                (StatusCode::SERVICE_UNAVAILABLE, body)
            }
        }),
    );
    let url = serve_fake(router).await;
    let dropped = probe.dropped.notified();

    // Act
    let app = TestApp::spawn_with(registering_at(url, "https://hooks.example.com")).await;
    subscription_reaches(&app, "registered").await;
    tokio::time::timeout(Duration::from_secs(20), dropped)
        .await
        .expect("the huge body was never dropped");

    // Assert: the client gave up reading long before the end (what it took is bounded by
    // the cap plus the sockets' buffers) ...
    let produced = probe.produced.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        produced < TOTAL / 2,
        "{produced} of {TOTAL} bytes were read: the answer was read to its end"
    );
    // ... and what was recorded of it is its beginning, truncated.
    let answer: String = sqlx::query_scalar("select answer from registrations where attempt = 1")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(answer.starts_with("xxxx"), "{answer}");
    assert!(answer.chars().count() <= txhook::provider::MAX_ANSWER_CHARS + 1);
}

/// `txhook --config <empty file>`, the arguments to come.
fn txhook() -> tokio::process::Command {
    let mut cmd = tokio::process::Command::from(crate::common::process::txhook(&[]));
    cmd.env("RUST_LOG", "warn");
    cmd
}

#[tokio::test]
async fn subscribe_command_reports_a_refusal_without_the_key() {
    let provider = FakeProvider::start(vec![(400, r#"{"error":"unknown wallet"}"#)], None).await;
    let db = fresh_database().await;
    let out = txhook()
        .args(["subscribe", "--timeout", "10s"])
        .env("DATABASE_URL", &db)
        .env("TXHOOK_SHARED_KEY", SHARED_KEY)
        .env("TXHOOK_PROVIDER_URL", provider.url())
        .env("TXHOOK_PUBLIC_URL", "https://hooks.example.com")
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("HTTP 400") && stderr.contains("unknown wallet"),
        "{stderr}"
    );
    assert!(!stderr.contains(SHARED_KEY));
    assert_eq!(provider.seen().len(), 1);
}

#[tokio::test]
async fn subscribe_command_retries_and_exits_0() {
    let provider =
        FakeProvider::start(vec![(503, "busy"), (429, "slow down"), (201, "{}")], None).await;
    let db = fresh_database().await;
    let out = txhook()
        .args(["subscribe", "--timeout", "30s"])
        .env("DATABASE_URL", &db)
        .env("TXHOOK_SHARED_KEY", SHARED_KEY)
        .env("TXHOOK_PROVIDER_URL", provider.url())
        .env("TXHOOK_PUBLIC_URL", "https://hooks.example.com")
        .env("TXHOOK_REGISTER_BACKOFF_MS", "10")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("registered https://hooks.example.com/webhooks/transactions"),
        "{stdout}"
    );
    assert_eq!(provider.seen().len(), 3);
}

#[tokio::test]
async fn send_round_trip_for_every_type() {
    let app = TestApp::spawn_with(
        Settings::default()
            .set("TXHOOK_HEADER_KEY", "X-Txhook-Token")
            .set("TXHOOK_HEADER_VALUE", HEADER_VALUE),
    )
    .await;
    let url = app.url("/webhooks/transactions");
    for (kind, detail) in [
        ("PAYMENT", Some("payment")),
        ("DEPOSIT", Some("deposit")),
        ("CHARGE", Some("charge")),
        ("EXCHANGE", Some("exchange")),
        ("OTHER_CREDIT_DEBIT", None),
    ] {
        let id = new_id();
        for state in ["PENDING", "SUCCESS"] {
            // No DATABASE_URL: send needs only the signing settings.
            let out = txhook()
                .args([
                    "send", "--url", &url, "--type", kind, "--state", state, "--id", &id,
                ])
                .args(["--repeat", "2"])
                .env("TXHOOK_SHARED_KEY", SHARED_KEY)
                .env("TXHOOK_HEADER_KEY", "X-Txhook-Token")
                .env("TXHOOK_HEADER_VALUE", HEADER_VALUE)
                .output()
                .await
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "{kind} {state}: {stdout} {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let answers: Vec<&str> = stdout.lines().filter(|l| l.starts_with("200 ")).collect();
            assert_eq!(answers.len(), 2, "{stdout}");
            assert!(answers[0].contains(r#""status":"stored""#), "{stdout}");
            assert!(answers[1].contains(r#""status":"duplicate""#), "{stdout}");
        }
        let got: Value = app
            .get_admin_json(&format!("/api/v1/transactions/{id}"))
            .await;
        assert_eq!(got["type"], kind);
        assert_eq!(got["status"]["state"], "SUCCESS");
        assert_eq!(got["history"].as_array().unwrap().len(), 2);
        if let Some(d) = detail {
            assert!(got[d].is_object(), "{kind}: {got}");
        }
    }
    assert_eq!(app.count("select count(*) from events").await, 10);
}

#[tokio::test]
async fn send_exits_non_zero_when_the_answer_is_not_200() {
    let app = TestApp::spawn().await;
    let out = txhook()
        .args(["send", "--url", &app.url("/webhooks/transactions")])
        .env("TXHOOK_SHARED_KEY", "not-the-servers-key")
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("401"));
    assert_eq!(app.count("select count(*) from events").await, 0);

    // Without a key, send says which variable is missing.
    let out = txhook().args(["send"]).output().await.unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("TXHOOK_SHARED_KEY is required"));
}

#[tokio::test]
async fn send_signs_with_standard_webhooks_too() {
    let app = TestApp::spawn_with(
        Settings::default()
            .set("TXHOOK_SIGNATURE_SCHEME", "standard-webhooks")
            .set("TXHOOK_SHARED_KEY", WHSEC),
    )
    .await;
    let out = txhook()
        .args([
            "send",
            "--url",
            &app.url("/webhooks/transactions"),
            "--type",
            "deposit",
        ])
        .args(["--repeat", "2"])
        .env("TXHOOK_SIGNATURE_SCHEME", "standard-webhooks")
        .env("TXHOOK_SHARED_KEY", WHSEC)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("stored") && stdout.contains("duplicate"),
        "{stdout}"
    );
}

#[tokio::test]
async fn mock_provider_validates_subscriptions_as_documented() {
    let port = crate::common::process::free_port();
    let mut child = txhook()
        .args([
            "mock-provider",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--count",
            "1",
        ])
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/api/v1/transactions/subscribe");
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while client
        .get(format!("http://127.0.0.1:{port}/mock/deliveries"))
        .send()
        .await
        .is_err()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "mock provider did not start"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for (body, reason) in [
        ("not json", "not JSON"),
        (r#"{"sharedKey":"k"}"#, "callbackUrl is required"),
        (
            r#"{"callbackUrl":"not a url","sharedKey":"k"}"#,
            "callbackUrl must be",
        ),
        (
            r#"{"callbackUrl":"http://127.0.0.1:1/x"}"#,
            "sharedKey is required",
        ),
        (
            r#"{"callbackUrl":"http://127.0.0.1:1/x","sharedKey":"k","headerKey":"X-A"}"#,
            "go together",
        ),
    ] {
        let r = client.post(&url).body(body).send().await.unwrap();
        assert_eq!(r.status(), 400, "{body}");
        let answer: Value = r.json().await.unwrap();
        assert!(
            answer["message"].as_str().unwrap().contains(reason),
            "{body}: {answer}"
        );
    }
    let r = client
        .post(&url)
        .json(&json!({"callbackUrl": "http://127.0.0.1:1/webhooks/transactions", "sharedKey": "k"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let report = json_of(client.get(format!("http://127.0.0.1:{port}/mock/deliveries"))).await;
    assert_eq!(report["subscribers"], 1);
    assert_eq!(report["subscribeRequests"], 6);
    child.kill().await.unwrap();
}
