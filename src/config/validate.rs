//! Turning raw settings into a [`Config`], naming the variable of anything missing or invalid.

use std::net::SocketAddr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::raw::Raw;
use super::secrets::check_secret;
use super::upstream::{redacted_text, require_encrypted};
use super::{Config, ConfigError, LogFormat, WriteMode};
use crate::push::DeliveryOptions;
use crate::store::BatchOptions;
use crate::verify::{Keys, Scheme, StaticHeader};

/// Most bytes of bodies one group commit may carry: a quarter of PostgreSQL's 1 GB limit on
/// one value (the batch's bodies are one array).
const MAX_BATCH_BYTES: u64 = 256 * 1_048_576;

/// The signing settings, shared by the receiver (verifies) and `send` (signs).
pub(super) struct Signing {
    pub scheme: Scheme,
    pub keys: Keys,
    pub shared_key: SecretString,
    pub static_header: Option<StaticHeader>,
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

pub(super) fn validate(raw: Raw) -> Result<Config, ConfigError> {
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
    let admin_token = non_empty_secret(raw.admin_token.clone());
    if let Some(token) = &admin_token {
        check_secret("TXHOOK_ADMIN_TOKEN", token.expose_secret(), false)?;
    }
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
    let allow_insecure = raw.allow_insecure_upstream.unwrap_or(false);
    if let Some(u) = &provider_url {
        require_encrypted("TXHOOK_PROVIDER_URL", u, "https", allow_insecure)?;
    }
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
            why: format!(
                "{:?} is not a ws:// or wss:// URL",
                redacted_text(&stream_s)
            ),
        })?;
    require_encrypted("TXHOOK_STREAM_URL", &stream_url, "wss", allow_insecure)?;

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

    // Bodies are buffered before their signature is checked: this bounds what unverified
    // senders can make the server hold at once (one body at least).
    let max_unverified_bytes = raw.max_unverified_bytes.unwrap_or(64 * 1_048_576);
    if max_unverified_bytes < max_body_bytes as u64 || max_unverified_bytes > u64::from(u32::MAX) {
        return Err(ConfigError::Invalid {
            var: "TXHOOK_MAX_UNVERIFIED_BYTES",
            why: format!(
                "must be from TXHOOK_MAX_BODY_BYTES ({max_body_bytes}) to {}",
                u32::MAX
            ),
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
        // Two writers: one batch fills while the other commits; more make smaller batches on
        // a database that is busy already. Batches of at most 64 keep the wait short with no
        // loss of throughput. Both measured with scripts/bench.sh (docs/throughput.md).
        writers: count("TXHOOK_BATCH_WRITERS", raw.batch_writers, 2, 64)?,
        max_batch: count("TXHOOK_BATCH_MAX", raw.batch_max, 64, 10_000)?,
        queue_capacity: count("TXHOOK_QUEUE_CAPACITY", raw.queue_capacity, 2048, 1_000_000)?,
    };
    // A batch goes to PostgreSQL as one array of bodies: one value, which PostgreSQL caps
    // at 1 GB. Stay well inside it.
    if write_mode == WriteMode::Batched
        && (max_body_bytes as u64).saturating_mul(batch.max_batch as u64) > MAX_BATCH_BYTES
    {
        return Err(ConfigError::Invalid {
            var: "TXHOOK_BATCH_MAX",
            why: format!(
                "times TXHOOK_MAX_BODY_BYTES ({max_body_bytes}) must stay within {MAX_BATCH_BYTES} bytes (PostgreSQL takes at most 1 GB in one value)"
            ),
        });
    }
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
        admin_token,
        stream_url,
        realm_key: non_empty_secret(raw.realm_key),
        stream_ping_interval,
        stream_idle_timeout,
        stream_backoff_initial,
        stream_backoff_max,
        max_body_bytes,
        max_unverified_bytes: max_unverified_bytes as u32,
        write_mode,
        log_format,
        request_timeout: secs("TXHOOK_REQUEST_TIMEOUT_SECS", raw.request_timeout_secs, 10)?,
        store_timeout: secs("TXHOOK_STORE_TIMEOUT_SECS", raw.store_timeout_secs, 5)?,
        delivery: DeliveryOptions {
            max_age: duration(
                "TXHOOK_DELIVERY_MAX_AGE",
                raw.delivery_max_age.as_deref(),
                Duration::from_secs(72 * 3600),
            )?,
            backoff_initial: Duration::from_millis(
                raw.delivery_backoff_initial_ms.unwrap_or(1000).max(10),
            ),
            per_destination: 16,
        },
        projection_wait: secs("TXHOOK_PROJECTION_WAIT_SECS", raw.projection_wait_secs, 5)?,
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
        max_connections: count(
            "TXHOOK_MAX_CONNECTIONS",
            raw.max_connections,
            crate::server::DEFAULT_MAX_CONNECTIONS as u64,
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

pub(super) fn listen(raw: &Raw) -> Result<SocketAddr, ConfigError> {
    let listen_s = non_empty(raw.listen.clone()).unwrap_or_else(|| "0.0.0.0:8080".into());
    listen_s.parse().map_err(|_| ConfigError::Invalid {
        var: "TXHOOK_LISTEN",
        why: format!("{listen_s:?} is not an address like 0.0.0.0:8080"),
    })
}

/// Scheme, keys and static header. `hint` says, when the key is missing, who needs it.
pub(super) fn signing(raw: &Raw, hint: &'static str) -> Result<Signing, ConfigError> {
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
    let keys = Keys::new(&scheme, shared_key.clone(), previous.clone())
        .map_err(|(var, why)| ConfigError::Invalid { var, why })?;
    // Decodable keys, but are they secrets? Not a shipped placeholder, not too short.
    let whsec = matches!(scheme, Scheme::StandardWebhooks);
    check_secret("TXHOOK_SHARED_KEY", shared_key.expose_secret(), whsec)?;
    for key in &previous {
        check_secret("TXHOOK_PREVIOUS_SHARED_KEYS", key.expose_secret(), whsec)?;
    }

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

pub(super) fn parse_log_format(s: Option<&str>) -> Result<LogFormat, ConfigError> {
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
    // The URL may carry credentials: messages show it without them.
    let shown = redacted_text(s);
    let u = url::Url::parse(s).map_err(|e| ConfigError::Invalid {
        var,
        why: format!("{shown:?} is not an absolute URL ({e})"),
    })?;
    if !matches!(u.scheme(), "http" | "https") || u.host().is_none() {
        return Err(ConfigError::Invalid {
            var,
            why: format!("{shown:?} must be an absolute http:// or https:// URL"),
        });
    }
    Ok(u)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::super::{ConfigError, load_with};

    const KEY: &str = "a-shared-key-of-some-length-0f3c";

    #[test]
    fn placeholder_and_short_secrets_are_refused_naming_the_variable() {
        let cases = [
            ("TXHOOK_SHARED_KEY", "dev-shared-key-change-me"),
            ("TXHOOK_SHARED_KEY", "short-key"),
            (
                "TXHOOK_PREVIOUS_SHARED_KEYS",
                "an-old-key-long-enough,CHANGE-ME",
            ),
            ("TXHOOK_ADMIN_TOKEN", "dev-admin-token-change-me"),
            ("TXHOOK_ADMIN_TOKEN", "token"),
        ];
        for (var, value) in cases {
            let e = load(&[(var, value)]).unwrap_err();
            assert_eq!(refused_var(Err(e)), var, "{value}");
        }
        assert!(load(&[("TXHOOK_PREVIOUS_SHARED_KEYS", "an-old-key-long-enough")]).is_ok());
    }

    fn load(extra: &[(&str, &str)]) -> Result<super::Config, ConfigError> {
        let empty = std::env::temp_dir().join("txhook-validate-empty.toml");
        std::fs::write(&empty, "").unwrap();
        let mut env: HashMap<String, String> = HashMap::from([
            (
                "DATABASE_URL".into(),
                "postgres://txhook@127.0.0.1/txhook".into(),
            ),
            ("TXHOOK_SHARED_KEY".into(), KEY.into()),
            ("TXHOOK_PUBLIC_URL".into(), "https://txhook.example".into()),
        ]);
        for (k, v) in extra {
            env.insert((*k).into(), (*v).into());
        }
        load_with(Some(&empty), |var| env.get(var).cloned())
    }

    fn refused_var(r: Result<super::Config, ConfigError>) -> &'static str {
        match r {
            Err(ConfigError::Invalid { var, .. }) => var,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn cleartext_upstreams_need_loopback_or_the_explicit_allowance() {
        let provider = ("TXHOOK_PROVIDER_URL", "http://mock:9090");
        let stream = ("TXHOOK_STREAM_URL", "ws://mock:9090/stream");
        assert_eq!(refused_var(load(&[provider])), "TXHOOK_PROVIDER_URL");
        assert_eq!(refused_var(load(&[stream])), "TXHOOK_STREAM_URL");
        let allow = ("TXHOOK_ALLOW_INSECURE_UPSTREAM", "true");
        assert!(load(&[provider, stream, allow]).is_ok());
        let deny = ("TXHOOK_ALLOW_INSECURE_UPSTREAM", "false");
        assert_eq!(refused_var(load(&[stream, deny])), "TXHOOK_STREAM_URL");
        let junk = ("TXHOOK_ALLOW_INSECURE_UPSTREAM", "perhaps");
        assert_eq!(refused_var(load(&[junk])), "TXHOOK_ALLOW_INSECURE_UPSTREAM");
        assert!(
            load(&[
                ("TXHOOK_PROVIDER_URL", "http://127.0.0.1:9090"),
                ("TXHOOK_STREAM_URL", "ws://localhost:9090/stream"),
            ])
            .is_ok()
        );
        assert!(
            load(&[
                ("TXHOOK_PROVIDER_URL", "https://api.provider.example"),
                ("TXHOOK_STREAM_URL", "wss://stream.orangepill.cloud"),
            ])
            .is_ok()
        );
    }

    #[test]
    fn url_errors_never_show_credentials() {
        let bad = ("TXHOOK_PROVIDER_URL", "ftp://user:hunter2-secret@x.example");
        let e = load(&[bad]).unwrap_err().to_string();
        assert!(
            e.contains("TXHOOK_PROVIDER_URL") && !e.contains("hunter2"),
            "{e}"
        );
        let bad = ("TXHOOK_STREAM_URL", "tcp://user:hunter2-secret@x.example");
        let e = load(&[bad]).unwrap_err().to_string();
        assert!(
            e.contains("TXHOOK_STREAM_URL") && !e.contains("hunter2"),
            "{e}"
        );
    }
}

/// A duration written `<n>ms`, `<n>s`, `<n>m`, `<n>h` or `<n>d` (plain seconds too).
fn duration(
    var: &'static str,
    v: Option<&str>,
    default: Duration,
) -> Result<Duration, ConfigError> {
    let Some(text) = v.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(default);
    };
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse().map_err(|_| ConfigError::Invalid {
        var,
        why: format!("{text:?} is not a duration like 72h, 30m, 45s or 500ms"),
    })?;
    let d = match unit.trim() {
        "ms" => Duration::from_millis(n),
        "" | "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        "d" => Duration::from_secs(n * 86_400),
        _ => {
            return Err(ConfigError::Invalid {
                var,
                why: format!("{text:?} is not a duration like 72h, 30m, 45s or 500ms"),
            });
        }
    };
    if d.is_zero() {
        return Err(ConfigError::Invalid {
            var,
            why: "must be longer than zero".into(),
        });
    }
    Ok(d)
}

#[cfg(test)]
mod duration_tests {
    use super::*;

    #[test]
    fn durations_read_with_their_unit() {
        let d = |s| duration("X", Some(s), Duration::ZERO);
        assert_eq!(d("72h").unwrap(), Duration::from_secs(259_200));
        assert_eq!(d("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(d("45").unwrap(), Duration::from_secs(45));
        assert_eq!(d("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(d("2d").unwrap(), Duration::from_secs(172_800));
        assert!(d("3 weeks").is_err() && d("h").is_err() && d("0s").is_err());
        assert_eq!(
            duration("X", None, Duration::from_secs(7)).unwrap(),
            Duration::from_secs(7)
        );
    }
}
