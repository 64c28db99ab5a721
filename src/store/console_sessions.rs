//! Console sessions signed out before they expired.

use chrono::{DateTime, Utc};

use super::{Store, StoreError};

impl Store {
    /// Records that the session `nonce` (valid until `expires_at`) was signed out, and
    /// forgets the sign-outs of sessions that have expired anyway.
    pub async fn sign_out_console_session(
        &self,
        nonce: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("delete from console_sign_outs where expires_at < now()")
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "insert into console_sign_outs (nonce, expires_at) values ($1, $2)
             on conflict (nonce) do nothing",
        )
        .bind(nonce)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether the session `nonce` was signed out.
    pub async fn console_session_signed_out(&self, nonce: &str) -> Result<bool, StoreError> {
        Ok(
            sqlx::query_scalar("select exists (select 1 from console_sign_outs where nonce = $1)")
                .bind(nonce)
                .fetch_one(&self.pool)
                .await?,
        )
    }
}
