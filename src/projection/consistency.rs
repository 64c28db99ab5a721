//! Read-your-acks: a read of derived state waits, boundedly, until the projection has
//! passed every event that was logged before the read arrived.

use std::time::Duration;

use tokio::time::{Instant, sleep};

use crate::store::{Store, StoreError};

/// How often a waiting read looks at the projector's position.
const LOOK_EVERY: Duration = Duration::from_millis(10);

/// Why a read could not be answered consistently.
#[derive(Debug, thiserror::Error)]
pub enum Behind {
    /// The projection did not reach the log within the bound.
    #[error(
        "the projection did not reach the event log within {waited:?} (at sequence {at}, the log at {log}); the log holds every acknowledged callback"
    )]
    Stalled { waited: Duration, at: i64, log: i64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Waits for the projection on behalf of reads.
#[derive(Clone, Debug)]
pub struct Consistency {
    store: Store,
    /// Longest a read waits.
    bound: Duration,
}

impl Consistency {
    pub fn new(store: Store, bound: Duration) -> Self {
        Self { store, bound }
    }

    /// Returns once every event logged before this call is projected, or
    /// [`Behind::Stalled`] after the bound.
    pub async fn caught_up(&self) -> Result<(), Behind> {
        let (last, mut at) = self.store.log_frontier().await?;
        let Some(target) = last else {
            return Ok(());
        };
        let deadline = Instant::now() + self.bound;
        while at < target {
            if Instant::now() >= deadline {
                metrics::counter!("txhook_projection_stalled_reads_total").increment(1);
                return Err(Behind::Stalled {
                    waited: self.bound,
                    at: at.sequence,
                    log: target.sequence,
                });
            }
            sleep(LOOK_EVERY).await;
            at = self.store.projection_position().await?;
        }
        Ok(())
    }
}
