//! The database half of readiness: checked on a connection of its own (never one the writers
//! need), at most one check in flight, and its result kept for a second, so that a flood of
//! `/readyz` costs the database one query a second whatever the query's speed.

use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::store::Store;

/// How long a result answers readiness before the database is asked again.
pub const READINESS_TTL: Duration = Duration::from_secs(1);

/// Readiness checks on a store of their own, shared by every request.
pub struct Readiness {
    /// A pool of one connection, apart from the writers' pool.
    probe: Store,
    /// Longest a check may take; beyond it the answer is "not ready".
    timeout: Duration,
    /// The last result and when it was made. Held across the check: concurrent callers wait
    /// for the one check in flight and share its result.
    last: Mutex<Option<(Instant, Result<(), String>)>>,
}

impl Readiness {
    /// Checks on `probe`, each within `timeout`.
    pub fn new(probe: Store, timeout: Duration) -> Self {
        Self {
            probe,
            timeout,
            last: Mutex::new(None),
        }
    }

    /// `Ok` when the database answers and migrations are applied, else why not. A result
    /// younger than [`READINESS_TTL`] is reused.
    pub async fn check(&self) -> Result<(), String> {
        let mut last = self.last.lock().await;
        if let Some((at, result)) = last.as_ref() {
            if at.elapsed() < READINESS_TTL {
                return result.clone();
            }
        }
        ::metrics::counter!("txhook_readiness_checks_total").increment(1);
        let result = match tokio::time::timeout(self.timeout, self.probe.ready()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "not ready");
                Err(e.to_string())
            }
            Err(_) => {
                tracing::warn!("not ready: the readiness check timed out");
                Err("timed out".to_owned())
            }
        };
        *last = Some((Instant::now(), result.clone()));
        result
    }
}
