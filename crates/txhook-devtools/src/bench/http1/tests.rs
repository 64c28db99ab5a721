//! The client against a one-connection server on loopback: what it sends, and how it reads
//! split, closing, chunked and cut-short answers.

use super::*;
use crate::Signer;
use crate::bench::corpus::Maker;
use tokio::net::TcpListener;
use txhook_core::verify::Scheme;

fn delivery() -> std::sync::Arc<Delivery> {
    let scheme = Scheme::HmacSha256 {
        header: http::HeaderName::from_static("x-hubpay-hmac"),
    };
    Maker::new(Signer::new(scheme, b"k".to_vec(), None)).one(&mut rand::rng())
}

/// A one-connection server on loopback: reads one request (head and declared body),
/// checks it, and answers with `answer`'s pieces, flushed one by one.
async fn serve_once(answer: Vec<&'static [u8]>) -> (String, tokio::task::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let task = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = s.read(&mut buf).await.unwrap();
            got.extend_from_slice(&buf[..n]);
            let mut headers = [httparse::EMPTY_HEADER; 16];
            let mut req = httparse::Request::new(&mut headers);
            if let Ok(httparse::Status::Complete(head)) = req.parse(&got) {
                let len = content_length(req.headers).unwrap();
                if got.len() >= head + len {
                    break;
                }
            }
            assert!(n > 0, "request cut short");
        }
        for piece in answer {
            s.write_all(piece).await.unwrap();
            s.flush().await.unwrap();
            tokio::task::yield_now().await;
        }
        got
    });
    (addr, task)
}

#[tokio::test]
async fn a_request_carries_the_body_and_signature_and_a_split_answer_is_read_whole() {
    let d = delivery();
    let (addr, server) = serve_once(vec![
        b"HTTP/1.1 200 OK\r\ncontent-le",
        b"ngth: 32\r\ncontent-type: application/json\r\n\r\n{\"status\":\"stored\",",
        b"\"sequence\":7}",
    ])
    .await;
    let mut conn = Conn::connect(&addr).await.unwrap();
    let host = HeaderValue::from_str(&addr).unwrap();
    let answer = conn
        .post(&host, "/webhooks/transactions", &d)
        .await
        .unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, br#"{"status":"stored","sequence":7}"#);
    assert!(!conn.closing());

    let sent = server.await.unwrap();
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut req = httparse::Request::new(&mut headers);
    let head = match req.parse(&sent).unwrap() {
        httparse::Status::Complete(head) => head,
        httparse::Status::Partial => panic!("partial request"),
    };
    assert_eq!(req.method, Some("POST"));
    assert_eq!(req.path, Some("/webhooks/transactions"));
    let signature = req
        .headers
        .iter()
        .find(|h| h.name == "x-hubpay-hmac")
        .expect("signature header sent");
    assert_eq!(signature.value, d.headers["x-hubpay-hmac"].as_bytes());
    assert_eq!(&sent[head..], &d.body[..]);
}

#[tokio::test]
async fn an_answer_that_closes_the_connection_is_read_and_says_so() {
    let (addr, _server) = serve_once(vec![
        b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\ncontent-length: 2\r\n\r\nno",
    ])
    .await;
    let mut conn = Conn::connect(&addr).await.unwrap();
    let answer = conn
        .post(&HeaderValue::from_static("localhost"), "/", &delivery())
        .await
        .unwrap();
    assert_eq!((answer.status, answer.body), (503, &b"no"[..]));
    assert!(conn.closing());
}

/// Posts a delivery to a server that answers `answer`; the client's error.
async fn error_for(answer: &'static [u8]) -> String {
    let (addr, _server) = serve_once(vec![answer]).await;
    let mut conn = Conn::connect(&addr).await.unwrap();
    let host = HeaderValue::from_static("localhost");
    conn.post(&host, "/", &delivery()).await.err().unwrap()
}

#[tokio::test]
async fn chunked_answers_and_closed_connections_are_errors() {
    let err = error_for(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n").await;
    assert!(err.contains("chunked"), "{err}");

    let err = error_for(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 10\r\n\r\nabc").await;
    assert!(err.contains("connection closed"), "{err}");
}
