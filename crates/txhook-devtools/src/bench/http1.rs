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
mod tests;
