//! Group commit: verified callbacks from concurrent requests share one database transaction.
//!
//! Requests put their callback on a bounded queue and wait for its outcome; each answer still
//! comes only after the commit that holds its event. Several writers take from the queue:
//! a writer takes everything waiting (up to the batch limit) without lingering, so under light
//! load a batch is one callback and nothing waits, and under heavy load batches grow while
//! several are in flight at once.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::task::JoinSet;

use super::batch_sql::write_batch;
use super::{NewCallback, Outcome, Store, StoreError};

/// How group commit is sized.
#[derive(Debug, Clone, Copy)]
pub struct BatchOptions {
    /// Writers, each with at most one batch (one database connection) in flight.
    pub writers: usize,
    /// Most callbacks in one database transaction.
    pub max_batch: usize,
    /// Callbacks that may wait for a writer; beyond it requests are refused at once.
    pub queue_capacity: usize,
}

/// Why a callback was not written.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("the write queue is full")]
    QueueFull,
    #[error("the writers have stopped")]
    Closed,
    #[error(transparent)]
    Store(#[from] StoreError),
}

struct Job {
    callback: NewCallback,
    reply: oneshot::Sender<Result<Outcome, StoreError>>,
}

/// The queue in front of the writers. Cloning shares it.
#[derive(Clone)]
pub struct Batcher {
    queue: mpsc::Sender<Job>,
}

/// The writer tasks; [`Writers::drain`] lets them finish what was queued.
pub struct Writers(JoinSet<()>);

impl Batcher {
    /// Starts `options.writers` writers on `store`.
    pub fn start(store: Store, options: BatchOptions) -> (Self, Writers) {
        let (tx, rx) = mpsc::channel(options.queue_capacity.max(1));
        let rx = Arc::new(Mutex::new(rx));
        let mut tasks = JoinSet::new();
        for _ in 0..options.writers.max(1) {
            tasks.spawn(writer(store.clone(), rx.clone(), options.max_batch.max(1)));
        }
        (Self { queue: tx }, Writers(tasks))
    }

    /// Queues `callback` and waits until its batch is committed (or failed). A full queue
    /// refuses at once: the caller answers 503 instead of the server growing its memory.
    pub async fn submit(&self, callback: NewCallback) -> Result<Outcome, SubmitError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .try_send(Job { callback, reply })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => SubmitError::QueueFull,
                mpsc::error::TrySendError::Closed(_) => SubmitError::Closed,
            })?;
        metrics::gauge!("txhook_write_queue_depth").set(self.queued() as f64);
        Ok(answer.await.map_err(|_| SubmitError::Closed)??)
    }
}

impl Batcher {
    /// Callbacks waiting for a writer now.
    pub fn queued(&self) -> usize {
        self.queue.max_capacity() - self.queue.capacity()
    }
}

impl Writers {
    /// Waits up to `limit` for the writers to write what is queued; the queue must have
    /// been closed by dropping every [`Batcher`].
    pub async fn drain(mut self, limit: Duration) {
        let all = async { while self.0.join_next().await.is_some() {} };
        if tokio::time::timeout(limit, all).await.is_err() {
            tracing::warn!("writers still busy at shutdown");
        }
    }
}

async fn writer(store: Store, queue: Arc<Mutex<mpsc::Receiver<Job>>>, max_batch: usize) {
    let mut jobs = Vec::with_capacity(max_batch);
    loop {
        {
            // One writer at a time collects: it takes the first job when it comes, then
            // whatever else is already waiting, and lets the next writer collect while it
            // writes.
            let mut rx = queue.lock().await;
            if rx.recv_many(&mut jobs, max_batch).await == 0 {
                return;
            }
        }
        metrics::histogram!("txhook_batch_size").record(jobs.len() as f64);
        let callbacks: Vec<&NewCallback> = jobs.iter().map(|j| &j.callback).collect();
        let results = write_with_fallback(&store, &callbacks).await;
        for (job, result) in jobs.drain(..).zip(results) {
            // The request may have given up (timeout); its event is committed or not
            // regardless, and a retry will find it.
            let _ = job.reply.send(result);
        }
    }
}

/// Writes a batch (of one, too: one round trip either way); on an error that retrying cannot
/// fix for some row, writes each callback on its own so that one bad row fails (or is
/// quarantined) alone. A deadlock between batches (rows locked in different orders by other
/// replicas) is retried.
async fn write_with_fallback(
    store: &Store,
    callbacks: &[&NewCallback],
) -> Vec<Result<Outcome, StoreError>> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        match write_batch(store, callbacks).await {
            Ok(outcomes) => return outcomes.into_iter().map(Ok).collect(),
            Err(e) if e.is_retryable_conflict() && attempts < 3 => {
                tracing::debug!(error = %e, "batch conflicted; retrying");
            }
            Err(e) if e.is_permanent_for_row() => {
                // The plain path quarantines a row PostgreSQL refuses for its data.
                tracing::warn!(error = %e, size = callbacks.len(), "batch refused; writing its callbacks one by one");
                let mut out = Vec::with_capacity(callbacks.len());
                for cb in callbacks {
                    out.push(store.record_callback(cb).await);
                }
                return out;
            }
            Err(e) => {
                tracing::error!(error = %e, size = callbacks.len(), "batch failed");
                let msg = e.to_string();
                return callbacks
                    .iter()
                    .map(|_| Err(StoreError::BatchFailed(msg.clone())))
                    .collect();
            }
        }
    }
}

/// How the receiver writes callbacks: the configured write mode.
#[derive(Clone)]
pub enum Writer {
    /// One database transaction per callback.
    Single(Store),
    /// Group commit.
    Batched(Batcher),
}

impl Writer {
    /// Writes `callback` and returns its outcome once committed.
    pub async fn write(&self, callback: NewCallback) -> Result<Outcome, SubmitError> {
        match self {
            Self::Single(store) => Ok(store.record_callback(&callback).await?),
            Self::Batched(batcher) => batcher.submit(callback).await,
        }
    }
}
