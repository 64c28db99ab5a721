//! Connections: nothing a client opens and leaves idle holds the server, only HTTP/1.1 is
//! spoken, open connections are bounded, and shutdown does not wait for idle sockets.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

/// The HTTP/2 client connection preface followed by an empty SETTINGS frame.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

/// Reads until the server closes the connection (or `limit` passes); returns what arrived,
/// or `None` when the connection was still open at `limit`.
async fn read_until_closed(s: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    tokio::time::timeout(limit, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .ok()
    .map(|()| got)
}

/// A GET of `/healthz` on `s`, kept alive; true when the answer came back as a 200.
async fn healthz_on(s: &mut TcpStream) -> bool {
    if s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 1024];
    match tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await {
        Ok(Ok(n)) if n > 0 => buf[..n].starts_with(b"HTTP/1.1 200"),
        _ => false,
    }
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_within_the_head_timeout() {
    let app = TestApp::spawn().await;
    let started = Instant::now();
    let mut idle = TcpStream::connect(app.addr).await.unwrap();
    // Not a single byte: the head timeout (10 s) runs from the connection's start.
    let closed = read_until_closed(&mut idle, Duration::from_secs(15)).await;
    assert!(
        closed.is_some(),
        "a connection that sent nothing was still open after 15 s"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(9),
        "closed after {:?}, before the head timeout",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_http2_preface_is_not_served_as_http2() {
    let app = TestApp::spawn().await;
    let mut s = TcpStream::connect(app.addr).await.unwrap();
    s.write_all(H2_PREFACE).await.unwrap();
    let got = read_until_closed(&mut s, Duration::from_secs(5))
        .await
        .expect("the connection is closed at once");
    // An HTTP/2 server answers with its own SETTINGS frame (type 4 at byte 3); an HTTP/1.1
    // server answers an error status or nothing.
    assert!(
        got.is_empty() || got.starts_with(b"HTTP/1.1 "),
        "answered as HTTP/2: {:?}",
        &got[..got.len().min(32)]
    );
}

#[tokio::test]
async fn connections_beyond_the_limit_are_closed_at_accept_and_counted() {
    let app = TestApp::spawn_with(Settings::default().set("TXHOOK_MAX_CONNECTIONS", "3")).await;
    // Open connections (each proven open by an answer) until one is refused. The test
    // client may keep a pooled connection of its own, so the refusal comes after 2 or 3.
    let mut held = Vec::new();
    let refused = loop {
        let mut s = TcpStream::connect(app.addr).await.unwrap();
        if !healthz_on(&mut s).await {
            break s;
        }
        held.push(s);
        assert!(held.len() <= 3, "a fourth connection was served");
    };
    assert!(held.len() >= 2, "refused below the limit: {}", held.len());
    let mut refused = refused;
    assert!(
        read_until_closed(&mut refused, Duration::from_secs(5))
            .await
            .is_some_and(|got| got.is_empty()),
        "a refused connection got an answer or stayed open"
    );

    // Room comes back as soon as a connection closes.
    drop(held.pop());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut s = TcpStream::connect(app.addr).await.unwrap();
        if healthz_on(&mut s).await {
            held.push(s);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no room came back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(held);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let metrics = loop {
        if let Ok(r) = app.client.get(app.url("/metrics")).send().await {
            break r.text().await.unwrap();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "/metrics unreachable"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        metrics.contains("txhook_connections_refused_total"),
        "refusals are not counted"
    );
}

#[tokio::test]
async fn shutdown_does_not_wait_for_connections_with_nothing_in_flight() {
    // The drain bound is the default 25 s: waiting for idle sockets would take that long.
    let app = TestApp::spawn().await;
    let _silent = TcpStream::connect(app.addr).await.unwrap();
    let mut kept_alive = TcpStream::connect(app.addr).await.unwrap();
    assert!(healthz_on(&mut kept_alive).await);
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(5), app.stop())
        .await
        .expect("shutdown waited for idle connections");
    assert!(started.elapsed() < Duration::from_secs(5));
}
