//! One registration attempt's outcome: what an answer means, how much of it is read, and how
//! long to wait before the next.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;

/// Longest `Retry-After` honoured.
pub(super) const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);
/// Most of the provider's answer body that is read; the rest is not waited for. Only the
/// first [`super::MAX_ANSWER_CHARS`] characters are kept anyway.
pub(super) const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// What an answer means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Registered,
    /// Connection error, 408, 429 or 5xx.
    Retry,
    /// Any other answer: retrying the same request cannot help.
    Rejected,
}

/// One attempt's outcome, free of secrets.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub number: u32,
    pub at: DateTime<Utc>,
    pub http_status: Option<u16>,
    /// The provider's answer body (scrubbed, truncated), or why there was none.
    pub answer: String,
    pub verdict: Verdict,
    pub retry_after: Option<Duration>,
}

impl std::fmt::Display for Attempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.http_status {
            Some(s) => write!(f, "attempt {}: HTTP {s}: {}", self.number, self.answer),
            None => write!(f, "attempt {}: {}", self.number, self.answer),
        }
    }
}

/// The wait before the next attempt: the backoff, lengthened (never shortened) by the
/// provider's `Retry-After`, which is honoured up to [`MAX_RETRY_AFTER`]. A `Retry-After: 0`
/// must not turn the retries into a tight loop that records a row per attempt.
pub(super) fn retry_wait(retry_after: Option<Duration>, backoff: Duration) -> Duration {
    retry_after.map_or(backoff, |w| w.min(MAX_RETRY_AFTER).max(backoff))
}

/// At most `limit` bytes of `res`'s body, as text (lossy). A longer body is not read to its
/// end: the connection is dropped instead of pooled.
pub(super) async fn read_capped(mut res: reqwest::Response, limit: usize) -> String {
    let mut buf = Vec::new();
    // An error mid-body leaves what arrived until then.
    while let Ok(Some(chunk)) = res.chunk().await {
        let room = limit - buf.len();
        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if buf.len() == limit {
            break;
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

pub(super) fn verdict_of(status: StatusCode) -> Verdict {
    if status.is_success() {
        Verdict::Registered
    } else if status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
    {
        Verdict::Retry
    } else {
        Verdict::Rejected
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_lengthens_the_backoff_but_never_shortens_it() {
        let backoff = Duration::from_millis(800);
        assert_eq!(retry_wait(None, backoff), backoff);
        assert_eq!(retry_wait(Some(Duration::ZERO), backoff), backoff);
        assert_eq!(
            retry_wait(Some(Duration::from_millis(10)), backoff),
            backoff
        );
        assert_eq!(
            retry_wait(Some(Duration::from_secs(30)), backoff),
            Duration::from_secs(30)
        );
        assert_eq!(
            retry_wait(Some(Duration::from_secs(86_400)), backoff),
            MAX_RETRY_AFTER
        );
    }

    #[test]
    fn only_timeouts_throttling_and_server_errors_are_retried() {
        for (code, verdict) in [
            (200, Verdict::Registered),
            (201, Verdict::Registered),
            (204, Verdict::Registered),
            (301, Verdict::Rejected),
            (400, Verdict::Rejected),
            (401, Verdict::Rejected),
            (404, Verdict::Rejected),
            (408, Verdict::Retry),
            (409, Verdict::Rejected),
            (429, Verdict::Retry),
            (500, Verdict::Retry),
            (503, Verdict::Retry),
        ] {
            assert_eq!(
                verdict_of(StatusCode::from_u16(code).unwrap()),
                verdict,
                "{code}"
            );
        }
    }
}
