//! `txhook listen` as a developer runs it: the built binary follows a real server's event
//! stream and forwards each event to a real HTTP consumer.
//!
//! Needs `DATABASE_URL` (an administrative PostgreSQL URL), like the other server tests:
//! `scripts/test.sh --test listen`.

mod common;
#[path = "api/helpers.rs"]
mod helpers;

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout};

use common::process::{free_addr, txhook};
use helpers::{ADMIN_TOKEN, TestApp, logged, new_id};

#[tokio::test]
async fn listen_forwards_each_event_in_order_and_prints_a_line_per_event() {
    let app = TestApp::spawn().await;
    let consumer = Consumer::spawn().await;
    let mut listen = Listen::forwarding(&app.url(""), &consumer.url(), &[]);

    let payment = new_id();
    let deposit = new_id();
    let mut sequences = vec![
        logged(&app, &tx_body(&payment, "PAYMENT", "PENDING")).await,
        logged(&app, &tx_body(&deposit, "DEPOSIT", "SUCCESS")).await,
        logged(&app, &tx_body(&payment, "PAYMENT", "SUCCESS")).await,
    ];
    // No id: stored, and quarantined.
    sequences.push(logged(&app, r#"{"status":{"state":"PENDING"}}"#).await);

    let forwarded = consumer.received_at_least(4).await;
    let order = sequences_of(&forwarded);
    assert_eq!(order, sequences);
    // Each forwarded body is the event's item as the read API has it.
    let r = app.get_admin("/api/v1/events?after=0").await;
    assert_eq!(r.status(), 200);
    let page: Value = r.json().await.unwrap();
    assert_eq!(forwarded, page["items"].as_array().unwrap().as_slice());

    let lines = listen.stdout_lines_at_least(8).await;
    assert_eq!(lines.len(), 8, "{lines:#?}");
    let endings = [
        format!(" callback PAYMENT PENDING {payment}"),
        format!(" callback DEPOSIT SUCCESS {deposit}"),
        format!(" callback PAYMENT SUCCESS {payment}"),
        " callback (quarantined)".to_owned(),
    ];
    for ((pair, sequence), ending) in lines.chunks(2).zip(&sequences).zip(&endings) {
        assert!(pair[0].starts_with(&format!("#{sequence} ")), "{lines:#?}");
        assert!(pair[0].ends_with(ending), "{lines:#?}");
        assert_eq!(pair[1], "  -> 200", "{lines:#?}");
    }
    let out = listen.stop().await;
    assert!(!out.contains(ADMIN_TOKEN), "the token was printed:\n{out}");
}

#[tokio::test]
async fn listen_reconnects_when_the_stream_drops_and_resumes_after_the_last_event() {
    let app = TestApp::spawn().await;
    let proxy = Proxy::spawn(app.addr).await;
    let consumer = Consumer::spawn().await;
    let listen = Listen::forwarding(&format!("http://{}", proxy.addr), &consumer.url(), &[]);
    let mut sequences = Vec::new();
    for state in ["PENDING", "PROCESSING"] {
        sequences.push(logged(&app, &tx_body(&new_id(), "PAYMENT", state)).await);
    }
    consumer.received_at_least(2).await;

    proxy.cut();
    for state in ["SUCCESS", "FAILED"] {
        sequences.push(logged(&app, &tx_body(&new_id(), "PAYMENT", state)).await);
    }
    let forwarded = consumer.received_at_least(4).await;
    let order = sequences_of(&forwarded);
    assert_eq!(order, sequences, "each event once, in order");
    assert!(proxy.connections() >= 2, "no reconnection was made");
    let out = listen.stop().await;
    assert!(
        out.contains(&format!("resuming after #{}", sequences[1])),
        "{out}"
    );
}

#[tokio::test]
async fn listen_without_after_cut_off_before_its_first_event_misses_nothing() {
    let app = TestApp::spawn().await;
    let before = logged(&app, &tx_body(&new_id(), "PAYMENT", "PENDING")).await;
    let proxy = Proxy::spawn(app.addr).await;
    let consumer = Consumer::spawn().await;
    // From now: no --after.
    let url = format!("http://{}", proxy.addr);
    let listen = Listen::start(
        &["--url", &url, "--forward-to", &consumer.url()],
        ADMIN_TOKEN,
    );
    // The stream said where it starts; then the connection is lost before any event.
    let started = format!("listening after #{before}");
    eventually(&started, || {
        let err = listen.stderr.lock().unwrap();
        err.iter().any(|l| l.contains(&started)).then_some(())
    })
    .await;
    proxy.cut();
    // Logged while it is cut off: delivered after the reconnection, from where it started.
    let mut sequences = Vec::new();
    for state in ["SUCCESS", "FAILED"] {
        sequences.push(logged(&app, &tx_body(&new_id(), "PAYMENT", state)).await);
    }
    let forwarded = consumer.received_at_least(2).await;
    assert_eq!(sequences_of(&forwarded), sequences);
    let out = listen.stop().await;
    assert!(out.contains(&format!("resuming after #{before}")), "{out}");
}

#[tokio::test]
async fn listen_passes_the_filters_through() {
    let app = TestApp::spawn().await;
    let consumer = Consumer::spawn().await;
    let mut listen = Listen::forwarding(&app.url(""), &consumer.url(), &["--type", "DEPOSIT"]);
    let mut deposits = Vec::new();
    for kind in ["PAYMENT", "DEPOSIT", "PAYMENT", "DEPOSIT"] {
        let sequence = logged(&app, &tx_body(&new_id(), kind, "SUCCESS")).await;
        if kind == "DEPOSIT" {
            deposits.push(sequence);
        }
    }
    // The stream is in log order: a payment let through would come before the last deposit.
    let forwarded = consumer.received_at_least(2).await;
    let order = sequences_of(&forwarded);
    assert_eq!(order, deposits);
    assert!(forwarded.iter().all(|i| i["type"] == "DEPOSIT"));
    let lines = listen.stdout_lines_at_least(4).await;
    assert_eq!(lines.len(), 4, "{lines:#?}");
    listen.stop().await;
}

#[tokio::test]
async fn a_forward_that_fails_is_printed_and_listening_goes_on() {
    let app = TestApp::spawn().await;
    let nobody = format!("http://{}/hook", free_addr());
    let mut listen = Listen::forwarding(&app.url(""), &nobody, &[]);
    logged(&app, &tx_body(&new_id(), "PAYMENT", "PENDING")).await;
    logged(&app, &tx_body(&new_id(), "CHARGE", "PENDING")).await;
    let lines = listen.stdout_lines_at_least(4).await;
    assert!(
        lines[0].contains(" callback PAYMENT PENDING "),
        "{lines:#?}"
    );
    assert!(lines[1].starts_with("  -> failed: "), "{lines:#?}");
    assert!(lines[2].contains(" callback CHARGE PENDING "), "{lines:#?}");
    assert!(lines[3].starts_with("  -> failed: "), "{lines:#?}");
    listen.stop().await;
}

#[tokio::test]
async fn a_wrong_token_exits_nonzero_saying_which_variable_to_set() {
    let app = TestApp::spawn().await;
    let wrong = "wt-SECRET-wrong-token-5a6b";
    let out = Listen::start(&["--url", &app.url("")], wrong)
        .finish()
        .await;
    assert!(!out.status.success(), "{out:?}");
    assert!(
        out.stderr
            .contains("txhook answered 401: set TXHOOK_ADMIN_TOKEN to the server's admin token"),
        "{out:?}"
    );
    assert!(!out.stderr.contains(wrong) && !out.stdout.contains(wrong));
}

#[tokio::test]
async fn an_unreachable_server_exits_nonzero_naming_it() {
    let url = format!("http://{}", free_addr());
    let out = Listen::start(&["--url", &url], ADMIN_TOKEN).finish().await;
    assert!(!out.status.success(), "{out:?}");
    assert!(
        out.stderr
            .contains(&format!("cannot reach {url}/api/v1/events/stream: ")),
        "{out:?}"
    );
    assert!(!out.stderr.contains(ADMIN_TOKEN));
}

#[tokio::test]
async fn help_names_the_options_and_the_token_variable() {
    let out = txhook(&["listen", "--help"]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let help = String::from_utf8_lossy(&out.stdout);
    for word in [
        "--url",
        "--forward-to",
        "--after",
        "--source",
        "--type",
        "--state",
        "--event",
        "TXHOOK_ADMIN_TOKEN",
    ] {
        assert!(help.contains(word), "{word} missing from:\n{help}");
    }
}

// ---------------------------------------------------------------------------------------------

/// How long anything the tests wait for may take.
const DEADLINE: Duration = Duration::from_secs(20);

fn tx_body(id: &str, kind: &str, state: &str) -> String {
    format!(
        r#"{{"id":"{id}","type":"{kind}","status":{{"state":"{state}"}},"amount":{{"amount":10.00,"currency":"EUR"}}}}"#
    )
}

/// The sequence of each forwarded item, in the order they came.
fn sequences_of(forwarded: &[Value]) -> Vec<i64> {
    forwarded
        .iter()
        .map(|i| i["sequence"].as_i64().unwrap())
        .collect()
}

/// Polls `probe` until it returns something, failing after [`DEADLINE`].
async fn eventually<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An HTTP consumer that keeps every JSON body POSTed to it and answers 200.
struct Consumer {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Value>>>,
}

impl Consumer {
    async fn spawn() -> Self {
        async fn keep(State(kept): State<Arc<Mutex<Vec<Value>>>>, Json(item): Json<Value>) {
            kept.lock().unwrap().push(item);
        }
        let received = Arc::new(Mutex::new(Vec::new()));
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(keep))
            .with_state(received.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, received }
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// What it has received, once that is at least `n` bodies.
    async fn received_at_least(&self, n: usize) -> Vec<Value> {
        eventually(&format!("{n} forwarded events"), || {
            let got = self.received.lock().unwrap();
            (got.len() >= n).then(|| got.clone())
        })
        .await
    }
}

/// A TCP proxy whose open connections the test can cut (the stream drops; new connections
/// are still let through).
struct Proxy {
    addr: SocketAddr,
    open: Arc<Mutex<JoinSet<()>>>,
    accepted: Arc<Mutex<usize>>,
}

impl Proxy {
    async fn spawn(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let open = Arc::new(Mutex::new(JoinSet::new()));
        let accepted = Arc::new(Mutex::new(0));
        let (open2, accepted2) = (open.clone(), accepted.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                *accepted2.lock().unwrap() += 1;
                open2.lock().unwrap().spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Self {
            addr,
            open,
            accepted,
        }
    }

    /// Closes every open connection.
    fn cut(&self) {
        self.open.lock().unwrap().abort_all();
    }

    fn connections(&self) -> usize {
        *self.accepted.lock().unwrap()
    }
}

/// `txhook listen` running with a cleared environment and `TXHOOK_ADMIN_TOKEN`.
struct Listen {
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
    readers: JoinSet<()>,
}

/// What a finished `txhook listen` wrote.
#[derive(Debug)]
struct Finished {
    status: std::process::ExitStatus,
    stdout: String,
    stderr: String,
}

impl Listen {
    /// `txhook listen --url <url> --forward-to <to> --after 0 <more>`, with the admin token.
    fn forwarding(url: &str, to: &str, more: &[&str]) -> Self {
        let mut args = vec!["--url", url, "--forward-to", to, "--after", "0"];
        args.extend_from_slice(more);
        Self::start(&args, ADMIN_TOKEN)
    }

    fn start(args: &[&str], token: &str) -> Self {
        let mut child = Command::from(txhook(&["listen"]))
            .args(args)
            .env("TXHOOK_ADMIN_TOKEN", token)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start txhook listen");
        let mut readers = JoinSet::new();
        let stdout = lines_of(child.stdout.take().unwrap(), &mut readers);
        let stderr = lines_of(child.stderr.take().unwrap(), &mut readers);
        Self {
            child,
            stdout,
            stderr,
            readers,
        }
    }

    /// Its stdout so far, once that has at least `n` lines.
    async fn stdout_lines_at_least(&mut self, n: usize) -> Vec<String> {
        eventually(&format!("{n} lines of output"), || {
            let got = self.stdout.lock().unwrap();
            (got.len() >= n).then(|| got.clone())
        })
        .await
    }

    /// Kills it (it listens until stopped); returns everything it wrote.
    async fn stop(mut self) -> String {
        self.child.kill().await.unwrap();
        let out = self.finish().await;
        format!("{}\n{}", out.stdout, out.stderr)
    }

    /// Waits for it to exit by itself.
    async fn finish(mut self) -> Finished {
        let status = timeout(DEADLINE, self.child.wait())
            .await
            .expect("txhook listen exits")
            .unwrap();
        while self.readers.join_next().await.is_some() {}
        let join = |lines: &Arc<Mutex<Vec<String>>>| lines.lock().unwrap().join("\n");
        Finished {
            status,
            stdout: join(&self.stdout),
            stderr: join(&self.stderr),
        }
    }
}

/// The lines of `pipe`, collected in the background as they come.
fn lines_of(
    pipe: impl tokio::io::AsyncRead + Unpin + Send + 'static,
    readers: &mut JoinSet<()>,
) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let kept = lines.clone();
    readers.spawn(async move {
        let mut pipe = BufReader::new(pipe).lines();
        while let Ok(Some(line)) = pipe.next_line().await {
            kept.lock().unwrap().push(line);
        }
    });
    lines
}
