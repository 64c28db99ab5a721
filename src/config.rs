//! All settings in one place: embedded defaults, then `config.toml`, then the environment.
//!
//! Every field is validated once at start; a missing or invalid setting fails with a message
//! naming the environment variable that sets it. Secrets live in [`SecretString`], whose
//! `Debug` prints `[REDACTED]`, and are never part of an error message.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::store::BatchOptions;
use crate::verify::{Keys, Scheme, StaticHeader};

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

/// Raw settings as read from `config.toml`, before validation. Field names are the lowercase
/// environment variable names without the `TXHOOK_` prefix.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Raw {
    database_url: Option<SecretString>,
    listen: Option<String>,
    public_url: Option<String>,
    shared_key: Option<SecretString>,
    previous_shared_keys: Option<SecretString>,
    signature_scheme: Option<String>,
    signature_header: Option<String>,
    header_key: Option<String>,
    header_value: Option<SecretString>,
    provider_url: Option<String>,
    provider_api_key: Option<SecretString>,
    admin_token: Option<SecretString>,
    stream_url: Option<String>,
    realm_key: Option<SecretString>,
    stream_ping_interval_secs: Option<u64>,
    stream_idle_timeout_secs: Option<u64>,
    stream_backoff_initial_ms: Option<u64>,
    stream_backoff_max_ms: Option<u64>,
    max_body_bytes: Option<u64>,
    write_mode: Option<String>,
    log_format: Option<String>,
    request_timeout_secs: Option<u64>,
    store_timeout_secs: Option<u64>,
    shutdown_timeout_secs: Option<u64>,
    db_max_connections: Option<u64>,
    db_acquire_timeout_secs: Option<u64>,
    max_concurrent_requests: Option<u64>,
    batch_writers: Option<u64>,
    batch_max: Option<u64>,
    queue_capacity: Option<u64>,
    register_backoff_ms: Option<u64>,
    register_max_backoff_secs: Option<u64>,
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
    /// How callbacks are committed.
    pub write_mode: WriteMode,
    /// Log format.
    pub log_format: LogFormat,
    /// Time allowed to receive a request body and answer it.
    pub request_timeout: Duration,
    /// Time allowed for the database work of one callback before answering 503.
    pub store_timeout: Duration,
    /// Time allowed to drain in-flight requests on shutdown.
    pub shutdown_timeout: Duration,
    /// Requests (other than health, readiness and metrics) handled at once; beyond it the
    /// answer is 503 with `Retry-After` at once.
    pub max_concurrent_requests: usize,
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
pub struct ClientConfig {
    /// Address the local server listens on (the default target of `send`).
    pub listen: SocketAddr,
    pub scheme: Scheme,
    pub keys: Keys,
    pub static_header: Option<StaticHeader>,
}

/// The signing settings, shared by the receiver (verifies) and `send` (signs).
struct Signing {
    scheme: Scheme,
    keys: Keys,
    shared_key: SecretString,
    static_header: Option<StaticHeader>,
}

/// Loads the configuration: `path` (or `./config.toml` when present), then the environment.
pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
    load_with(path, |var| std::env::var(var).ok())
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
pub fn load_client(path: Option<&Path>) -> Result<ClientConfig, ConfigError> {
    load_client_with(path, |var| std::env::var(var).ok())
}

/// Like [`load_client`], with the environment given as a function.
pub fn load_client_with(
    path: Option<&Path>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<ClientConfig, ConfigError> {
    let raw = read_raw(path, env)?;
    let signing = signing(&raw, " (send signs callbacks with it)")?;
    Ok(ClientConfig {
        listen: listen(&raw)?,
        scheme: signing.scheme,
        keys: signing.keys,
        static_header: signing.static_header,
    })
}

/// `path` (or `./config.toml` when present), then the environment over it.
fn read_raw(path: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> Result<Raw, ConfigError> {
    let file = match path {
        Some(p) => Some(p.to_path_buf()),
        None => Some(Path::new("config.toml").to_path_buf()).filter(|p| p.exists()),
    };
    let mut raw = match file {
        Some(p) => {
            let text = std::fs::read_to_string(&p)
                .map_err(|e| ConfigError::Load(format!("{}: {e}", p.display())))?;
            // toml's messages quote the offending line, which may hold a secret: keep only
            // the first line of the message, which names the key and position.
            toml::from_str(&text).map_err(|e: toml::de::Error| {
                ConfigError::Load(format!("{}: {}", p.display(), e.message()))
            })?
        }
        None => Raw::default(),
    };
    raw.apply_env(env)?;
    Ok(raw)
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// A secret without surrounding whitespace (a key pasted with a newline would otherwise never
/// match, and HTTP strips it from header values), or `None` when blank.
fn non_empty_secret(s: Option<SecretString>) -> Option<SecretString> {
    s.map(|v| SecretString::from(v.expose_secret().trim().to_owned()))
        .filter(|v| !v.expose_secret().is_empty())
}

fn validate(raw: Raw) -> Result<Config, ConfigError> {
    let database_url = non_empty_secret(raw.database_url.clone()).ok_or(ConfigError::Missing {
        var: "DATABASE_URL",
        hint: " (a postgres:// URL)",
    })?;
    // The URL may carry a password: the error names the problem, never the value.
    let db = url::Url::parse(database_url.expose_secret()).map_err(|e| ConfigError::Invalid {
        var: "DATABASE_URL",
        why: format!("not a URL ({e})"),
    })?;
    if !matches!(db.scheme(), "postgres" | "postgresql") {
        return Err(ConfigError::Invalid {
            var: "DATABASE_URL",
            why: "scheme must be postgres:// or postgresql://".into(),
        });
    }

    let listen = listen(&raw)?;
    let Signing {
        scheme,
        keys,
        shared_key,
        static_header,
    } = signing(
        &raw,
        " (the key shared with the provider; serve refuses to start without it)",
    )?;

    let public_url = non_empty(raw.public_url)
        .map(|u| http_url("TXHOOK_PUBLIC_URL", &u))
        .transpose()?;
    let provider_url = non_empty(raw.provider_url)
        .map(|u| http_url("TXHOOK_PROVIDER_URL", &u))
        .transpose()?;
    if provider_url.is_some() && public_url.is_none() {
        return Err(ConfigError::Missing {
            var: "TXHOOK_PUBLIC_URL",
            hint: " when TXHOOK_PROVIDER_URL is set (it forms the callbackUrl)",
        });
    }

    let stream_s =
        non_empty(raw.stream_url).unwrap_or_else(|| "wss://stream.orangepill.cloud".into());
    let stream_url = url::Url::parse(&stream_s)
        .ok()
        .filter(|u| matches!(u.scheme(), "ws" | "wss"))
        .ok_or_else(|| ConfigError::Invalid {
            var: "TXHOOK_STREAM_URL",
            why: format!("{stream_s:?} is not a ws:// or wss:// URL"),
        })?;

    let stream_ping_interval = secs(
        "TXHOOK_STREAM_PING_INTERVAL_SECS",
        raw.stream_ping_interval_secs,
        15,
    )?;
    let stream_idle_timeout = secs(
        "TXHOOK_STREAM_IDLE_TIMEOUT_SECS",
        raw.stream_idle_timeout_secs,
        45,
    )?;
    if stream_idle_timeout <= stream_ping_interval {
        return Err(ConfigError::Invalid {
            var: "TXHOOK_STREAM_IDLE_TIMEOUT_SECS",
            why: "must be longer than TXHOOK_STREAM_PING_INTERVAL_SECS".into(),
        });
    }
    let stream_backoff_initial =
        Duration::from_millis(raw.stream_backoff_initial_ms.unwrap_or(500));
    let stream_backoff_max = Duration::from_millis(raw.stream_backoff_max_ms.unwrap_or(30_000));
    if stream_backoff_initial < Duration::from_millis(10) {
        return Err(ConfigError::Invalid {
            var: "TXHOOK_STREAM_BACKOFF_INITIAL_MS",
            why: "must be at least 10 (no reconnect loop without a pause)".into(),
        });
    }
    if stream_backoff_max < stream_backoff_initial {
        return Err(ConfigError::Invalid {
            var: "TXHOOK_STREAM_BACKOFF_MAX_MS",
            why: "must be at least TXHOOK_STREAM_BACKOFF_INITIAL_MS".into(),
        });
    }

    let max_body_bytes = raw.max_body_bytes.unwrap_or(1_048_576) as usize;
    if max_body_bytes == 0 {
        return Err(ConfigError::Invalid {
            var: "TXHOOK_MAX_BODY_BYTES",
            why: "must be greater than 0".into(),
        });
    }

    let write_mode = match non_empty(raw.write_mode).as_deref().unwrap_or("batched") {
        "batched" => WriteMode::Batched,
        "single" => WriteMode::Single,
        other => {
            return Err(ConfigError::Invalid {
                var: "TXHOOK_WRITE_MODE",
                why: format!("{other:?} is not one of: batched, single"),
            });
        }
    };
    let log_format = parse_log_format(non_empty(raw.log_format).as_deref())?;
    let db_max_connections = raw.db_max_connections.unwrap_or(16).clamp(1, 1000) as u32;
    let batch = BatchOptions {
        writers: count("TXHOOK_BATCH_WRITERS", raw.batch_writers, 4, 64)?,
        max_batch: count("TXHOOK_BATCH_MAX", raw.batch_max, 256, 10_000)?,
        queue_capacity: count("TXHOOK_QUEUE_CAPACITY", raw.queue_capacity, 2048, 1_000_000)?,
    };
    if write_mode == WriteMode::Batched && batch.writers as u32 >= db_max_connections {
        return Err(ConfigError::Invalid {
            var: "TXHOOK_BATCH_WRITERS",
            why: format!(
                "must be below TXHOOK_DB_MAX_CONNECTIONS ({db_max_connections}): each writer holds a connection and readers need some too"
            ),
        });
    }

    Ok(Config {
        database_url,
        listen,
        public_url,
        scheme,
        keys,
        shared_key,
        static_header,
        header_key: non_empty(raw.header_key.clone()),
        provider_url,
        provider_api_key: non_empty_secret(raw.provider_api_key),
        admin_token: non_empty_secret(raw.admin_token),
        stream_url,
        realm_key: non_empty_secret(raw.realm_key),
        stream_ping_interval,
        stream_idle_timeout,
        stream_backoff_initial,
        stream_backoff_max,
        max_body_bytes,
        write_mode,
        log_format,
        request_timeout: secs("TXHOOK_REQUEST_TIMEOUT_SECS", raw.request_timeout_secs, 10)?,
        store_timeout: secs("TXHOOK_STORE_TIMEOUT_SECS", raw.store_timeout_secs, 5)?,
        shutdown_timeout: secs(
            "TXHOOK_SHUTDOWN_TIMEOUT_SECS",
            raw.shutdown_timeout_secs,
            25,
        )?,
        max_concurrent_requests: count(
            "TXHOOK_MAX_CONCURRENT_REQUESTS",
            raw.max_concurrent_requests,
            1024,
            1_000_000,
        )?,
        db_max_connections,
        db_acquire_timeout: secs(
            "TXHOOK_DB_ACQUIRE_TIMEOUT_SECS",
            raw.db_acquire_timeout_secs,
            3,
        )?,
        batch,
        register_backoff: Duration::from_millis(raw.register_backoff_ms.unwrap_or(1000).max(1)),
        register_max_backoff: secs(
            "TXHOOK_REGISTER_MAX_BACKOFF_SECS",
            raw.register_max_backoff_secs,
            300,
        )?,
    })
}

fn listen(raw: &Raw) -> Result<SocketAddr, ConfigError> {
    let listen_s = non_empty(raw.listen.clone()).unwrap_or_else(|| "0.0.0.0:8080".into());
    listen_s.parse().map_err(|_| ConfigError::Invalid {
        var: "TXHOOK_LISTEN",
        why: format!("{listen_s:?} is not an address like 0.0.0.0:8080"),
    })
}

/// Scheme, keys and static header. `hint` says, when the key is missing, who needs it.
fn signing(raw: &Raw, hint: &'static str) -> Result<Signing, ConfigError> {
    let scheme_s = non_empty(raw.signature_scheme.clone()).unwrap_or_else(|| "hmac-sha256".into());
    let header = non_empty(raw.signature_header.clone()).unwrap_or_else(|| "X-Hubpay-Hmac".into());
    let scheme = Scheme::parse(&scheme_s, &header).map_err(|why| ConfigError::Invalid {
        var: "TXHOOK_SIGNATURE_SCHEME",
        why,
    })?;

    let shared_key = non_empty_secret(raw.shared_key.clone()).ok_or(ConfigError::Missing {
        var: "TXHOOK_SHARED_KEY",
        hint,
    })?;
    let previous: Vec<SecretString> = raw
        .previous_shared_keys
        .as_ref()
        .map(|s| {
            s.expose_secret()
                .split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(|k| SecretString::from(k.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let keys = Keys::new(&scheme, shared_key.clone(), previous)
        .map_err(|(var, why)| ConfigError::Invalid { var, why })?;

    let static_header = match (
        non_empty(raw.header_key.clone()),
        non_empty_secret(raw.header_value.clone()),
    ) {
        (None, None) => None,
        (Some(name), Some(value)) => {
            Some(
                StaticHeader::new(&name, value).map_err(|why| ConfigError::Invalid {
                    var: "TXHOOK_HEADER_KEY",
                    why,
                })?,
            )
        }
        (Some(_), None) => {
            return Err(ConfigError::Missing {
                var: "TXHOOK_HEADER_VALUE",
                hint: " when TXHOOK_HEADER_KEY is set",
            });
        }
        (None, Some(_)) => {
            return Err(ConfigError::Missing {
                var: "TXHOOK_HEADER_KEY",
                hint: " when TXHOOK_HEADER_VALUE is set",
            });
        }
    };
    Ok(Signing {
        scheme,
        keys,
        shared_key,
        static_header,
    })
}

/// Log format from the environment alone: logging starts before the configuration loads, so
/// that configuration errors are logged too.
pub fn log_format_from_env() -> Result<LogFormat, ConfigError> {
    parse_log_format(non_empty(std::env::var("TXHOOK_LOG_FORMAT").ok()).as_deref())
}

fn parse_log_format(s: Option<&str>) -> Result<LogFormat, ConfigError> {
    match s.unwrap_or("text") {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        other => Err(ConfigError::Invalid {
            var: "TXHOOK_LOG_FORMAT",
            why: format!("{other:?} is not one of: text, json"),
        }),
    }
}

fn count(var: &'static str, v: Option<u64>, default: u64, max: u64) -> Result<usize, ConfigError> {
    match v.unwrap_or(default) {
        n if (1..=max).contains(&n) => Ok(n as usize),
        _ => Err(ConfigError::Invalid {
            var,
            why: format!("must be from 1 to {max}"),
        }),
    }
}

fn secs(var: &'static str, v: Option<u64>, default: u64) -> Result<Duration, ConfigError> {
    match v.unwrap_or(default) {
        0 => Err(ConfigError::Invalid {
            var,
            why: "must be at least 1 second".into(),
        }),
        s => Ok(Duration::from_secs(s)),
    }
}

fn http_url(var: &'static str, s: &str) -> Result<url::Url, ConfigError> {
    let u = url::Url::parse(s).map_err(|e| ConfigError::Invalid {
        var,
        why: format!("{s:?} is not an absolute URL ({e})"),
    })?;
    if !matches!(u.scheme(), "http" | "https") || u.host().is_none() {
        return Err(ConfigError::Invalid {
            var,
            why: format!("{s:?} must be an absolute http:// or https:// URL"),
        });
    }
    Ok(u)
}
