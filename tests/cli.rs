//! The `txhook` binary as an operator runs it: configuration errors that name the setting,
//! `--help`, logs that never carry a secret, and a clean exit on SIGTERM.
//!
//! The serving tests need `DATABASE_URL` (an administrative PostgreSQL URL): run them with
//! `scripts/test.sh`. Each process gets an empty `--config` file and a cleared environment, so
//! that neither the repository's `config.toml` nor the developer's variables leak in.

mod common;

use std::net::SocketAddr;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout};
use txhook_devtools::fake_stream::{Options, serve_stream};

use common::process::{BIN, free_addr, txhook};
use txhook::verify::sign_hmac_hex;

// Distinctive secret values: any of them in the output is a leak.
const SHARED_KEY: &str = "sk-SECRET-shared-91c2e7d4";
const PREVIOUS_KEY_1: &str = "sk-SECRET-previous-a17f03";
const PREVIOUS_KEY_2: &str = "sk-SECRET-previous-b28e14";
const HEADER_VALUE: &str = "hv-SECRET-static-4d5e66";
const ADMIN_TOKEN: &str = "at-SECRET-admin-6f7081";
const PROVIDER_API_KEY: &str = "pk-SECRET-provider-8a9b22";
const DB_PASSWORD: &str = "pw-SECRET-database-c3d455";
const REALM_KEY: &str = "rk-SECRET-realm-d5e677";
const SECRETS: [&str; 8] = [
    SHARED_KEY,
    PREVIOUS_KEY_1,
    PREVIOUS_KEY_2,
    HEADER_VALUE,
    ADMIN_TOKEN,
    PROVIDER_API_KEY,
    DB_PASSWORD,
    REALM_KEY,
];

#[tokio::test]
async fn serve_without_shared_key_exits_nonzero_naming_it() {
    let out = run_to_end(&[("DATABASE_URL", "postgres://txhook@127.0.0.1:1/txhook")]).await;
    assert!(!out.status.success());
    assert!(out.text().contains("TXHOOK_SHARED_KEY"), "{}", out.text());
}

#[tokio::test]
async fn serve_with_non_postgres_database_url_exits_nonzero_naming_it() {
    let out = run_to_end(&[
        ("DATABASE_URL", "mysql://x"),
        ("TXHOOK_SHARED_KEY", SHARED_KEY),
    ])
    .await;
    assert!(!out.status.success());
    assert!(out.text().contains("DATABASE_URL"), "{}", out.text());
}

#[tokio::test]
async fn serve_refuses_the_shipped_placeholder_secrets_saying_how_to_make_one() {
    // The values of .env.example and deploy/k8s/secret.yaml, and a key too short.
    let cases = [
        ("TXHOOK_SHARED_KEY", "dev-shared-key-change-me"),
        ("TXHOOK_SHARED_KEY", "CHANGE-ME"),
        ("TXHOOK_SHARED_KEY", "sk-SECRET-short"),
        ("TXHOOK_ADMIN_TOKEN", "dev-admin-token-change-me"),
    ];
    for (var, value) in cases {
        let mut env = vec![
            ("DATABASE_URL", "postgres://txhook@127.0.0.1:1/txhook"),
            ("TXHOOK_SHARED_KEY", SHARED_KEY),
        ];
        env.push((var, value));
        let out = run_to_end(&env).await;
        assert!(!out.status.success(), "{value}: {}", out.text());
        assert!(out.text().contains(var), "{}", out.text());
        assert!(out.text().contains("openssl rand"), "{}", out.text());
        assert!(
            !out.text().contains(value),
            "{value} printed: {}",
            out.text()
        );
    }
}

#[tokio::test]
async fn serve_refuses_cleartext_upstreams_naming_the_variable_without_credentials() {
    let cases = [
        (
            "TXHOOK_PROVIDER_URL",
            format!("http://txhook:{PROVIDER_API_KEY}@provider.example"),
        ),
        (
            "TXHOOK_STREAM_URL",
            format!("ws://realm:{REALM_KEY}@stream.example/ws"),
        ),
    ];
    for (var, url) in cases {
        let env = [
            ("DATABASE_URL", "postgres://txhook@127.0.0.1:1/txhook"),
            ("TXHOOK_SHARED_KEY", SHARED_KEY),
            ("TXHOOK_PUBLIC_URL", "https://txhook.example"),
            (var, &url),
        ];
        let out = run_to_end(&env).await;
        assert!(!out.status.success(), "{var}: {}", out.text());
        assert!(out.text().contains(var), "{}", out.text());
        assert!(out.text().contains("TXHOOK_ALLOW_INSECURE_UPSTREAM"));
        for secret in SECRETS {
            assert!(
                !out.text().contains(secret),
                "{secret} leaked: {}",
                out.text()
            );
        }
    }
}

#[tokio::test]
async fn serve_with_unknown_signature_scheme_exits_nonzero_naming_it() {
    let out = run_to_end(&[
        ("DATABASE_URL", "postgres://txhook@127.0.0.1:1/txhook"),
        ("TXHOOK_SHARED_KEY", SHARED_KEY),
        ("TXHOOK_SIGNATURE_SCHEME", "bogus"),
    ])
    .await;
    assert!(!out.status.success());
    assert!(
        out.text().contains("TXHOOK_SIGNATURE_SCHEME"),
        "{}",
        out.text()
    );
}

#[tokio::test]
async fn help_exits_0_for_the_binary_and_serve() {
    let top = help(&["--help"]).await;
    assert!(top.status.success(), "{}", top.text());
    assert!(top.stdout.contains("serve"), "{}", top.stdout);
    let serve = help(&["serve", "--help"]).await;
    assert!(serve.status.success(), "{}", serve.text());
    assert!(serve.stdout.contains("--config"), "{}", serve.stdout);
    // It points to the full list of settings and to the check.
    assert!(
        serve.stdout.contains("config.toml lists every setting")
            && serve.stdout.contains("txhook config check"),
        "{}",
        serve.stdout
    );
}

#[tokio::test]
async fn text_logs_never_contain_secrets() {
    for out in &runs_logging("text").await {
        assert!(!out.stderr.trim().is_empty(), "no logs were captured");
        assert_no_secret(out);
    }
}

#[tokio::test]
async fn json_logs_are_one_object_per_line_and_never_contain_secrets() {
    for out in &runs_logging("json").await {
        assert!(!out.stderr.trim().is_empty(), "no logs were captured");
        assert_no_secret(out);
        for line in out.stderr.lines().filter(|l| !l.trim().is_empty()) {
            let parsed: Result<Value, _> = serde_json::from_str(line);
            assert!(
                parsed.as_ref().is_ok_and(Value::is_object),
                "not a JSON object: {line}"
            );
        }
    }
}

#[tokio::test]
async fn sigterm_drains_in_flight_request_then_exits_0_within_30_seconds() {
    let server = Server::start(&[]).await;
    let body = r#"{"id":"cli-drain-1","status":{"state":"PENDING"}}"#;
    let mut post = RawPost::start(server.addr, body).await;
    // `100 Continue` comes when the handler first reads the body: the request is in flight.
    assert_eq!(post.response().await.0, 100);

    server.terminate();
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(server.addr).await.is_ok() {
        assert!(Instant::now() < deadline, "still accepting after SIGTERM");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    post.wr.write_all(body.as_bytes()).await.unwrap();
    let (status, answer) = post.response().await;
    assert_eq!(status, 200, "{answer}");
    let committed: Value = serde_json::from_str(&answer).unwrap();
    assert!(
        matches!(committed["status"].as_str(), Some("stored" | "quarantined")),
        "{answer}"
    );

    let out = server.wait(Duration::from_secs(30)).await;
    assert!(out.status.success(), "{:?}\n{}", out.status, out.text());
}

#[tokio::test]
async fn healthcheck_exits_0_when_ready_and_1_when_not() {
    let server = Server::start(&[]).await;
    let ready = std::process::Command::new(BIN)
        .env_clear()
        .args(["healthcheck", "--url", &server.url("/readyz")])
        .output()
        .unwrap();
    assert!(ready.status.success(), "{ready:?}");
    server.terminate();
    let _ = server.wait(Duration::from_secs(30)).await;

    // Nothing listens there any more; and no configuration is needed either way.
    let down = std::process::Command::new(BIN)
        .env_clear()
        .args([
            "healthcheck",
            "--timeout",
            "2",
            "--url",
            &format!("http://{}/readyz", free_addr()),
        ])
        .output()
        .unwrap();
    assert_eq!(down.status.code(), Some(1), "{down:?}");
    assert!(String::from_utf8_lossy(&down.stderr).contains("unhealthy"));
}

#[tokio::test]
async fn reprocess_prints_how_many_were_fixed() {
    let database_url = fresh_database_with_password().await;
    let run = |args: &[&str]| {
        txhook(args)
            .env("DATABASE_URL", &database_url)
            .env("TXHOOK_SHARED_KEY", SHARED_KEY)
            .output()
            .unwrap()
    };
    let out = run(&["reprocess", "--since", "2026-01-01T00:00:00Z"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "reprocessed 0 quarantined callbacks: 0 fixed, 0 still unreadable"
    );
    let bad = run(&["reprocess", "--since", "yesterday"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("RFC 3339"));
}

// ---------------------------------------------------------------------------------------------

/// What a finished process wrote.
struct Output {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Output {
    fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

fn assert_no_secret(out: &Output) {
    let text = out.text();
    for secret in SECRETS {
        assert!(!text.contains(secret), "{secret} leaked into:\n{text}");
    }
}

/// `txhook --config <empty file> serve` with only `PATH` and `env` in its environment.
fn serve_command(env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::from(txhook(&["serve"]));
    cmd.envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// Runs `txhook serve` expecting it to end by itself, quickly.
async fn run_to_end(env: &[(&str, &str)]) -> Output {
    finished(serve_command(env).output()).await
}

async fn help(args: &[&str]) -> Output {
    finished(Command::from(txhook(args)).kill_on_drop(true).output()).await
}

async fn finished(
    output: impl std::future::Future<Output = std::io::Result<std::process::Output>>,
) -> Output {
    let out = timeout(Duration::from_secs(10), output)
        .await
        .expect("the process ends within 10 seconds")
        .expect("the binary runs");
    Output {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Every secret setting, with a distinctive value.
fn secret_env() -> Vec<(&'static str, String)> {
    vec![
        ("TXHOOK_SHARED_KEY", SHARED_KEY.into()),
        (
            "TXHOOK_PREVIOUS_SHARED_KEYS",
            format!("{PREVIOUS_KEY_1},{PREVIOUS_KEY_2}"),
        ),
        ("TXHOOK_HEADER_KEY", "X-Static".into()),
        ("TXHOOK_HEADER_VALUE", HEADER_VALUE.into()),
        ("TXHOOK_ADMIN_TOKEN", ADMIN_TOKEN.into()),
        ("TXHOOK_PROVIDER_API_KEY", PROVIDER_API_KEY.into()),
        ("TXHOOK_REALM_KEY", REALM_KEY.into()),
    ]
}

/// Every run the log tests read, logging in `format`: a serve session, which must exit 0 on
/// SIGTERM, then the starts that fail on configuration.
async fn runs_logging(format: &str) -> Vec<Output> {
    let session = serve_session(format).await;
    assert!(
        session.status.success(),
        "exit after SIGTERM: {:?}",
        session.status
    );
    let mut runs = vec![session];
    runs.extend(config_error_runs(format).await);
    runs
}

/// Starts that fail on configuration while every secret is set.
async fn config_error_runs(format: &str) -> Vec<Output> {
    let mut base = secret_env();
    base.push(("RUST_LOG", "debug".into()));
    base.push(("TXHOOK_LOG_FORMAT", format.into()));
    let bad_url = format!("mysql://txhook:{DB_PASSWORD}@127.0.0.1:1/txhook");
    let mut runs = Vec::new();
    for extra in [vec![], vec![("DATABASE_URL", bad_url)]] {
        let env: Vec<(&str, String)> = base.iter().cloned().chain(extra).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let out = run_to_end(&env).await;
        assert!(!out.status.success(), "{}", out.text());
        assert!(out.text().contains("DATABASE_URL"), "{}", out.text());
        runs.push(out);
    }
    runs
}

/// Runs the real server with every secret set and debug logs, exercises every path that
/// handles a secret, then stops it with SIGTERM.
async fn serve_session(format: &str) -> Output {
    // The stream is subscribed, carries an event and is unsubscribed on SIGTERM: every
    // path that sends the realm key.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let fake = serve_stream(
        listener,
        Options {
            realm_key: REALM_KEY.into(),
            ..Options::default()
        },
    )
    .await;
    let mut env = secret_env();
    env.push(("RUST_LOG", "debug".into()));
    env.push(("TXHOOK_LOG_FORMAT", format.into()));
    env.push(("TXHOOK_STREAM_URL", fake.url()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::start(&env).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while fake.stream.subscribed_now() == 0 {
        assert!(Instant::now() < deadline, "the stream was never subscribed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    fake.stream.send_event(
        "transaction.done",
        "63967141191e9023f356df9f",
        Value::from(1671547687),
    );
    let client = reqwest::Client::new();
    let callback = server.url("/webhooks/transactions");
    let post = |body: String, key: &str, static_value: &str| {
        client
            .post(&callback)
            .header("content-type", "application/json")
            .header(
                "x-hubpay-hmac",
                sign_hmac_hex(key.as_bytes(), body.as_bytes()),
            )
            .header("x-static", static_value)
            .body(body)
            .send()
    };
    let id = uuid::Uuid::new_v4().to_string();
    let body = format!(r#"{{"id":"{id}","type":"PAYMENT","status":{{"state":"PENDING"}}}}"#);

    let r = post(body.clone(), SHARED_KEY, HEADER_VALUE).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "stored");
    let rotated = body.replace("PENDING", "SUCCESS");
    let r = post(rotated, PREVIOUS_KEY_2, HEADER_VALUE).await.unwrap();
    assert_eq!(r.status(), 200);
    let r = post(body.clone(), "not-the-key", HEADER_VALUE)
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = post(body.clone(), SHARED_KEY, "not-the-value")
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let read = server.url(&format!("/api/v1/transactions/{id}"));
    let r = client
        .get(&read)
        .bearer_auth("not-the-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = client
        .get(&read)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let quarantined = r#"{"status":{"state":"PENDING"}}"#.to_owned();
    let r = post(quarantined, SHARED_KEY, HEADER_VALUE).await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "quarantined");

    server.terminate();
    let out = server.wait(Duration::from_secs(30)).await;
    let unsubscribe = format!(r#"{{"type":"unsubscribe","realm":"{REALM_KEY}"}}"#);
    assert!(
        fake.stream.received().contains(&unsubscribe),
        "no unsubscribe on SIGTERM"
    );
    out
}

/// A running `txhook serve` on its own fresh database, its output being collected.
struct Server {
    child: Child,
    addr: SocketAddr,
    stdout: JoinHandle<String>,
    stderr: JoinHandle<String>,
}

impl Server {
    /// Starts the server with `env` (plus `DATABASE_URL`, with a password, and `TXHOOK_LISTEN`
    /// unless given) and waits until `/healthz` answers.
    async fn start(env: &[(&str, &str)]) -> Self {
        let database_url = fresh_database_with_password().await;
        let addr = free_addr();
        let listen = addr.to_string();
        let mut cmd = serve_command(&[
            ("DATABASE_URL", database_url.as_str()),
            ("TXHOOK_LISTEN", listen.as_str()),
            ("TXHOOK_SHARED_KEY", SHARED_KEY),
        ]);
        cmd.envs(env.iter().copied());
        let mut child = cmd.spawn().expect("start txhook serve");
        let stdout = collect(child.stdout.take().unwrap());
        let stderr = collect(child.stderr.take().unwrap());
        let mut server = Self {
            child,
            addr,
            stdout,
            stderr,
        };
        server.wait_healthy().await;
        server
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    async fn wait_healthy(&mut self) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = client.get(self.url("/healthz")).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                let out = self.output(status).await;
                panic!("txhook serve exited early ({status:?}):\n{}", out.text());
            }
            assert!(Instant::now() < deadline, "txhook serve did not come up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends SIGTERM.
    fn terminate(&self) {
        let pid = self.child.id().expect("the server is running");
        let sent = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM {pid} failed");
    }

    /// Waits for the process to exit within `limit`, then returns everything it wrote.
    async fn wait(mut self, limit: Duration) -> Output {
        let status = timeout(limit, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("txhook serve did not exit within {limit:?}"))
            .expect("wait for txhook serve");
        self.output(status).await
    }

    async fn output(&mut self, status: ExitStatus) -> Output {
        Output {
            status,
            stdout: (&mut self.stdout).await.unwrap(),
            stderr: (&mut self.stderr).await.unwrap(),
        }
    }
}

/// Reads a pipe to its end in the background, so that the child never blocks on it.
fn collect(mut pipe: impl tokio::io::AsyncRead + Unpin + Send + 'static) -> JoinHandle<String> {
    tokio::spawn(async move {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes).await;
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Creates an empty database (dropped when the test ends) and returns its URL, with a password
/// added (PostgreSQL's trust authentication ignores it; the logs must not show it).
async fn fresh_database_with_password() -> String {
    let mut url = url::Url::parse(&common::fresh_database().await).expect("a URL");
    url.set_password(Some(DB_PASSWORD)).unwrap();
    url.to_string()
}

/// A POST whose head goes out at once with `Expect: 100-continue`; the body when the test says.
struct RawPost {
    rd: BufReader<tokio::net::tcp::OwnedReadHalf>,
    wr: tokio::net::tcp::OwnedWriteHalf,
}

impl RawPost {
    async fn start(addr: SocketAddr, body: &str) -> Self {
        let (rd, mut wr) = TcpStream::connect(addr)
            .await
            .expect("connect")
            .into_split();
        let signature = sign_hmac_hex(SHARED_KEY.as_bytes(), body.as_bytes());
        let head = format!(
            "POST /webhooks/transactions HTTP/1.1\r\nHost: {addr}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\
             X-Hubpay-Hmac: {signature}\r\nExpect: 100-continue\r\n\r\n",
            body.len()
        );
        wr.write_all(head.as_bytes()).await.expect("send head");
        Self {
            rd: BufReader::new(rd),
            wr,
        }
    }

    /// The next response's status and body (an interim `100` has none).
    async fn response(&mut self) -> (u16, String) {
        timeout(Duration::from_secs(10), async {
            let mut line = String::new();
            self.rd.read_line(&mut line).await.expect("status line");
            let status: u16 = line
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("not a status line: {line:?}"));
            let mut length = 0;
            loop {
                line.clear();
                self.rd.read_line(&mut line).await.expect("header");
                match line.trim_end().split_once(':') {
                    None => break,
                    Some((name, value)) if name.eq_ignore_ascii_case("content-length") => {
                        length = value.trim().parse().unwrap_or(0);
                    }
                    Some(_) => {}
                }
            }
            let length = if status == 100 { 0 } else { length };
            let mut body = vec![0; length];
            self.rd.read_exact(&mut body).await.expect("body");
            (status, String::from_utf8_lossy(&body).into_owned())
        })
        .await
        .expect("a response within 10 seconds")
    }
}
