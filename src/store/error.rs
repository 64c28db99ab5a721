//! The store's one error type.

/// What can go wrong talking to PostgreSQL. Messages never include the database URL.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("DATABASE_URL is not a valid PostgreSQL URL")]
    BadUrl,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(sqlx::migrate::MigrateError),
    #[error("database migrations are not applied")]
    MigrationsPending,
    /// The group commit this callback was part of failed (the cause is logged once).
    #[error("batch write failed: {0}")]
    BatchFailed(String),
}

impl StoreError {
    /// PostgreSQL refused the data itself: retrying the same row cannot succeed, and the
    /// store is not unavailable. SQLSTATE classes 22 (data exception: a NUL in text, a
    /// number out of range, a bad encoding), 23 (integrity constraint) and 54 (program limit
    /// exceeded: an index row too large, a statement too complex).
    pub fn is_permanent_for_row(&self) -> bool {
        match self {
            Self::Database(sqlx::Error::Database(db)) => db
                .code()
                .is_some_and(|c| c.starts_with("22") || c.starts_with("23") || c.starts_with("54")),
            _ => false,
        }
    }

    /// A deadlock or serialization failure: the same work may succeed when tried again.
    pub fn is_retryable_conflict(&self) -> bool {
        matches!(self.sqlstate().as_deref(), Some("40P01" | "40001"))
    }

    /// The SQLSTATE, when PostgreSQL gave one.
    pub fn sqlstate(&self) -> Option<String> {
        match self {
            Self::Database(sqlx::Error::Database(db)) => db.code().map(|c| c.into_owned()),
            _ => None,
        }
    }
}
