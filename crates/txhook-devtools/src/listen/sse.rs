//! A Server-Sent Events reader: bytes in, in chunks cut anywhere, messages out.
//!
//! The `text/event-stream` format as browsers read it: lines end in CRLF, LF or CR; a line is
//! `field: value` (one space after the colon is dropped); `data` lines add up, joined by
//! newlines; a blank line ends a message; a line starting with `:` is a comment (heartbeats);
//! the last `id` carries over to the messages after it. Pure: no I/O.

/// One message of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The last `id:` seen so far on this stream.
    pub id: Option<String>,
    /// The `event:` name, when the message has one.
    pub event: Option<String>,
    /// The `data:` lines, joined by newlines.
    pub data: String,
}

/// Turns chunks of a stream into messages; keeps what a chunk leaves unfinished.
#[derive(Debug, Default)]
pub struct Parser {
    /// The bytes of the line not yet ended.
    line: Vec<u8>,
    /// The previous byte was a CR: a LF right after it ends no second line.
    after_cr: bool,
    id: Option<String>,
    event: Option<String>,
    /// Each `data` line followed by a newline; empty when the message has none.
    data: String,
}

impl Parser {
    /// The messages `chunk` completes, in order.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<Message> {
        let mut done = Vec::new();
        for &b in chunk {
            if std::mem::take(&mut self.after_cr) && b == b'\n' {
                continue;
            }
            match b {
                b'\n' => self.end_line(&mut done),
                b'\r' => {
                    self.after_cr = true;
                    self.end_line(&mut done);
                }
                // Splitting bytes is safe for UTF-8: CR and LF never occur inside a character.
                _ => self.line.push(b),
            }
        }
        done
    }

    /// The last `id:` seen, also on a message without data (txhook opens its stream with
    /// one: where it starts): what a reconnection sends as `Last-Event-ID`.
    pub fn last_id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    fn end_line(&mut self, done: &mut Vec<Message>) {
        let line = std::mem::take(&mut self.line);
        if line.is_empty() {
            return self.dispatch(done);
        }
        let line = String::from_utf8_lossy(&line);
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (&*line, ""),
        };
        match field {
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
            }
            "id" if !value.contains('\0') => self.id = Some(value.to_owned()),
            "event" => self.event = Some(value.to_owned()),
            // `retry` and unknown fields.
            _ => {}
        }
    }

    /// A blank line: the message so far, when it has data.
    fn dispatch(&mut self, done: &mut Vec<Message>) {
        let event = self.event.take();
        let mut data = std::mem::take(&mut self.data);
        if data.pop().is_none() {
            return;
        }
        done.push(Message {
            id: self.id.clone(),
            event,
            data,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str, data: &str) -> Message {
        Message {
            id: Some(id.into()),
            event: None,
            data: data.into(),
        }
    }

    const STREAM: &str = ": heartbeat\n\nid: 7\ndata: {\"sequence\":7}\n\n\
                          :\nid:8\ndata:{\"a\":\ndata: 1}\n\n";

    #[test]
    fn messages_have_their_id_and_data_lines_joined() {
        let got = Parser::default().feed(STREAM.as_bytes());
        assert_eq!(
            got,
            [
                message("7", r#"{"sequence":7}"#),
                message("8", "{\"a\":\n1}")
            ]
        );
    }

    #[test]
    fn chunks_may_end_anywhere() {
        let whole = Parser::default().feed(STREAM.as_bytes());
        let bytes = STREAM.as_bytes();
        for cut in 0..=bytes.len() {
            let mut p = Parser::default();
            let mut got = p.feed(&bytes[..cut]);
            got.extend(p.feed(&bytes[cut..]));
            assert_eq!(got, whole, "cut at {cut}");
        }
        // One byte at a time.
        let mut p = Parser::default();
        let got: Vec<_> = bytes.iter().flat_map(|b| p.feed(&[*b])).collect();
        assert_eq!(got, whole);
    }

    #[test]
    fn crlf_and_cr_end_lines_too_even_split_between_chunks() {
        let crlf = STREAM.replace('\n', "\r\n");
        let cr = STREAM.replace('\n', "\r");
        let whole = Parser::default().feed(STREAM.as_bytes());
        for text in [crlf, cr] {
            let bytes = text.as_bytes();
            for cut in 0..=bytes.len() {
                let mut p = Parser::default();
                let mut got = p.feed(&bytes[..cut]);
                got.extend(p.feed(&bytes[cut..]));
                assert_eq!(got, whole, "{text:?} cut at {cut}");
            }
        }
    }

    #[test]
    fn comments_and_blocks_without_data_dispatch_nothing() {
        let mut p = Parser::default();
        assert!(
            p.feed(b": keep-alive\n\n:\n\nid: 3\n\nretry: 10\n\n")
                .is_empty()
        );
        // The id of a block without data is the stream's position all the same.
        assert_eq!(p.last_id(), Some("3"));
        // The id carries over to the next message; an unfinished message waits.
        assert!(p.feed(b"event: note\ndata: x").is_empty());
        let got = p.feed(b"\n\n");
        assert_eq!(
            got,
            [Message {
                id: Some("3".into()),
                event: Some("note".into()),
                data: "x".into(),
            }]
        );
    }

    #[test]
    fn an_empty_data_line_is_a_message_and_only_one_space_is_dropped() {
        let got = Parser::default().feed(b"data\n\ndata:  two spaces\n\n");
        assert_eq!(got[0].data, "");
        assert_eq!(got[1].data, " two spaces");
    }

    #[test]
    fn utf8_split_between_chunks_is_kept_whole() {
        let text = "id: 1\ndata: {\"name\":\"Zoë ✓\"}\n\n".as_bytes();
        let at = text.iter().position(|b| *b >= 0x80).unwrap() + 1;
        let mut p = Parser::default();
        let mut got = p.feed(&text[..at]);
        got.extend(p.feed(&text[at..]));
        assert_eq!(got, [message("1", "{\"name\":\"Zoë ✓\"}")]);
    }
}
