//! The registrar: sends the registration, retries it, records every attempt.

use std::time::Duration;

use chrono::Utc;
use reqwest::header::{AUTHORIZATION, RETRY_AFTER};
use secrecy::ExposeSecret;

use super::attempt::{MAX_ANSWER_BYTES, read_capped, retry_wait, verdict_of};
use super::{
    Attempt, Backoff, ProviderError, ProviderSettings, Registration, RegistrationState,
    RegistrationStatus, StatusHandle, Verdict, retry_after,
};
use crate::store::{NewRegistrationAttempt, Store};
use crate::telemetry::error_chain;

/// Time one attempt may take, connection included.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
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
