//! All settings in one place: the shipped `config.toml` (built in: every default, written
//! once), then a deployment's file, then the `TXHOOK_` environment.
//!
//! Every field is validated once at start; a missing or invalid setting fails with a message
//! naming the environment variable that sets it. Secrets live in [`SecretString`], whose
//! `Debug` prints `[REDACTED]`, and are never part of an error message.
//!
//! The result has one section per part of the service, each a type of the module it
//! configures ([`DatabaseSettings`] of the store, [`StreamSettings`] of the stream client…):
//! a module takes its own section and never sees this one.
//!
//! [`raw`] declares the settings and reads the layers; [`validate`] turns them into
//! [`Config`], with [`values`] reading one value and [`signing`] the signing section.

mod check;
mod raw;
mod secrets;
mod signing;
mod upstream;
mod validate;
mod values;

#[cfg(test)]
mod tests;

use std::path::Path;

use secrecy::SecretString;

use crate::http::HttpSettings;
use crate::provider::ProviderSettings;
use crate::push::DeliverySettings;
use crate::server::ServerSettings;
use crate::store::{DatabaseSettings, WriteSettings};
use crate::stream::StreamSettings;
use crate::telemetry::LogFormat;
use crate::verify::{Keys, Scheme, StaticHeader, Verifier};
pub use raw::SETTINGS;
use raw::read_raw;
pub use secrets::MIN_SECRET_BYTES;
/// What the `send` and `bench` dev tools need: how to sign, and where the local server
/// listens ([`load_client`] reads it).
pub use txhook_core::SigningConfig;
use validate::{listen, parse_log_format, validate};

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

/// The validated configuration, by section.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen, how many connections, how long to drain.
    pub server: ServerSettings,
    /// Log output format.
    pub log_format: LogFormat,
    /// PostgreSQL and the pool.
    pub database: DatabaseSettings,
    /// How callbacks are signed and verified.
    pub signing: Signing,
    /// Limits and timeouts of requests, and who may read (the API and the console).
    pub http: HttpSettings,
    /// How callbacks are committed to the log.
    pub write: WriteSettings,
    /// The provider registration, when `TXHOOK_PROVIDER_URL` is set.
    pub provider: Option<ProviderSettings>,
    /// The Orangepill stream, when `TXHOOK_REALM_KEY` is set.
    pub stream: Option<StreamSettings>,
    /// Deliveries to destinations: how long to keep trying, how soon to retry.
    pub delivery: DeliverySettings,
}

/// The signing section: scheme, keys (current first, then previous) and the static header.
#[derive(Debug, Clone)]
pub struct Signing {
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
}

impl Signing {
    /// What checks a callback's signature and static header.
    pub fn verifier(&self) -> Verifier {
        Verifier {
            scheme: self.scheme.clone(),
            keys: self.keys.clone(),
            static_header: self.static_header.clone(),
        }
    }
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
    let signing = signing::signing(&raw, " (send signs callbacks with it)")?;
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
    parse_log_format(std::env::var("TXHOOK_LOG_FORMAT").ok())
}
