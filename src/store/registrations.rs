//! Registration attempts: recorded one by one, read back for the subscription API, and the
//! lock that makes replicas starting together register once.

use chrono::{DateTime, Utc};
use sqlx::{Connection, PgConnection};

use super::{Store, StoreError};

/// Advisory lock key of registration ("txhook" in ASCII, then 1).
const REGISTRATION_LOCK: i64 = 0x7478_686f_6f6b_0001;

/// One attempt, as recorded. Holds no secret.
#[derive(Debug)]
pub struct NewRegistrationAttempt<'a> {
    pub attempted_at: DateTime<Utc>,
    pub provider_url: &'a str,
    pub callback_url: &'a str,
    pub key_fingerprint: String,
    pub attempt: i32,
    pub http_status: Option<i32>,
    pub answer: &'a str,
    pub outcome: &'a str,
}

/// A recorded attempt, as the subscription API shows it.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationRow {
    pub attempted_at: DateTime<Utc>,
    pub provider_url: String,
    pub callback_url: String,
    pub attempt: i32,
    pub http_status: Option<i32>,
    pub answer: String,
    pub outcome: String,
    /// Whether it was made with the key and static header configured now.
    pub current_key: bool,
}

/// Held while registering; other replicas wait for it. Released on [`release`] or when
/// dropped (its connection closes).
///
/// [`release`]: RegistrationLock::release
pub struct RegistrationLock(PgConnection);

impl RegistrationLock {
    pub async fn release(self) {
        // Closing the session releases its advisory locks.
        let _ = self.0.close().await;
    }
}

impl Store {
    pub async fn record_registration(
        &self,
        a: &NewRegistrationAttempt<'_>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "insert into registrations (attempted_at, provider_url, callback_url,
                                        key_fingerprint, attempt, http_status, answer, outcome)
             values ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(a.attempted_at)
        .bind(a.provider_url)
        .bind(a.callback_url)
        .bind(&a.key_fingerprint)
        .bind(a.attempt)
        .bind(a.http_status)
        .bind(a.answer)
        .bind(a.outcome)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// When this exact registration last succeeded, if ever.
    pub async fn registered(
        &self,
        provider_url: &str,
        callback_url: &str,
        key_fingerprint: &str,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let at = sqlx::query_scalar(
            "select max(attempted_at) from registrations
              where provider_url = $1 and callback_url = $2 and key_fingerprint = $3
                and outcome = 'registered'",
        )
        .bind(provider_url)
        .bind(callback_url)
        .bind(key_fingerprint)
        .fetch_one(&self.pool)
        .await?;
        Ok(at)
    }

    /// The latest `limit` attempts, newest first; `current_key` compares with `fingerprint`.
    pub async fn registrations(
        &self,
        fingerprint: &str,
        limit: i64,
    ) -> Result<Vec<RegistrationRow>, StoreError> {
        let rows = sqlx::query_as(
            "select attempted_at, provider_url, callback_url, attempt, http_status, answer,
                    outcome, key_fingerprint = $1 as current_key
               from registrations order by id desc limit $2",
        )
        .bind(fingerprint)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// Waits for the registration lock, on a connection of its own (taken out of the pool,
    /// so that the lock can never stay behind on a pooled connection).
    pub async fn registration_lock(&self) -> Result<RegistrationLock, StoreError> {
        let mut conn = self.pool.acquire().await?.detach();
        sqlx::query("select pg_advisory_lock($1)")
            .bind(REGISTRATION_LOCK)
            .execute(&mut conn)
            .await?;
        Ok(RegistrationLock(conn))
    }
}
