//! Group commit: verified callbacks from concurrent requests share one database transaction.
//! This is the only way a callback is logged (`single` write mode: batches of one).
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

use super::{NewCallback, Outcome, Store, StoreError};

/// How callbacks are written to PostgreSQL: the write path's section of the configuration.
#[derive(Debug, Clone, Copy)]
pub struct WriteSettings {
    pub mode: WriteMode,
    /// Group commit sizing (in `single` mode the batch limit is one).
    pub batch: BatchSizing,
}

/// How callbacks are committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// One database transaction per callback: group commit with batches of one.
    Single,
    /// Group commit: concurrent callbacks share a database transaction.
    Batched,
}

impl WriteSettings {
    /// The batch sizing the writers use: one write path, `single` is batches of one.
    pub fn effective_batch(&self) -> BatchSizing {
        match self.mode {
            WriteMode::Single => BatchSizing {
                max_batch: 1,
                ..self.batch
            },
            WriteMode::Batched => self.batch,
        }
    }
}

/// How group commit is sized.
#[derive(Debug, Clone, Copy)]
pub struct BatchSizing {
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

/// The queue in front of the log's writers. Cloning shares it.
#[derive(Clone)]
pub struct LogWriter {
    queue: mpsc::Sender<Job>,
}

/// The writer tasks; [`WriterTasks::drain`] lets them finish what was queued.
pub struct WriterTasks(JoinSet<()>);

impl LogWriter {
    /// Starts `options.writers` writers on `store`.
    pub fn start(store: Store, options: BatchSizing) -> (Self, WriterTasks) {
        let (tx, rx) = mpsc::channel(options.queue_capacity.max(1));
        let rx = Arc::new(Mutex::new(rx));
        let mut tasks = JoinSet::new();
        for _ in 0..options.writers.max(1) {
            tasks.spawn(write_batches(
                store.clone(),
                rx.clone(),
                options.max_batch.max(1),
            ));
        }
        (Self { queue: tx }, WriterTasks(tasks))
    }

    /// Queues `callback` and waits until its batch is committed (or failed). A full queue
    /// refuses at once: the caller answers 503 instead of the server growing its memory.
    pub async fn write(&self, callback: NewCallback) -> Result<Outcome, SubmitError> {
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

impl LogWriter {
    /// Callbacks waiting for a writer now.
    pub fn queued(&self) -> usize {
        self.queue.max_capacity() - self.queue.capacity()
    }
}

impl WriterTasks {
    /// Waits up to `limit` for the writers to write what is queued; the queue must have
    /// been closed by dropping every [`LogWriter`].
    pub async fn drain(mut self, limit: Duration) {
        let all = async { while self.0.join_next().await.is_some() {} };
        if tokio::time::timeout(limit, all).await.is_err() {
            tracing::warn!("writers still busy at shutdown");
        }
    }
}

async fn write_batches(store: Store, queue: Arc<Mutex<mpsc::Receiver<Job>>>, max_batch: usize) {
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

/// Logs a batch (of one, too: one round trip either way); on an error that retrying cannot
/// fix for some row, logs each callback on its own so that one bad row is quarantined alone.
/// A deadlock between batches is retried.
async fn write_with_fallback(
    store: &Store,
    callbacks: &[&NewCallback],
) -> Vec<Result<Outcome, StoreError>> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        match store.append_callbacks(callbacks).await {
            Ok(outcomes) => return outcomes.into_iter().map(Ok).collect(),
            Err(e) if e.is_retryable_conflict() && attempts < 3 => {
                tracing::debug!(error = %e, "batch conflicted; retrying");
            }
            Err(e) if e.is_permanent_for_row() => {
                tracing::warn!(error = %e, size = callbacks.len(), "batch refused; logging its callbacks one by one");
                let mut out = Vec::with_capacity(callbacks.len());
                for cb in callbacks {
                    out.push(store.append_alone(cb).await);
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
