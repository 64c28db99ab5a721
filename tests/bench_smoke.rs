//! `txhook bench` end to end at a tiny scale: the real server on a fresh database, the bench
//! against it, and the bench's own check through the read API. Correctness only: no timing
//! is asserted (the figures come from `scripts/bench.sh`).
//!
//! Needs DATABASE_URL (scripts/test.sh provides it). `TEST_LOG=1` shows the server's logs.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::process::{Proc, free_port, logs};
use serde_json::Value;
use tokio::time::Instant;

const SHARED_KEY: &str = "bench-smoke-key-41d7";
const ADMIN_TOKEN: &str = "bench-smoke-token-9e02";

/// `txhook <args>`, signing with the test's key.
fn txhook(args: &[&str]) -> Command {
    let mut cmd = common::process::txhook(args);
    cmd.env("RUST_LOG", "warn")
        .env("TXHOOK_SHARED_KEY", SHARED_KEY);
    cmd
}

async fn start_server(db: &str, port: u16, mode: &str) -> Proc {
    let child = txhook(&["serve"])
        .env("DATABASE_URL", db)
        .env("TXHOOK_LISTEN", format!("127.0.0.1:{port}"))
        .env("TXHOOK_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("TXHOOK_WRITE_MODE", mode)
        .stdout(Stdio::null())
        .stderr(logs())
        .spawn()
        .expect("start txhook serve");
    let server = Proc(child);
    let ready = format!("http://127.0.0.1:{port}/readyz");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !reqwest::get(&ready)
        .await
        .is_ok_and(|r| r.status() == reqwest::StatusCode::OK)
    {
        assert!(Instant::now() < deadline, "server not ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server
}

/// Runs `txhook bench --json` against the server on `port`; (exit success, report, stderr).
async fn bench(port: u16, extra: &[&str]) -> (bool, Value, String) {
    let url = format!("http://127.0.0.1:{port}/webhooks/transactions");
    let mut args = vec![
        "bench",
        "--url",
        &url,
        "--json",
        "--duration",
        "1s",
        "--warmup",
        "200ms",
    ];
    args.extend_from_slice(extra);
    let out = txhook(&args)
        .env("TXHOOK_ADMIN_TOKEN", ADMIN_TOKEN)
        .output()
        .expect("run txhook bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (
        out.status.success(),
        report,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn bench_acks_are_all_found_in_the_event_log_in_both_write_modes() {
    for mode in ["batched", "single"] {
        // Arrange
        let db = common::fresh_database().await;
        let port = free_port();
        let _server = start_server(&db, port, mode).await;

        // Act
        let (ok, report, stderr) = bench(
            port,
            &[
                "--concurrency",
                "4",
                "--corpus",
                "2000",
                "--duplicates",
                "0.2",
            ],
        )
        .await;

        // Assert
        assert!(ok, "{mode}: bench failed: {report}");
        let check = &report["check"];
        assert!(check["acked"].as_u64().unwrap() > 0, "{mode}: {report}");
        assert_eq!(check["missing"], 0, "{mode}: {report}");
        assert_eq!(check["mismatched"], 0, "{mode}: {report}");
        assert!(report["counts"]["stored"].as_u64().unwrap() > 0, "{report}");
        assert_eq!(report["errors"], 0, "{mode}: {report}");
        assert!(report["latency_ms"]["max"].as_f64().unwrap() > 0.0);
        // scripts/bench.sh times the projection's catch-up from this line.
        let ended = stderr
            .lines()
            .find_map(|l| l.strip_prefix("bench: load ended at "))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|t| t.parse::<f64>().ok());
        assert!(ended.is_some_and(|t| t > 1.0e9), "{mode}: {stderr}");
    }
}

#[tokio::test]
async fn bench_without_a_token_refuses_before_sending() {
    let out = txhook(&["bench", "--url", "http://127.0.0.1:9/webhooks/transactions"])
        .output()
        .expect("run txhook bench");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("TXHOOK_ADMIN_TOKEN"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
