//! Reading one setting's value: each function names the variable in its error.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use txhook_core::duration::parse_duration;

use super::ConfigError;
use crate::redact::url_text as redacted_text;

/// Text without surrounding whitespace, or `None` when blank.
pub(super) fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// A secret without surrounding whitespace (a key pasted with a newline would otherwise never
/// match, and HTTP strips it from header values), or `None` when blank.
pub(super) fn non_empty_secret(s: Option<SecretString>) -> Option<SecretString> {
    s.map(|v| SecretString::from(v.expose_secret().trim().to_owned()))
        .filter(|v| !v.expose_secret().is_empty())
}

/// The value of a setting that has a default: the shipped `config.toml` always gives one, so
/// `None` means the built-in defaults lost it.
pub(super) fn defaulted<T>(var: &'static str, v: Option<T>) -> Result<T, ConfigError> {
    v.ok_or(ConfigError::Missing {
        var,
        hint: " (the built-in config.toml has no default for it)",
    })
}

/// A count from 1 to `max`.
pub(super) fn count(var: &'static str, v: Option<u64>, max: u64) -> Result<usize, ConfigError> {
    match defaulted(var, v)? {
        n if (1..=max).contains(&n) => Ok(n as usize),
        _ => Err(ConfigError::Invalid {
            var,
            why: format!("must be from 1 to {max}"),
        }),
    }
}

/// Whole seconds, at least one.
pub(super) fn secs(var: &'static str, v: Option<u64>) -> Result<Duration, ConfigError> {
    match defaulted(var, v)? {
        0 => Err(ConfigError::Invalid {
            var,
            why: "must be at least 1 second".into(),
        }),
        s => Ok(Duration::from_secs(s)),
    }
}

/// Milliseconds, at least `min`.
pub(super) fn millis(var: &'static str, v: Option<u64>, min: u64) -> Result<Duration, ConfigError> {
    match defaulted(var, v)? {
        ms if ms >= min => Ok(Duration::from_millis(ms)),
        _ => Err(ConfigError::Invalid {
            var,
            why: format!("must be at least {min}"),
        }),
    }
}

/// A duration written `<n>ms`, `<n>s`, `<n>m`, `<n>h` or `<n>d` (plain seconds too), longer
/// than zero: read as the command line reads one.
pub(super) fn duration(var: &'static str, v: Option<String>) -> Result<Duration, ConfigError> {
    let text = defaulted(var, non_empty(v))?;
    match parse_duration(&text) {
        Ok(d) if d.is_zero() => Err(ConfigError::Invalid {
            var,
            why: "must be longer than zero".into(),
        }),
        Ok(d) => Ok(d),
        Err(why) => Err(ConfigError::Invalid { var, why }),
    }
}

/// An absolute http:// or https:// URL.
pub(super) fn http_url(var: &'static str, s: &str) -> Result<url::Url, ConfigError> {
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

/// One of `choices`, by name.
pub(super) fn choice<T: Copy>(
    var: &'static str,
    v: Option<String>,
    choices: &[(&str, T)],
) -> Result<T, ConfigError> {
    let text = defaulted(var, non_empty(v))?;
    choices
        .iter()
        .find(|(name, _)| *name == text)
        .map(|(_, value)| *value)
        .ok_or_else(|| ConfigError::Invalid {
            var,
            why: format!(
                "{text:?} is not one of: {}",
                choices
                    .iter()
                    .map(|(name, _)| *name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_with_their_unit() {
        let d = |s: &str| duration("X", Some(s.to_owned()));
        assert_eq!(d("72h").unwrap(), Duration::from_secs(259_200));
        assert_eq!(d("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(d("45").unwrap(), Duration::from_secs(45));
        assert_eq!(d("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(d("2d").unwrap(), Duration::from_secs(172_800));
        assert!(d("3 weeks").is_err() && d("h").is_err() && d("0s").is_err());
    }

    #[test]
    fn a_setting_without_a_default_is_reported_missing_by_its_variable() {
        let e = secs("TXHOOK_X_SECS", None).unwrap_err().to_string();
        assert!(e.starts_with("TXHOOK_X_SECS is required"), "{e}");
    }
}
