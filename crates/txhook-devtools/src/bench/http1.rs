//! The load generator's HTTP/1.1 client: one keep-alive connection, one request at a time.
//!
//! It shares the machine with the server it measures, so a request costs it as little as it
//! can: the request is written in one `write` from a reused buffer, and the answer is read
//! into another and parsed in place (`httparse`), all on the worker's own task. A general
//! client (hyper's) runs each connection as a second task and cost about 1.6 times the CPU.

use std::io::Write as _;

use http::HeaderValue;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::corpus::Delivery;

/// Headers of an answer the client looks at; more are allowed and skipped.
const MAX_HEADERS: usize = 32;

/// An open connection and its buffers.
pub struct Conn {
    stream: TcpStream,
    out: Vec<u8>,
    inp: Vec<u8>,
    /// The server said it closes the connection after its last answer.
    closing: bool,
}

/// An HTTP response as read off the connection: its status, and its body in the connection's
/// input buffer.
pub struct RawResponse<'a> {
    pub status: u16,
    pub body: &'a [u8],
}

impl Conn {
    pub async fn connect(addr: &str) -> Result<Self, String> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        Ok(Self {
            stream,
            out: Vec::with_capacity(4096),
            inp: Vec::with_capacity(4096),
            closing: false,
        })
    }

    /// POSTs `d` to `path` and reads the whole answer. After an error the connection is
    /// in an unknown state and must be dropped.
    pub async fn post(
        &mut self,
        host: &HeaderValue,
        path: &str,
        d: &Delivery,
    ) -> Result<RawResponse<'_>, String> {
        self.out.clear();
        self.out.extend_from_slice(b"POST ");
        self.out.extend_from_slice(path.as_bytes());
        self.out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
        self.out.extend_from_slice(host.as_bytes());
        self.out
            .extend_from_slice(b"\r\ncontent-type: application/json\r\ncontent-length: ");
        write!(self.out, "{}", d.body.len()).expect("writing to a Vec cannot fail");
        for (name, value) in &d.headers {
            self.out.extend_from_slice(b"\r\n");
            self.out.extend_from_slice(name.as_str().as_bytes());
            self.out.extend_from_slice(b": ");
            self.out.extend_from_slice(value.as_bytes());
        }
        self.out.extend_from_slice(b"\r\n\r\n");
        self.out.extend_from_slice(&d.body);
        self.stream
            .write_all(&self.out)
            .await
            .map_err(|e| format!("request: {e}"))?;
        self.read_response().await
    }

    /// Whether the server closes the connection after the last answer (`connection: close`):
    /// the next request needs a new one.
    pub fn closing(&self) -> bool {
        self.closing
    }

    async fn read_response(&mut self) -> Result<RawResponse<'_>, String> {
        self.inp.clear();
        let (status, head, len) = loop {
            self.fill().await?;
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut res = httparse::Response::new(&mut headers);
            match res.parse(&self.inp) {
                Ok(httparse::Status::Complete(head)) => {
                    let status = res.code.unwrap_or(0);
                    self.closing = res.headers.iter().any(|h| {
                        h.name.eq_ignore_ascii_case("connection")
                            && h.value.eq_ignore_ascii_case(b"close")
                    });
                    break (status, head, content_length(res.headers)?);
                }
                Ok(httparse::Status::Partial) => {}
                Err(e) => return Err(format!("answer: {e}")),
            }
        };
        while self.inp.len() < head + len {
            self.fill().await?;
        }
        if self.inp.len() > head + len {
            return Err("answer: more bytes than its content-length".into());
        }
        Ok(RawResponse {
            status,
            body: &self.inp[head..],
        })
    }

    /// Reads what has arrived (at least one byte) onto the end of the input buffer.
    async fn fill(&mut self) -> Result<(), String> {
        if self.inp.capacity() - self.inp.len() < 1024 {
            self.inp.reserve(4096);
        }
        match self.stream.read_buf(&mut self.inp).await {
            Ok(0) => Err("answer: connection closed".into()),
            Ok(_) => Ok(()),
            Err(e) => Err(format!("answer: {e}")),
        }
    }
}

/// The body length an answer declares; the server always declares it (no chunking).
fn content_length(headers: &[httparse::Header<'_>]) -> Result<usize, String> {
    let mut len = None;
    for h in headers {
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err("answer: chunked bodies are not supported".into());
        }
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or("answer: bad content-length")?;
            len = Some(n);
        }
    }
    len.ok_or_else(|| "answer: no content-length".into())
}

#[cfg(test)]
mod tests {
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
        let err =
            error_for(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n").await;
        assert!(err.contains("chunked"), "{err}");

        let err =
            error_for(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 10\r\n\r\nabc").await;
        assert!(err.contains("connection closed"), "{err}");
    }
}
