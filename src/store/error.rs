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
}

impl StoreError {
    /// A data or integrity error: retrying the same row cannot succeed.
    pub fn is_permanent_for_row(&self) -> bool {
        match self {
            Self::Database(sqlx::Error::Database(db)) => db
                .code()
                .is_some_and(|c| c.starts_with("22") || c.starts_with("23")),
            _ => false,
        }
    }

    /// The SQLSTATE, when PostgreSQL gave one.
    pub fn sqlstate(&self) -> Option<String> {
        match self {
            Self::Database(sqlx::Error::Database(db)) => db.code().map(|c| c.into_owned()),
            _ => None,
        }
    }
}
