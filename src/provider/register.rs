//! One registration attempt, and the loop that retries it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, RETRY_AFTER};
use secrecy::ExposeSecret;

use super::{
    Backoff, ProviderError, ProviderSettings, Registration, RegistrationState, RegistrationStatus,
    StatusHandle, retry_after,
};
use crate::store::{NewRegistrationAttempt, Store};
use crate::telemetry::error_chain;

/// Time one attempt may take, connection included.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);
/// Most of the provider's answer body that is read; the rest is not waited for. Only the
/// first [`super::MAX_ANSWER_CHARS`] characters are kept anyway.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

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

/// Registers one [`Registration`], recording every attempt.
pub struct Registrar {
    client: reqwest::Client,
    registration: Registration,
    /// Where attempts are recorded; recording is best effort and never blocks registering.
    store: Option<Store>,
    status: StatusHandle,
    initial_backoff: Duration,
    max_backoff: Duration,
}

impl Registrar {
    /// A registrar for the provider of `settings`.
    pub fn new(
        settings: &ProviderSettings,
        store: Option<Store>,
        status: StatusHandle,
    ) -> Result<Self, ProviderError> {
        let registration = settings.registration.clone();
        let client = reqwest::Client::builder()
            .timeout(ATTEMPT_TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            // A redirected POST would lose its body: a redirect is an answer to report.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("txhook/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ProviderError::Client(e.without_url().to_string()))?;
        status.set_state(RegistrationState::Pending);
        Ok(Self {
            client,
            registration,
            store,
            status,
            initial_backoff: settings.backoff_initial,
            max_backoff: settings.backoff_max,
        })
    }

    pub fn registration(&self) -> &Registration {
        &self.registration
    }

    /// Sends the registration once.
    #[tracing::instrument(skip(self), fields(callback_url = %crate::redact::url_text(&self.registration.callback_url)))]
    pub async fn attempt(&self, number: u32) -> Attempt {
        let reg = &self.registration;
        let mut req = self.client.post(reg.endpoint.clone()).json(&reg.body());
        if let Some(key) = &reg.api_key {
            req = req.header(AUTHORIZATION, format!("Bearer {}", key.expose_secret()));
        }
        let at = Utc::now();
        let (http_status, answer, verdict, wait) = match req.send().await {
            Err(e) => (
                None,
                // Without the URL: it may carry credentials.
                format!("no answer: {}", error_chain(&e.without_url())),
                Verdict::Retry,
                None,
            ),
            Ok(res) => {
                let status = res.status();
                let wait = res
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| retry_after(v, Utc::now()));
                let body = read_capped(res, MAX_ANSWER_BYTES).await;
                (
                    Some(status.as_u16()),
                    reg.scrub(&body),
                    verdict_of(status),
                    wait,
                )
            }
        };
        Attempt {
            number,
            at,
            http_status,
            answer,
            verdict,
            retry_after: wait,
        }
    }

    /// Tries until the provider accepts (`Ok`) or refuses (`Err`). Connection errors, 408,
    /// 429 and 5xx are retried with backoff; the caller bounds the time by dropping it.
    pub async fn register(&self) -> Result<Attempt, ProviderError> {
        let mut backoff = Backoff::new(self.initial_backoff, self.max_backoff);
        for number in 1.. {
            let attempt = self.attempt(number).await;
            self.record(&attempt).await;
            match attempt.verdict {
                Verdict::Registered => {
                    tracing::info!(
                        status = attempt.http_status,
                        attempt = number,
                        callback_url = %crate::redact::url_text(&self.registration.callback_url),
                        "registered with the provider"
                    );
                    return Ok(attempt);
                }
                Verdict::Rejected => {
                    tracing::error!(
                        status = attempt.http_status,
                        answer = %attempt.answer,
                        "the provider refused the registration; not retrying"
                    );
                    return Err(ProviderError::Rejected {
                        status: attempt.http_status,
                        answer: attempt.answer,
                    });
                }
                Verdict::Retry => {
                    let wait = retry_wait(attempt.retry_after, backoff.next_wait());
                    tracing::warn!(
                        status = attempt.http_status,
                        answer = %attempt.answer,
                        retry_in = ?wait,
                        "registration failed; will retry"
                    );
                    tokio::time::sleep(wait).await;
                }
            }
        }
        unreachable!("the attempt counter does not run out")
    }

    /// `serve`'s background registration: under a database lock, so that replicas starting
    /// together register once, and skipped when this very registration already succeeded.
    pub async fn run_in_background(self) {
        let Some(store) = self.store.clone() else {
            let _ = self.register().await;
            return;
        };
        let reg = &self.registration;
        let lock = match store.registration_lock().await {
            Ok(l) => Some(l),
            Err(e) => {
                // Registering twice is harmless; not registering is not.
                tracing::warn!(error = %e, "registration lock unavailable; registering without it");
                None
            }
        };
        match store
            .registered(&reg.provider, &reg.callback_url, &reg.fingerprint())
            .await
        {
            Ok(Some(at)) => {
                tracing::info!(
                    callback_url = %crate::redact::url_text(&reg.callback_url),
                    registered_at = %at,
                    "already registered with this callbackUrl and key; not registering again"
                );
                self.status.set(RegistrationStatus {
                    state: RegistrationState::Registered,
                    attempts: 0,
                    http_status: None,
                    answer: Some(format!("already registered at {at}")),
                });
            }
            Ok(None) => {
                let _ = self.register().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read earlier registrations; registering");
                let _ = self.register().await;
            }
        }
        if let Some(lock) = lock {
            lock.release().await;
        }
    }

    /// Records `attempt` in the database (best effort) and in the status.
    async fn record(&self, attempt: &Attempt) {
        let state = match attempt.verdict {
            Verdict::Registered => RegistrationState::Registered,
            Verdict::Retry => RegistrationState::Retrying,
            Verdict::Rejected => RegistrationState::Rejected,
        };
        metrics::counter!("txhook_registration_attempts_total", "outcome" => state.as_str())
            .increment(1);
        self.status.set(RegistrationStatus {
            state,
            attempts: attempt.number,
            http_status: attempt.http_status,
            answer: Some(attempt.answer.clone()),
        });
        let Some(store) = &self.store else { return };
        let reg = &self.registration;
        let row = NewRegistrationAttempt {
            attempted_at: attempt.at,
            provider_url: &reg.provider,
            callback_url: &reg.callback_url,
            key_fingerprint: reg.fingerprint(),
            attempt: attempt.number as i32,
            http_status: attempt.http_status.map(i32::from),
            answer: &attempt.answer,
            outcome: state.as_str(),
        };
        if let Err(e) = store.record_registration(&row).await {
            tracing::warn!(error = %e, "could not record the registration attempt");
        }
    }
}

/// The wait before the next attempt: the backoff, lengthened (never shortened) by the
/// provider's `Retry-After`, which is honoured up to [`MAX_RETRY_AFTER`]. A `Retry-After: 0`
/// must not turn the retries into a tight loop that records a row per attempt.
fn retry_wait(retry_after: Option<Duration>, backoff: Duration) -> Duration {
    retry_after.map_or(backoff, |w| w.min(MAX_RETRY_AFTER).max(backoff))
}

/// At most `limit` bytes of `res`'s body, as text (lossy). A longer body is not read to its
/// end: the connection is dropped instead of pooled.
async fn read_capped(mut res: reqwest::Response, limit: usize) -> String {
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

fn verdict_of(status: StatusCode) -> Verdict {
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
