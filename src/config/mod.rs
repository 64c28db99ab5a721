//! All settings in one place: embedded defaults, then `config.toml`, then the environment.
//!
//! Every field is validated once at start; a missing or invalid setting fails with a message
//! naming the environment variable that sets it. Secrets live in [`SecretString`], whose
//! `Debug` prints `[REDACTED]`, and are never part of an error message.
//!
//! [`raw`] reads the file and the environment; [`validate`] turns that into [`Config`].

mod check;
mod raw;
mod secrets;
mod upstream;
mod validate;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use secrecy::SecretString;

use crate::store::BatchOptions;
use crate::verify::{Keys, Scheme, StaticHeader};
use raw::read_raw;
pub use secrets::MIN_SECRET_BYTES;
pub use upstream::{redacted as redacted_url, redacted_text as redacted_url_text};
use validate::{listen, parse_log_format, signing, validate};

/// A configuration problem, reported before anything starts.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration: {0}")]
    Load(String),
    #[error("{var} is required{hint}")]
    Missing {
        var: &'static str,
        hint: &'static str,
    },
    #[error("{var} is invalid: {why}")]
    Invalid { var: &'static str, why: String },
}

/// How callbacks are written to PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// One database transaction per request: the reference path.
    Single,
    /// Group commit: concurrent callbacks share a database transaction.
    Batched,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// PostgreSQL connection URL (may hold a password, hence secret).
    pub database_url: SecretString,
    /// Address the HTTP server binds.
    pub listen: SocketAddr,
    /// Base URL the provider can reach; `callbackUrl` is this plus `/webhooks/transactions`.
    pub public_url: Option<url::Url>,
    /// Signature scheme, keys (current first, then previous) and the signature header.
    pub scheme: Scheme,
    /// Keys that verify callbacks; the first is the current one.
    pub keys: Keys,
    /// The current shared key as configured: the `sharedKey` sent when registering.
    pub shared_key: SecretString,
    /// Static header required on every callback, when configured.
    pub static_header: Option<StaticHeader>,
    /// The static header's name as configured: the `headerKey` sent when registering
    /// (header names compare case-insensitively, but the provider gets the spelling given).
    pub header_key: Option<String>,
    /// Provider API base URL; registration runs when set.
    pub provider_url: Option<url::Url>,
    /// Bearer credential for provider API calls.
    pub provider_api_key: Option<SecretString>,
    /// Bearer token of the read API; without it the read API refuses everyone.
    pub admin_token: Option<SecretString>,
    /// Orangepill stream URL.
    pub stream_url: url::Url,
    /// Realm key; stream ingestion runs when set.
    pub realm_key: Option<SecretString>,
    /// How often the stream client pings the server (keepalive).
    pub stream_ping_interval: Duration,
    /// No frame (event, pong, anything) for this long: the connection is dropped and made
    /// again. Longer than the ping interval.
    pub stream_idle_timeout: Duration,
    /// First reconnect delay; it doubles per failed attempt, up to the cap.
    pub stream_backoff_initial: Duration,
    /// Largest reconnect delay.
    pub stream_backoff_max: Duration,
    /// Largest callback body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Bytes of callback bodies held at once before their signature is checked; beyond it
    /// the answer is 503 with `Retry-After`.
    pub max_unverified_bytes: u32,
    /// How callbacks are committed.
    pub write_mode: WriteMode,
    /// Log format.
    pub log_format: LogFormat,
    /// Time allowed to receive a request body and answer it.
    pub request_timeout: Duration,
    /// Time allowed for the database work of one callback before answering 503.
    pub store_timeout: Duration,
    /// Deliveries to destinations: how long to keep trying, how soon to retry.
    pub delivery: crate::push::DeliveryOptions,
    /// Longest a read of derived state (transactions, history) waits for the projection to
    /// reach every callback acknowledged before it; then 503 `projection_stalled`.
    pub projection_wait: Duration,
    /// Time allowed to drain in-flight requests on shutdown.
    pub shutdown_timeout: Duration,
    /// Requests (other than health, readiness and metrics) handled at once; beyond it the
    /// answer is 503 with `Retry-After` at once.
    pub max_concurrent_requests: usize,
    /// Connections open at once; beyond it a new connection is closed as it is accepted, so
    /// that clients cannot run the process out of file descriptors.
    pub max_connections: usize,
    /// Size of the PostgreSQL connection pool.
    pub db_max_connections: u32,
    /// How long a request waits for a pooled connection.
    pub db_acquire_timeout: Duration,
    /// Group commit sizing (write mode `batched`).
    pub batch: BatchOptions,
    /// First wait between registration attempts; it doubles (with jitter) after each.
    pub register_backoff: Duration,
    /// Longest wait between registration attempts.
    pub register_max_backoff: Duration,
}

/// What the `send` dev tool needs: how to sign, and where the local server listens.
#[derive(Debug, Clone)]
pub struct SigningConfig {
    /// Address the local server listens on (the default target of `send`).
    pub listen: SocketAddr,
    pub scheme: Scheme,
    pub keys: Keys,
    pub static_header: Option<StaticHeader>,
}

/// Loads the configuration: `path` (or `./config.toml` when present), then the environment.
pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
    load_with(path, |var| std::env::var(var).ok())
}

/// Every problem of the configuration at `path` and the environment, or the configuration.
pub fn check(path: Option<&Path>) -> Result<Config, Vec<ConfigError>> {
    check::check(path, |var| std::env::var(var).ok())
}

/// Like [`load`], with the environment given as a function (tests pass their own).
pub fn load_with(
    path: Option<&Path>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    validate(read_raw(path, env)?)
}

/// The lighter configuration of `send`: no database, only the signing settings (the shared
/// key is still required: `send` signs with it).
pub fn load_client(path: Option<&Path>) -> Result<SigningConfig, ConfigError> {
    load_client_with(path, |var| std::env::var(var).ok())
}

/// Like [`load_client`], with the environment given as a function.
pub fn load_client_with(
    path: Option<&Path>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<SigningConfig, ConfigError> {
    let raw = read_raw(path, env)?;
    let signing = signing(&raw, " (send signs callbacks with it)")?;
    Ok(SigningConfig {
        listen: listen(&raw)?,
        scheme: signing.scheme,
        keys: signing.keys,
        static_header: signing.static_header,
    })
}

/// Log format from the environment alone: logging starts before the configuration loads, so
/// that configuration errors are logged too.
pub fn log_format_from_env() -> Result<LogFormat, ConfigError> {
    parse_log_format(non_empty_env("TXHOOK_LOG_FORMAT").as_deref())
}

fn non_empty_env(var: &str) -> Option<String> {
    std::env::var(var)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loads the shipped `config.toml` with `vars` (and a database URL and key) set.
    fn load_shipped(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml");
        load_with(Some(&file), |var| match var {
            "DATABASE_URL" => Some("postgres://txhook@127.0.0.1:1/unused".into()),
            "TXHOOK_SHARED_KEY" => Some("a-shared-key-of-some-length-8c1e".into()),
            _ => vars
                .iter()
                .find(|(v, _)| *v == var)
                .map(|(_, value)| (*value).to_owned()),
        })
    }

    fn refused(vars: &[(&str, &str)]) -> String {
        load_shipped(vars)
            .expect_err(&format!("{vars:?} was accepted"))
            .to_string()
    }

    /// The shipped `config.toml` is the one source of defaults (it is built in); the
    /// fallbacks in validation must say the same, or a setting's default would depend on
    /// whether the file was read.
    #[test]
    fn the_built_in_defaults_and_validations_fallbacks_agree() {
        let env = |var: &str| match var {
            "DATABASE_URL" => Some("postgres://txhook@127.0.0.1:1/unused".to_owned()),
            "TXHOOK_SHARED_KEY" => Some("a-shared-key-of-some-length-8c1e".to_owned()),
            _ => None,
        };
        let empty = std::env::temp_dir().join(format!(
            "txhook-config-defaults-{}.toml",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::write(&empty, "").unwrap();
        let from_file =
            validate(raw::read_raw_over(Some(raw::DEFAULTS), Some(&empty), env).unwrap()).unwrap();
        let from_fallbacks =
            validate(raw::read_raw_over(None, Some(&empty), env).unwrap()).unwrap();
        let _ = std::fs::remove_file(&empty);
        assert_eq!(format!("{from_file:#?}"), format!("{from_fallbacks:#?}"));
    }

    #[test]
    fn a_file_overrides_the_built_in_defaults_and_the_environment_overrides_both() {
        let file = std::env::temp_dir().join(format!(
            "txhook-config-layers-{}.toml",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::write(&file, "batch_max = 32\nbatch_writers = 3\n").unwrap();
        let config = load_with(Some(&file), |var| match var {
            "DATABASE_URL" => Some("postgres://txhook@127.0.0.1:1/unused".to_owned()),
            "TXHOOK_SHARED_KEY" => Some("a-shared-key-of-some-length-8c1e".to_owned()),
            "TXHOOK_BATCH_WRITERS" => Some("4".to_owned()),
            _ => None,
        })
        .unwrap();
        let _ = std::fs::remove_file(&file);
        assert_eq!(config.batch.max_batch, 32);
        assert_eq!(config.batch.writers, 4);
        assert_eq!(
            config.batch.queue_capacity, 2048,
            "from the built-in defaults"
        );
    }

    #[test]
    fn batches_whose_bodies_could_pass_postgresqls_value_limit_are_refused() {
        assert!(load_shipped(&[]).is_ok());
        let err = refused(&[("TXHOOK_MAX_BODY_BYTES", "16777216")]);
        assert!(err.contains("TXHOOK_BATCH_MAX"), "{err}");
        // One transaction per callback has no batch to bound.
        let single = load_shipped(&[
            ("TXHOOK_MAX_BODY_BYTES", "16777216"),
            ("TXHOOK_MAX_UNVERIFIED_BYTES", "67108864"),
            ("TXHOOK_WRITE_MODE", "single"),
        ]);
        assert!(single.is_ok());
    }

    #[test]
    fn the_unverified_byte_budget_holds_at_least_one_body() {
        let err = refused(&[
            ("TXHOOK_MAX_BODY_BYTES", "4096"),
            ("TXHOOK_MAX_UNVERIFIED_BYTES", "4095"),
        ]);
        assert!(err.contains("TXHOOK_MAX_UNVERIFIED_BYTES"), "{err}");
    }
}
