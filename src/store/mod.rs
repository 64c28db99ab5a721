//! PostgreSQL: the pool, migrations, and the SQL of each feature. Knows the model, never axum.

mod append;
mod console;
mod console_sessions;
mod destinations;
mod error;
mod events;
mod listing;
mod log_writer;
mod partitions;
mod position;
mod projection;
mod reads;
mod registrations;
mod rejected;
mod stream_events;

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::sync::watch;

pub use append::{LOG_CHANNEL, NewCallback, Outcome};
pub use console::{Bucket, Listed, Search, TimelineEntry};
pub use destinations::{
    AttemptRow, Claimed, DeadLetterRow, DeliveryStatus, DestinationRow, FanOut,
};
pub use error::StoreError;
pub use events::{EventRow, PAGE_MAX_BODY_BYTES, TailError};
pub use listing::{Page, TransactionFilter};
pub use log_writer::{BatchSizing, LogWriter, SubmitError, WriteMode, WriteSettings, WriterTasks};
pub use partitions::MONTHS_AHEAD;
pub use position::Position;
pub use projection::{Failure, ProjectionStep, Unprojected};
pub use reads::{HistoryEntry, TransactionView};
pub use registrations::{NewRegistrationAttempt, RegistrationLock, RegistrationRow};
pub use rejected::{Rejected, RejectedRow, RejectionLog};
pub use stream_events::{NewStreamEvent, StreamOutcome};

/// The database section of the configuration: where PostgreSQL is and how the pool is sized.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// PostgreSQL connection URL (may hold a password, hence secret).
    pub url: SecretString,
    /// Size of the connection pool.
    pub max_connections: u32,
    /// How long a request waits for a pooled connection.
    pub acquire_timeout: Duration,
}

/// Migrations, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The database handle shared by every request.
#[derive(Clone, Debug)]
pub struct Store {
    pool: PgPool,
    signals: Arc<LogSignals>,
}

/// How readers of the log learn that it grew.
#[derive(Debug)]
struct LogSignals {
    /// Changes on every append, here or (through `LISTEN`) on another replica: readers wait
    /// on it instead of polling.
    grew: watch::Sender<u64>,
    /// Changes on this replica's appends: the announcer tells the others.
    appended: watch::Sender<u64>,
    /// Changes when this replica's projector advances: what waits for the projection (the
    /// delivery fan-out) looks again at once.
    projected: watch::Sender<u64>,
    /// This replica, in its announcements (so that it skips its own).
    replica: String,
}

impl Store {
    /// A pool that connects lazily: the server starts (and answers 503) while PostgreSQL is
    /// away, and recovers by itself when it comes back.
    pub fn connect_lazy(settings: &DatabaseSettings) -> Result<Self, StoreError> {
        let options: PgConnectOptions = settings
            .url
            .expose_secret()
            .parse()
            .map_err(|_| StoreError::BadUrl)?;
        let options = options.application_name("txhook");
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            .idle_timeout(Some(Duration::from_secs(300)))
            // A connection that went bad while idle (database restarted) is found out before
            // a request gets it.
            .test_before_acquire(true)
            .connect_lazy_with(options);
        Ok(Self::from_pool(pool))
    }

    /// A store on a pool of its own of `connections` (a worker that must never take the
    /// writers' connections), sharing this one's wake-ups.
    pub fn with_own_pool(
        &self,
        settings: &DatabaseSettings,
        connections: u32,
    ) -> Result<Self, StoreError> {
        let store = Self::connect_lazy(&DatabaseSettings {
            max_connections: connections,
            ..settings.clone()
        })?;
        Ok(Self {
            pool: store.pool,
            signals: self.signals.clone(),
        })
    }

    /// Wraps an existing pool (tests).
    pub fn from_pool(pool: PgPool) -> Self {
        Self {
            pool,
            signals: Arc::new(LogSignals {
                grew: watch::Sender::new(0),
                appended: watch::Sender::new(0),
                projected: watch::Sender::new(0),
                replica: uuid::Uuid::new_v4().simple().to_string(),
            }),
        }
    }

    /// Tells this process's readers of the log that it grew, and the announcer that other
    /// replicas should hear of it.
    pub fn log_grew(&self) {
        self.signals.grew.send_modify(|n| *n = n.wrapping_add(1));
        self.signals
            .appended
            .send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Tells this process's readers that another replica appended to the log.
    fn log_grew_elsewhere(&self) {
        self.signals.grew.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Changes whenever the log grows: a reader waits on it instead of polling.
    pub fn log_changes(&self) -> watch::Receiver<u64> {
        self.signals.grew.subscribe()
    }

    /// Tells this process that the projector advanced.
    pub fn projection_advanced(&self) {
        self.signals
            .projected
            .send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Changes whenever this process's projector advances.
    pub fn projection_changes(&self) -> watch::Receiver<u64> {
        self.signals.projected.subscribe()
    }

    /// The pool, for tests and tools.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Applies pending migrations. Safe when several replicas start at once: sqlx takes an
    /// advisory lock.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await.map_err(StoreError::Migrate)
    }

    /// Ready when the database answers and every embedded migration is applied.
    pub async fn ready(&self) -> Result<(), StoreError> {
        let applied: i64 = sqlx::query_scalar(
            "select count(*) from _sqlx_migrations where success and version = any($1)",
        )
        .bind(MIGRATOR.iter().map(|m| m.version).collect::<Vec<_>>())
        .fetch_one(&self.pool)
        .await?;
        if applied as usize == MIGRATOR.iter().count() {
            Ok(())
        } else {
            Err(StoreError::MigrationsPending)
        }
    }
}
