//! Availability: a database outage answers 503 (never 200) and heals by itself, shutdown drains
//! in-flight callbacks, and a slow sender cannot hold a request open.
//!
//! The database's link is cut through a TCP proxy the test controls; slow requests are written
//! by hand over a raw TCP connection so that the test decides when each byte leaves.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout};

use crate::helpers::*;

/// The contract's bound on a 503 answer.
const ANSWER_BOUND: Duration = Duration::from_secs(10);

#[tokio::test]
async fn database_outage_answers_503_then_recovers_single_mode() {
    database_outage_answers_503_then_recovers("single").await;
}

#[tokio::test]
async fn database_outage_answers_503_then_recovers_batched_mode() {
    database_outage_answers_503_then_recovers("batched").await;
}

async fn database_outage_answers_503_then_recovers(write_mode: &str) {
    let (app, proxy, db) = spawn_behind_proxy(
        Settings::default()
            .set("TXHOOK_WRITE_MODE", write_mode)
            .set("TXHOOK_STORE_TIMEOUT_SECS", "2")
            .set("TXHOOK_DB_ACQUIRE_TIMEOUT_SECS", "1"),
    )
    .await;
    // A used pool: the outage has live connections to break.
    let (status, answer) = app
        .deliver(&tx_body(&new_id(), "PAYMENT", "PENDING", "1"))
        .await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("stored")));

    proxy.set(Link::Cut);
    let during: Vec<String> = (0..3).map(|_| new_id()).collect();
    let mut posts = JoinSet::new();
    for id in &during {
        let (client, url) = (app.client.clone(), app.url("/webhooks/transactions"));
        let body = tx_body(id, "PAYMENT", "SUCCESS", "2");
        posts.spawn(async move {
            let started = Instant::now();
            let r = signed_post(&client, url, body)
                .send()
                .await
                .expect("request sent");
            (started.elapsed(), r)
        });
    }
    while let Some(joined) = posts.join_next().await {
        let (elapsed, r) = joined.unwrap();
        assert_unavailable(r, elapsed).await;
    }
    let started = Instant::now();
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    assert!(started.elapsed() < ANSWER_BOUND);
    assert!(ready.headers().contains_key("retry-after"));
    assert_eq!(app.status("/healthz").await, 200);

    proxy.set(Link::Up);
    let after = new_id();
    deliver_until_stored(&app, &tx_body(&after, "PAYMENT", "SUCCESS", "3")).await;
    assert_eq!(events_for(&db, &after).await, 1);
    for id in &during {
        assert_eq!(events_for(&db, id).await, 0, "outage callback {id} stored");
    }
    // Readiness is checked at most once a second: it turns ready within a few.
    eventually("ready again", || async {
        app.status("/readyz").await == 200
    })
    .await;
}

/// A database that accepts bytes and never answers is the slow case: with the default
/// timeouts the answer must still be a 503 inside the contract's 10 seconds.
#[tokio::test]
async fn hanging_database_answers_503_within_10_seconds_with_default_timeouts() {
    let (app, proxy, db) = spawn_behind_proxy(Settings::default()).await;
    let (status, _) = app
        .deliver(&tx_body(&new_id(), "PAYMENT", "PENDING", "1"))
        .await;
    assert_eq!(status, 200);

    proxy.set(Link::Stalled);
    let during = new_id();
    let started = Instant::now();
    let r = app
        .post_signed(&tx_body(&during, "PAYMENT", "SUCCESS", "2"))
        .await;
    assert_unavailable(r, started.elapsed()).await;
    assert_eq!(app.status("/healthz").await, 200);

    proxy.set(Link::Up);
    let after = new_id();
    deliver_until_stored(&app, &tx_body(&after, "PAYMENT", "SUCCESS", "3")).await;
    assert_eq!(events_for(&db, &after).await, 1);
    assert_eq!(events_for(&db, &during).await, 0);
}

#[tokio::test]
async fn shutdown_lets_in_flight_callback_finish_and_refuses_new_connections() {
    let app = TestApp::spawn().await;
    let (addr, db) = (app.addr, app.db.clone());
    let id = new_id();
    let body = tx_body(&id, "PAYMENT", "SUCCESS", "5");
    let mut slow = RawPost::start(addr, &body, true).await;
    // hyper sends `100 Continue` when the handler first polls the body: the request is in
    // flight, past the accept loop.
    assert_eq!(slow.response().await.status, 100);
    slow.wr.write_all(&body.as_bytes()[..10]).await.unwrap();

    let stopping = tokio::spawn(app.stop());
    wait_until_refused(addr).await;
    assert!(
        !stopping.is_finished(),
        "the server ended with a request in flight"
    );

    slow.wr.write_all(&body.as_bytes()[10..]).await.unwrap();
    let res = slow.response().await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.json()["status"], "stored");
    timeout(Duration::from_secs(10), stopping)
        .await
        .expect("the server ends once the in-flight request is answered")
        .expect("server stopped cleanly");
    assert!(TcpStream::connect(addr).await.is_err());
    assert_eq!(events_for(&db, &id).await, 1);
}

#[tokio::test]
async fn body_slower_than_request_timeout_is_408_and_nothing_stored() {
    let app =
        TestApp::spawn_with(Settings::default().set("TXHOOK_REQUEST_TIMEOUT_SECS", "1")).await;
    let body = tx_body(&new_id(), "PAYMENT", "SUCCESS", "5");
    let RawPost { mut rd, mut wr } = RawPost::start(app.addr, &body, false).await;
    // Always making progress, never finishing in time: a per-read timeout would not fire.
    let bytes = body.clone().into_bytes();
    let trickle = tokio::spawn(async move {
        for b in bytes {
            if wr.write_all(&[b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    // The slow sender holds nothing else up.
    assert_eq!(app.status("/healthz").await, 200);

    let started = Instant::now();
    let res = read_response(&mut rd).await;
    trickle.abort();
    assert_eq!(res.status, 408, "{}", res.body);
    assert_eq!(res.json()["error"], "request_timeout");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(app.count("select count(*) from events").await, 0);
}

// ---------------------------------------------------------------------------------------------

async fn assert_unavailable(r: reqwest::Response, elapsed: Duration) {
    assert!(
        elapsed < ANSWER_BOUND,
        "answered after {elapsed:?}, over the contract's 10 s"
    );
    assert_eq!(r.status(), 503);
    assert!(
        r.headers().contains_key("retry-after"),
        "503 without Retry-After"
    );
    let err: Value = r.json().await.expect("a JSON error body");
    assert_eq!(err["error"], "unavailable");
    assert!(err["message"].is_string());
}

/// Delivers `body` until it is held (the pool heals on its own), answering 503 meanwhile.
async fn deliver_until_stored(app: &TestApp, body: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, answer) = app.deliver(body).await;
        if status == 200 {
            // `duplicate` only if an earlier 503 raced a commit: still held once.
            let s = answer["status"].as_str();
            assert!(matches!(s, Some("stored" | "duplicate")), "{answer}");
            return;
        }
        assert_eq!(status, 503, "{answer}");
        assert!(
            Instant::now() < deadline,
            "no callback stored after the database came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn events_for(db: &PgPool, transaction_id: &str) -> i64 {
    sqlx::query_scalar("select count(*) from events where transaction_id = $1")
        .bind(transaction_id)
        .fetch_one(db)
        .await
        .expect("count events")
}

/// Polls until a new connection to `addr` is refused.
async fn wait_until_refused(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(addr).await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "still accepting connections after shutdown"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The app on a fresh database reached through a [`DbProxy`]; also returns a direct pool
/// on that database for assertions.
async fn spawn_behind_proxy(settings: Settings) -> (TestApp, DbProxy, PgPool) {
    let direct = fresh_database().await;
    let mut url = url::Url::parse(&direct).unwrap();
    let host = url.host_str().expect("DATABASE_URL has a host").to_owned();
    let upstream = tokio::net::lookup_host((host.as_str(), url.port().unwrap_or(5432)))
        .await
        .expect("resolve the database host")
        .next()
        .expect("an address for the database host");
    let proxy = DbProxy::start(upstream).await;
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(proxy.addr.port())).unwrap();
    let app = TestApp::spawn_with(settings.set("DATABASE_URL", url.to_string())).await;
    let db = PgPoolOptions::new()
        .max_connections(2)
        .connect_lazy(&direct)
        .expect("direct pool");
    (app, proxy, db)
}

/// State of the proxied link to PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Up,
    /// Live connections are dropped; new ones are closed at once.
    Cut,
    /// Connections stay open and nothing passes: a hung database.
    Stalled,
}

/// A TCP proxy in front of PostgreSQL whose link the test switches.
struct DbProxy {
    addr: SocketAddr,
    link: watch::Sender<Link>,
    accept: tokio::task::JoinHandle<()>,
}

impl DbProxy {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (link, watcher) = watch::channel(Link::Up);
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(pipe(client, upstream, watcher.clone()));
            }
        });
        Self { addr, link, accept }
    }

    fn set(&self, link: Link) {
        self.link.send_replace(link);
    }
}

impl Drop for DbProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn pipe(mut client: TcpStream, upstream: SocketAddr, mut link: watch::Receiver<Link>) {
    let at_start = *link.borrow_and_update();
    match at_start {
        Link::Cut => return,
        Link::Stalled => {
            // Hold the connection silent until the link changes, then close it.
            let _ = link.changed().await;
            return;
        }
        Link::Up => {}
    }
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let changed_to = tokio::select! {
        // Checked first, so that no byte passes once the link is down.
        biased;
        l = link.wait_for(|l| *l != Link::Up) => l.ok().map(|l| *l),
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => None,
    };
    if changed_to == Some(Link::Stalled) {
        let _ = link.changed().await;
    }
    // Both ends drop here: the connection is broken for good.
}

/// A POST written by hand, so that the test decides when each byte of the body leaves.
struct RawPost {
    rd: BufReader<OwnedReadHalf>,
    wr: OwnedWriteHalf,
}

impl RawPost {
    /// Connects and sends the request head for a signed `body` (not the body itself).
    async fn start(addr: SocketAddr, body: &str, expect_continue: bool) -> Self {
        let stream = TcpStream::connect(addr).await.expect("connect");
        let (rd, mut wr) = stream.into_split();
        let signature = txhook::verify::sign_hmac_hex(SHARED_KEY.as_bytes(), body.as_bytes());
        let expect = if expect_continue {
            "Expect: 100-continue\r\n"
        } else {
            ""
        };
        let head = format!(
            "POST /webhooks/transactions HTTP/1.1\r\nHost: {addr}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\
             X-Hubpay-Hmac: {signature}\r\n{expect}\r\n",
            body.len()
        );
        wr.write_all(head.as_bytes()).await.expect("send head");
        Self {
            rd: BufReader::new(rd),
            wr,
        }
    }

    async fn response(&mut self) -> RawResponse {
        read_response(&mut self.rd).await
    }
}

struct RawResponse {
    status: u16,
    body: String,
}

impl RawResponse {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// Reads one response (an interim `100` included), giving up after 10 seconds.
async fn read_response(rd: &mut BufReader<OwnedReadHalf>) -> RawResponse {
    timeout(ANSWER_BOUND, async {
        let mut line = String::new();
        rd.read_line(&mut line).await.expect("read status line");
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP status line: {line:?}"));
        let mut length = None;
        loop {
            line.clear();
            rd.read_line(&mut line).await.expect("read header");
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse::<usize>().ok();
                }
            }
        }
        // An interim response has no body.
        let length = if status == 100 {
            0
        } else {
            length.unwrap_or(0)
        };
        let mut body = vec![0; length];
        rd.read_exact(&mut body).await.expect("read body");
        RawResponse {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    })
    .await
    .expect("a response within 10 seconds")
}
