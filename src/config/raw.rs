//! Settings as read from `config.toml` and the environment, before validation.

use std::path::Path;

use secrecy::SecretString;
use serde::Deserialize;

use super::ConfigError;

/// Raw settings as read from `config.toml`, before validation. Field names are the lowercase
/// environment variable names without the `TXHOOK_` prefix.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct Raw {
    pub(super) database_url: Option<SecretString>,
    pub(super) listen: Option<String>,
    pub(super) public_url: Option<String>,
    pub(super) shared_key: Option<SecretString>,
    pub(super) previous_shared_keys: Option<SecretString>,
    pub(super) signature_scheme: Option<String>,
    pub(super) signature_header: Option<String>,
    pub(super) header_key: Option<String>,
    pub(super) header_value: Option<SecretString>,
    pub(super) provider_url: Option<String>,
    pub(super) allow_insecure_upstream: Option<bool>,
    pub(super) provider_api_key: Option<SecretString>,
    pub(super) admin_token: Option<SecretString>,
    pub(super) stream_url: Option<String>,
    pub(super) realm_key: Option<SecretString>,
    pub(super) stream_ping_interval_secs: Option<u64>,
    pub(super) stream_idle_timeout_secs: Option<u64>,
    pub(super) stream_backoff_initial_ms: Option<u64>,
    pub(super) stream_backoff_max_ms: Option<u64>,
    pub(super) max_body_bytes: Option<u64>,
    pub(super) max_unverified_bytes: Option<u64>,
    pub(super) projection_wait_secs: Option<u64>,
    pub(super) delivery_max_age: Option<String>,
    pub(super) delivery_backoff_initial_ms: Option<u64>,
    pub(super) write_mode: Option<String>,
    pub(super) log_format: Option<String>,
    pub(super) request_timeout_secs: Option<u64>,
    pub(super) store_timeout_secs: Option<u64>,
    pub(super) shutdown_timeout_secs: Option<u64>,
    pub(super) db_max_connections: Option<u64>,
    pub(super) db_acquire_timeout_secs: Option<u64>,
    pub(super) max_concurrent_requests: Option<u64>,
    pub(super) max_connections: Option<u64>,
    pub(super) batch_writers: Option<u64>,
    pub(super) batch_max: Option<u64>,
    pub(super) queue_capacity: Option<u64>,
    pub(super) register_backoff_ms: Option<u64>,
    pub(super) register_max_backoff_secs: Option<u64>,
}

impl Raw {
    /// Environment variables override the file. Values are taken as plain strings (a key that
    /// looks like a number stays a key); numbers are parsed with an error naming the variable.
    fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        fn num(var: &'static str, v: String) -> Result<u64, ConfigError> {
            v.trim().parse().map_err(|_| ConfigError::Invalid {
                var,
                why: format!("{:?} is not a whole number", v),
            })
        }
        fn flag(var: &'static str, v: String) -> Result<bool, ConfigError> {
            match v.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Ok(true),
                "false" | "0" | "no" | "" => Ok(false),
                _ => Err(ConfigError::Invalid {
                    var,
                    why: format!("{v:?} is not true or false"),
                }),
            }
        }
        let secret = |var: &str| env(var).map(SecretString::from);
        macro_rules! over {
            ($field:ident, $var:literal, text) => {
                if let Some(v) = env($var) {
                    self.$field = Some(v);
                }
            };
            ($field:ident, $var:literal, secret) => {
                if let Some(v) = secret($var) {
                    self.$field = Some(v);
                }
            };
            ($field:ident, $var:literal, flag) => {
                if let Some(v) = env($var) {
                    self.$field = Some(flag($var, v)?);
                }
            };
            ($field:ident, $var:literal, number) => {
                if let Some(v) = env($var) {
                    self.$field = Some(num($var, v)?);
                }
            };
        }
        over!(database_url, "DATABASE_URL", secret);
        over!(listen, "TXHOOK_LISTEN", text);
        over!(public_url, "TXHOOK_PUBLIC_URL", text);
        over!(shared_key, "TXHOOK_SHARED_KEY", secret);
        over!(previous_shared_keys, "TXHOOK_PREVIOUS_SHARED_KEYS", secret);
        over!(signature_scheme, "TXHOOK_SIGNATURE_SCHEME", text);
        over!(signature_header, "TXHOOK_SIGNATURE_HEADER", text);
        over!(header_key, "TXHOOK_HEADER_KEY", text);
        over!(header_value, "TXHOOK_HEADER_VALUE", secret);
        over!(provider_url, "TXHOOK_PROVIDER_URL", text);
        over!(
            allow_insecure_upstream,
            "TXHOOK_ALLOW_INSECURE_UPSTREAM",
            flag
        );
        over!(provider_api_key, "TXHOOK_PROVIDER_API_KEY", secret);
        over!(admin_token, "TXHOOK_ADMIN_TOKEN", secret);
        over!(stream_url, "TXHOOK_STREAM_URL", text);
        over!(realm_key, "TXHOOK_REALM_KEY", secret);
        over!(
            stream_ping_interval_secs,
            "TXHOOK_STREAM_PING_INTERVAL_SECS",
            number
        );
        over!(
            stream_idle_timeout_secs,
            "TXHOOK_STREAM_IDLE_TIMEOUT_SECS",
            number
        );
        over!(
            stream_backoff_initial_ms,
            "TXHOOK_STREAM_BACKOFF_INITIAL_MS",
            number
        );
        over!(
            stream_backoff_max_ms,
            "TXHOOK_STREAM_BACKOFF_MAX_MS",
            number
        );
        over!(max_body_bytes, "TXHOOK_MAX_BODY_BYTES", number);
        over!(max_unverified_bytes, "TXHOOK_MAX_UNVERIFIED_BYTES", number);
        over!(projection_wait_secs, "TXHOOK_PROJECTION_WAIT_SECS", number);
        over!(delivery_max_age, "TXHOOK_DELIVERY_MAX_AGE", text);
        over!(
            delivery_backoff_initial_ms,
            "TXHOOK_DELIVERY_BACKOFF_INITIAL_MS",
            number
        );
        over!(write_mode, "TXHOOK_WRITE_MODE", text);
        over!(log_format, "TXHOOK_LOG_FORMAT", text);
        over!(request_timeout_secs, "TXHOOK_REQUEST_TIMEOUT_SECS", number);
        over!(store_timeout_secs, "TXHOOK_STORE_TIMEOUT_SECS", number);
        over!(
            shutdown_timeout_secs,
            "TXHOOK_SHUTDOWN_TIMEOUT_SECS",
            number
        );
        over!(db_max_connections, "TXHOOK_DB_MAX_CONNECTIONS", number);
        over!(
            db_acquire_timeout_secs,
            "TXHOOK_DB_ACQUIRE_TIMEOUT_SECS",
            number
        );
        over!(
            max_concurrent_requests,
            "TXHOOK_MAX_CONCURRENT_REQUESTS",
            number
        );
        over!(max_connections, "TXHOOK_MAX_CONNECTIONS", number);
        over!(batch_writers, "TXHOOK_BATCH_WRITERS", number);
        over!(batch_max, "TXHOOK_BATCH_MAX", number);
        over!(queue_capacity, "TXHOOK_QUEUE_CAPACITY", number);
        over!(register_backoff_ms, "TXHOOK_REGISTER_BACKOFF_MS", number);
        over!(
            register_max_backoff_secs,
            "TXHOOK_REGISTER_MAX_BACKOFF_SECS",
            number
        );
        Ok(())
    }
}

/// `path` (or `./config.toml` when present), then the environment over it.
/// The shipped `config.toml`: every setting's default, in one place. The file a deployment
/// gives is laid over it, and the environment over both.
pub(super) const DEFAULTS: &str = include_str!("../../config.toml");

pub(super) fn read_raw(
    path: Option<&Path>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Raw, ConfigError> {
    read_raw_over(Some(DEFAULTS), path, env)
}

/// Like [`read_raw`], over `defaults` (the text of a config file) instead of the shipped ones;
/// `None`: over nothing, so that validation's own fallbacks show (a test compares the two).
pub(super) fn read_raw_over(
    defaults: Option<&str>,
    path: Option<&Path>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Raw, ConfigError> {
    let mut table = match defaults {
        Some(text) => parse("the built-in defaults", text)?,
        None => toml::Table::new(),
    };
    let file = match path {
        Some(p) => Some(p.to_path_buf()),
        None => Some(Path::new("config.toml").to_path_buf()).filter(|p| p.exists()),
    };
    if let Some(p) = file {
        let text = std::fs::read_to_string(&p)
            .map_err(|e| ConfigError::Load(format!("{}: {e}", p.display())))?;
        table.extend(parse(&p.display().to_string(), &text)?);
    }
    let mut raw: Raw = table.try_into().map_err(|e: toml::de::Error| {
        ConfigError::Load(format!("configuration: {}", e.message()))
    })?;
    raw.apply_env(env)?;
    Ok(raw)
}

/// A config file's settings. toml's messages quote the offending line, which may hold a
/// secret: only the first line of the message, which names the key and position, is kept.
fn parse(name: &str, text: &str) -> Result<toml::Table, ConfigError> {
    text.parse::<toml::Table>()
        .map_err(|e| ConfigError::Load(format!("{name}: {}", e.message())))
}
