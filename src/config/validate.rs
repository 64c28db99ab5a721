//! Turning raw settings into a [`Config`], one section at a time, naming the variable of
//! anything missing or invalid. Defaults come from the shipped `config.toml` (laid under the
//! file and the environment by [`super::raw`]); nothing here repeats them.

use std::net::SocketAddr;

use secrecy::ExposeSecret;

use super::raw::Raw;
use super::secrets::check_secret;
use super::signing::signing;
use super::upstream::{provider, stream};
use super::values::{
    choice, count, defaulted, duration, http_url, millis, non_empty, non_empty_secret, secs,
};
use super::{Config, ConfigError};
use crate::http::HttpSettings;
use crate::push::DeliverySettings;
use crate::server::ServerSettings;
use crate::store::{BatchSizing, DatabaseSettings, WriteMode, WriteSettings};
use crate::telemetry::LogFormat;

/// Most bytes of bodies one group commit may carry: a quarter of PostgreSQL's 1 GB limit on
/// one value (the batch's bodies are one array).
const MAX_BATCH_BYTES: u64 = 256 * 1_048_576;

pub(super) fn validate(raw: Raw) -> Result<Config, ConfigError> {
    let database = database(&raw)?;
    let signing = signing(
        &raw,
        " (the key shared with the provider; serve refuses to start without it)",
    )?;
    let http = http(&raw)?;
    let write = write(&raw, http.max_body_bytes, database.max_connections)?;
    Ok(Config {
        server: ServerSettings {
            listen: listen(&raw)?,
            max_connections: count("TXHOOK_MAX_CONNECTIONS", raw.max_connections, 1_000_000)?,
            drain: secs("TXHOOK_SHUTDOWN_TIMEOUT_SECS", raw.shutdown_timeout_secs)?,
        },
        log_format: parse_log_format(raw.log_format.clone())?,
        provider: provider(&raw, &signing, http.public_url.as_ref())?,
        stream: stream(&raw)?,
        delivery: DeliverySettings {
            max_age: duration("TXHOOK_DELIVERY_MAX_AGE", raw.delivery_max_age.clone())?,
            backoff_initial: millis(
                "TXHOOK_DELIVERY_BACKOFF_INITIAL_MS",
                raw.delivery_backoff_initial_ms,
                10,
            )?,
            per_destination: 16,
        },
        database,
        signing,
        http,
        write,
    })
}

fn database(raw: &Raw) -> Result<DatabaseSettings, ConfigError> {
    let url = non_empty_secret(raw.database_url.clone()).ok_or(ConfigError::Missing {
        var: "DATABASE_URL",
        hint: " (a postgres:// URL)",
    })?;
    // The URL may carry a password: the error names the problem, never the value.
    let parsed = url::Url::parse(url.expose_secret()).map_err(|e| ConfigError::Invalid {
        var: "DATABASE_URL",
        why: format!("not a URL ({e})"),
    })?;
    if !matches!(parsed.scheme(), "postgres" | "postgresql") {
        return Err(ConfigError::Invalid {
            var: "DATABASE_URL",
            why: "scheme must be postgres:// or postgresql://".into(),
        });
    }
    Ok(DatabaseSettings {
        url,
        max_connections: count("TXHOOK_DB_MAX_CONNECTIONS", raw.db_max_connections, 1000)? as u32,
        acquire_timeout: secs(
            "TXHOOK_DB_ACQUIRE_TIMEOUT_SECS",
            raw.db_acquire_timeout_secs,
        )?,
    })
}

fn http(raw: &Raw) -> Result<HttpSettings, ConfigError> {
    let admin_token = non_empty_secret(raw.admin_token.clone());
    if let Some(token) = &admin_token {
        check_secret("TXHOOK_ADMIN_TOKEN", token.expose_secret(), false)?;
    }
    let max_body_bytes = count("TXHOOK_MAX_BODY_BYTES", raw.max_body_bytes, u32::MAX.into())?;
    // Bodies are buffered before their signature is checked: this bounds what unverified
    // senders can make the server hold at once (one body at least).
    let max_unverified_bytes = defaulted("TXHOOK_MAX_UNVERIFIED_BYTES", raw.max_unverified_bytes)?;
    if max_unverified_bytes < max_body_bytes as u64 || max_unverified_bytes > u64::from(u32::MAX) {
        return Err(ConfigError::Invalid {
            var: "TXHOOK_MAX_UNVERIFIED_BYTES",
            why: format!(
                "must be from TXHOOK_MAX_BODY_BYTES ({max_body_bytes}) to {}",
                u32::MAX
            ),
        });
    }
    Ok(HttpSettings {
        public_url: non_empty(raw.public_url.clone())
            .map(|u| http_url("TXHOOK_PUBLIC_URL", &u))
            .transpose()?,
        admin_token,
        max_body_bytes,
        max_unverified_bytes: max_unverified_bytes as u32,
        request_timeout: secs("TXHOOK_REQUEST_TIMEOUT_SECS", raw.request_timeout_secs)?,
        store_timeout: secs("TXHOOK_STORE_TIMEOUT_SECS", raw.store_timeout_secs)?,
        projection_wait: secs("TXHOOK_PROJECTION_WAIT_SECS", raw.projection_wait_secs)?,
        max_concurrent_requests: count(
            "TXHOOK_MAX_CONCURRENT_REQUESTS",
            raw.max_concurrent_requests,
            1_000_000,
        )?,
    })
}

fn write(
    raw: &Raw,
    max_body_bytes: usize,
    db_max_connections: u32,
) -> Result<WriteSettings, ConfigError> {
    let mode = choice(
        "TXHOOK_WRITE_MODE",
        raw.write_mode.clone(),
        &[
            ("batched", WriteMode::Batched),
            ("single", WriteMode::Single),
        ],
    )?;
    let batch = BatchSizing {
        writers: count("TXHOOK_BATCH_WRITERS", raw.batch_writers, 64)?,
        max_batch: count("TXHOOK_BATCH_MAX", raw.batch_max, 10_000)?,
        queue_capacity: count("TXHOOK_QUEUE_CAPACITY", raw.queue_capacity, 1_000_000)?,
    };
    if mode == WriteMode::Batched {
        // A batch goes to PostgreSQL as one array of bodies: one value, which PostgreSQL caps
        // at 1 GB. Stay well inside it.
        if (max_body_bytes as u64).saturating_mul(batch.max_batch as u64) > MAX_BATCH_BYTES {
            return Err(ConfigError::Invalid {
                var: "TXHOOK_BATCH_MAX",
                why: format!(
                    "times TXHOOK_MAX_BODY_BYTES ({max_body_bytes}) must stay within {MAX_BATCH_BYTES} bytes (PostgreSQL takes at most 1 GB in one value)"
                ),
            });
        }
        if batch.writers as u32 >= db_max_connections {
            return Err(ConfigError::Invalid {
                var: "TXHOOK_BATCH_WRITERS",
                why: format!(
                    "must be below TXHOOK_DB_MAX_CONNECTIONS ({db_max_connections}): each writer holds a connection and readers need some too"
                ),
            });
        }
    }
    Ok(WriteSettings { mode, batch })
}

pub(super) fn listen(raw: &Raw) -> Result<SocketAddr, ConfigError> {
    let text = defaulted("TXHOOK_LISTEN", non_empty(raw.listen.clone()))?;
    text.parse().map_err(|_| ConfigError::Invalid {
        var: "TXHOOK_LISTEN",
        why: format!("{text:?} is not an address like 0.0.0.0:8080"),
    })
}

pub(super) fn parse_log_format(v: Option<String>) -> Result<LogFormat, ConfigError> {
    choice(
        "TXHOOK_LOG_FORMAT",
        // Read before the configuration (logging starts first): the default is here too.
        Some(non_empty(v).unwrap_or_else(|| "text".into())),
        &[("text", LogFormat::Text), ("json", LogFormat::Json)],
    )
}
