//! Hostile and broken input: every answer is clear and specific, never a panic or a 5xx.

use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

/// Sends raw bytes on a fresh connection and reads the status line that comes back.
async fn raw_status(app: &TestApp, request: &[u8]) -> u16 {
    let mut s = TcpStream::connect(app.addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
        .await
        .expect("an answer in time")
        .unwrap();
    let head = String::from_utf8_lossy(&buf[..n]);
    head.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn declared_oversize_body_is_413_before_it_is_sent() {
    let app = TestApp::spawn().await;
    // A 100 MB body is announced but never sent: the answer comes from the header alone.
    let head = b"POST /webhooks/transactions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100000000\r\n\r\n{";
    let started = Instant::now();
    assert_eq!(raw_status(&app, head).await, 413);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(app.count("select count(*) from events").await, 0);
}

#[tokio::test]
async fn chunked_body_over_the_limit_is_413() {
    let app = TestApp::spawn_with(Settings::default().set("TXHOOK_MAX_BODY_BYTES", "4096")).await;
    let chunk = "a".repeat(3000);
    let mut req = b"POST /webhooks/transactions HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\nx-hubpay-hmac: 00\r\n\r\n".to_vec();
    for _ in 0..3 {
        req.extend(format!("{:x}\r\n{chunk}\r\n", chunk.len()).as_bytes());
    }
    req.extend(b"0\r\n\r\n");
    assert_eq!(raw_status(&app, &req).await, 413);
}

#[tokio::test]
async fn signed_bodies_of_every_wrong_shape_are_quarantined_not_errors() {
    let app = TestApp::spawn().await;
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let huge_amount =
        r#"{"id":"h1","status":{"state":"PENDING"},"amount":{"amount":1e999999,"currency":"EUR"}}"#;
    let cases: Vec<(String, &str)> = vec![
        (deep, "body is not JSON"),
        ("[1,2,3]".into(), "body is not a JSON object"),
        (r#""a string""#.into(), "body is not a JSON object"),
        ("null".into(), "body is not a JSON object"),
        ("42".into(), "body is not a JSON object"),
        (huge_amount.into(), "unreadable transaction"),
        (
            r#"{"id":"n1","status":{"state":"PEN\u0000DING"}}"#.into(),
            "NUL",
        ),
        ("{\"id\":\"x\",".into(), "body is not JSON"),
    ];
    for (body, reason) in cases {
        let (status, answer) = app.deliver(&body).await;
        assert_eq!(status, 200, "{body:.60}");
        assert_eq!(answer["status"], "quarantined", "{body:.60}");
        assert!(
            answer["reason"].as_str().unwrap().contains(reason),
            "{body:.60}: {answer}"
        );
    }
    // Invalid UTF-8, signed: kept raw too.
    let bytes: &[u8] = b"{\"id\":\"\xff\xfe\"}";
    let r = app
        .post_raw(bytes.to_vec(), hmac_headers(SHARED_KEY, bytes))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "quarantined");
}

#[tokio::test]
async fn odd_but_readable_transactions_are_stored() {
    let app = TestApp::spawn().await;
    for body in [
        // Duplicate keys: the last one counts, as in most JSON readers.
        r#"{"id":"d1","status":{"state":"PENDING"},"status":{"state":"SUCCESS"}}"#,
        // A huge number outside the amount is just kept in the raw body.
        r#"{"id":"d2","status":{"state":"PENDING"},"extra":1e999999}"#,
        // Deep nesting in an unknown field, within the parser's limit.
        r#"{"id":"d3","status":{"state":"PENDING"},"x":[[[[[[[[[[1]]]]]]]]]]}"#,
    ] {
        let (status, answer) = app.deliver(body).await;
        assert_eq!(
            (status, answer["status"].as_str()),
            (200, Some("stored")),
            "{body}"
        );
    }
    let t: Value = app.get_admin_json("/api/v1/transactions/d1").await;
    assert_eq!(t["status"]["state"], "SUCCESS");
}

#[tokio::test]
async fn a_connection_that_never_finishes_its_head_is_closed() {
    let app = TestApp::spawn().await;
    let mut slow = TcpStream::connect(app.addr).await.unwrap();
    slow.write_all(b"POST /webhooks/transactions HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    // The server keeps serving others meanwhile.
    assert_eq!(app.status("/healthz").await, 200);
    // Within the 10-second head timeout (plus slack) the server closes the connection.
    let mut buf = [0u8; 256];
    let closed = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            match slow.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "a slow sender kept its connection past the head timeout"
    );
}

#[tokio::test]
async fn a_flood_beyond_the_request_cap_is_shed_with_503_and_health_still_answers() {
    let app =
        TestApp::spawn_with(Settings::default().set("TXHOOK_MAX_CONCURRENT_REQUESTS", "3")).await;
    // Three requests that hold their slots: heads sent, bodies pending.
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut s = TcpStream::connect(app.addr).await.unwrap();
        s.write_all(b"POST /webhooks/transactions HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\nexpect: 100-continue\r\n\r\n")
            .await
            .unwrap();
        // `100 Continue` comes once the handler runs, i.e. holds a slot.
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).contains("100"));
        held.push(s);
    }
    let body = tx_body(&new_id(), "PAYMENT", "PENDING", "1");
    let started = Instant::now();
    let r = app.post_signed(&body).await;
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "overloaded");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the refusal was not immediate"
    );
    assert_eq!(app.status("/healthz").await, 200);
    assert_eq!(app.status("/readyz").await, 200);

    // Slots free up as soon as the held requests end.
    drop(held);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _) = app.deliver(&body).await;
        if status == 200 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "slots never freed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Opens a connection and sends a callback's head declaring `len` bytes, and `sent` of them.
async fn held_body(app: &TestApp, len: usize, sent: usize) -> TcpStream {
    let mut s = TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /webhooks/transactions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nx-hubpay-hmac: 00\r\ncontent-length: {len}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&vec![b' '; sent]).await.unwrap();
    s
}

/// Reads the status code of the answer on `s`.
async fn status_on(s: &mut TcpStream) -> u16 {
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
        .await
        .expect("an answer in time")
        .unwrap();
    String::from_utf8_lossy(&buf[..n])
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn unverified_bodies_beyond_the_byte_budget_get_503_with_retry_after() {
    let app = TestApp::spawn_with(
        Settings::default()
            .set("TXHOOK_MAX_BODY_BYTES", "4096")
            .set("TXHOOK_MAX_UNVERIFIED_BYTES", "8192")
            .set("TXHOOK_REQUEST_TIMEOUT_SECS", "30"),
    )
    .await;
    // Two slow senders hold the whole budget, before any signature can be checked.
    let mut first = held_body(&app, 4096, 10).await;
    let _second = held_body(&app, 4096, 10).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = app.post_raw("{}", hmac_headers(SHARED_KEY, b"{}")).await;
        if r.status() == 503 {
            assert!(r.headers().contains_key("retry-after"));
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["error"], "overloaded");
            break;
        }
        // The held requests may not have reached the handler yet.
        assert!(Instant::now() < deadline, "never refused: {}", r.status());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A chunked body that would pass the budget is refused as it arrives.
    let mut req = b"POST /webhooks/transactions HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\nx-hubpay-hmac: 00\r\n\r\n".to_vec();
    req.extend(b"10\r\n{\"a\":1234567890}\r\n0\r\n\r\n");
    assert_eq!(raw_status(&app, &req).await, 503);

    // The first sender finishes: its body is checked (and refused), its bytes are released,
    // and a signed callback goes through again.
    first.write_all(&vec![b' '; 4096 - 10]).await.unwrap();
    assert_eq!(status_on(&mut first).await, 401);
    let (status, answer) = app
        .deliver(&tx_body(&new_id(), "PAYMENT", "PENDING", "1.00"))
        .await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("stored")));
}

#[tokio::test]
async fn client_chosen_methods_and_paths_never_become_metric_labels() {
    let app = TestApp::spawn().await;
    let marker = uuid::Uuid::new_v4().simple().to_string();
    let method = format!("X{}", marker.repeat(8).to_uppercase());
    let weird = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    for path in [
        format!("/{marker}"),
        format!("/webhooks/transactions/{marker}"),
        format!("/api/v1/{marker}/x?{marker}=1"),
        "/webhooks/transactions".to_owned(),
    ] {
        let r = app
            .client
            .request(weird.clone(), app.url(&path))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error(), "{path}: {}", r.status());
        let r = app.client.get(app.url(&path)).send().await.unwrap();
        assert!(r.status().is_client_error(), "{path}: {}", r.status());
    }
    let metrics = app.metrics_text().await;
    assert!(
        !metrics.to_lowercase().contains(&marker),
        "a client-chosen string became a label"
    );
    assert!(metrics.contains(r#"method="other""#), "{metrics}");
    assert!(metrics.contains(r#"route="unmatched""#));
}
