//! Settings as read from `config.toml` and the environment, before validation.

use std::path::Path;

use secrecy::SecretString;
use serde::Deserialize;

use super::ConfigError;

/// Declares every setting once: its key in `config.toml` (the environment variable's name in
/// lowercase, without `TXHOOK_`), its variable, and how its text reads. From the one list come
/// [`Raw`], the environment layer and [`SETTINGS`].
macro_rules! settings {
    ($($field:ident: $kind:ident = $var:literal,)*) => {
        /// Raw settings as read from `config.toml` and the environment, before validation.
        #[derive(Debug, Default, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub(super) struct Raw {
            $(pub(super) $field: Option<settings!(@type $kind)>,)*
        }

        /// Every setting: its key in `config.toml` and its environment variable.
        pub const SETTINGS: &[(&str, &str)] = &[$((stringify!($field), $var),)*];

        impl Raw {
            /// Environment variables override the file. Values are taken as plain strings (a
            /// key that looks like a number stays a key); numbers and flags are parsed with an
            /// error naming the variable.
            fn apply_env(
                &mut self,
                env: impl Fn(&str) -> Option<String>,
            ) -> Result<(), ConfigError> {
                $(if let Some(v) = env($var) {
                    self.$field = Some(settings!(@read $kind, $var, v));
                })*
                Ok(())
            }
        }
    };
    (@type text) => { String };
    (@type secret) => { SecretString };
    (@type flag) => { bool };
    (@type number) => { u64 };
    (@read text, $var:literal, $v:ident) => { $v };
    (@read secret, $var:literal, $v:ident) => { SecretString::from($v) };
    (@read flag, $var:literal, $v:ident) => { flag($var, $v)? };
    (@read number, $var:literal, $v:ident) => { number($var, $v)? };
}

settings! {
    database_url: secret = "DATABASE_URL",
    listen: text = "TXHOOK_LISTEN",
    public_url: text = "TXHOOK_PUBLIC_URL",
    shared_key: secret = "TXHOOK_SHARED_KEY",
    previous_shared_keys: secret = "TXHOOK_PREVIOUS_SHARED_KEYS",
    signature_scheme: text = "TXHOOK_SIGNATURE_SCHEME",
    signature_header: text = "TXHOOK_SIGNATURE_HEADER",
    header_key: text = "TXHOOK_HEADER_KEY",
    header_value: secret = "TXHOOK_HEADER_VALUE",
    provider_url: text = "TXHOOK_PROVIDER_URL",
    allow_insecure_upstream: flag = "TXHOOK_ALLOW_INSECURE_UPSTREAM",
    provider_api_key: secret = "TXHOOK_PROVIDER_API_KEY",
    register_backoff_ms: number = "TXHOOK_REGISTER_BACKOFF_MS",
    register_max_backoff_secs: number = "TXHOOK_REGISTER_MAX_BACKOFF_SECS",
    admin_token: secret = "TXHOOK_ADMIN_TOKEN",
    stream_url: text = "TXHOOK_STREAM_URL",
    realm_key: secret = "TXHOOK_REALM_KEY",
    stream_ping_interval_secs: number = "TXHOOK_STREAM_PING_INTERVAL_SECS",
    stream_idle_timeout_secs: number = "TXHOOK_STREAM_IDLE_TIMEOUT_SECS",
    stream_backoff_initial_ms: number = "TXHOOK_STREAM_BACKOFF_INITIAL_MS",
    stream_backoff_max_ms: number = "TXHOOK_STREAM_BACKOFF_MAX_MS",
    max_body_bytes: number = "TXHOOK_MAX_BODY_BYTES",
    max_unverified_bytes: number = "TXHOOK_MAX_UNVERIFIED_BYTES",
    projection_wait_secs: number = "TXHOOK_PROJECTION_WAIT_SECS",
    delivery_max_age: text = "TXHOOK_DELIVERY_MAX_AGE",
    delivery_backoff_initial_ms: number = "TXHOOK_DELIVERY_BACKOFF_INITIAL_MS",
    write_mode: text = "TXHOOK_WRITE_MODE",
    log_format: text = "TXHOOK_LOG_FORMAT",
    request_timeout_secs: number = "TXHOOK_REQUEST_TIMEOUT_SECS",
    store_timeout_secs: number = "TXHOOK_STORE_TIMEOUT_SECS",
    shutdown_timeout_secs: number = "TXHOOK_SHUTDOWN_TIMEOUT_SECS",
    db_max_connections: number = "TXHOOK_DB_MAX_CONNECTIONS",
    db_acquire_timeout_secs: number = "TXHOOK_DB_ACQUIRE_TIMEOUT_SECS",
    max_concurrent_requests: number = "TXHOOK_MAX_CONCURRENT_REQUESTS",
    max_connections: number = "TXHOOK_MAX_CONNECTIONS",
    batch_writers: number = "TXHOOK_BATCH_WRITERS",
    batch_max: number = "TXHOOK_BATCH_MAX",
    queue_capacity: number = "TXHOOK_QUEUE_CAPACITY",
}

fn number(var: &'static str, v: String) -> Result<u64, ConfigError> {
    v.trim().parse().map_err(|_| ConfigError::Invalid {
        var,
        why: format!("{v:?} is not a whole number"),
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

/// The shipped `config.toml`: every setting's default, in one place. The file a deployment
/// gives is laid over it, and the environment over both.
pub(super) const DEFAULTS: &str = include_str!("../../config.toml");

/// The built-in defaults, then `path` (or `./config.toml` when present), then the environment.
pub(super) fn read_raw(
    path: Option<&Path>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Raw, ConfigError> {
    read_raw_over(DEFAULTS, path, env)
}

/// Like [`read_raw`], over `defaults` (the text of a config file) instead of the shipped ones.
pub(super) fn read_raw_over(
    defaults: &str,
    path: Option<&Path>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Raw, ConfigError> {
    let mut table = parse("the built-in defaults", defaults)?;
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
