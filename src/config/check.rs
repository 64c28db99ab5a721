//! `txhook config check`: every problem of a configuration at once, and the effective
//! configuration (secrets redacted) when there is none.
//!
//! Validation stops at the first problem, so the check validates again with each variable
//! found wrong replaced by a stand-in that passes (its built-in default, or a dummy for a
//! required one), until nothing more is found.

use std::collections::HashMap;
use std::path::Path;

use super::{Config, ConfigError, load_with};

/// Rounds at most (one problem found per round).
const ROUNDS: usize = 64;

/// The configuration, or every problem found.
pub fn check(
    path: Option<&Path>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Config, Vec<ConfigError>> {
    let mut stand_ins: HashMap<&'static str, Option<String>> = HashMap::new();
    let mut problems = Vec::new();
    for _ in 0..ROUNDS {
        let layered = |var: &str| match stand_ins.get(var) {
            Some(v) => v.clone(),
            None => env(var),
        };
        match load_with(path, layered) {
            Ok(config) if problems.is_empty() => return Ok(config),
            Ok(_) => return Err(problems),
            Err(e) => {
                let var = match &e {
                    ConfigError::Missing { var, .. } | ConfigError::Invalid { var, .. } => *var,
                    // The file itself does not read: nothing further can be checked.
                    ConfigError::Load(_) => {
                        problems.push(e);
                        return Err(problems);
                    }
                };
                if stand_ins.contains_key(var) {
                    // The stand-in did not pass either: stop rather than loop.
                    problems.push(e);
                    return Err(problems);
                }
                stand_ins.insert(var, stand_in(var));
                problems.push(e);
            }
        }
    }
    Err(problems)
}

/// A value of `var` that passes validation: the built-in default when there is one, else a
/// dummy for the settings that have none.
fn stand_in(var: &str) -> Option<String> {
    let key = super::SETTINGS.iter().find(|(_, v)| *v == var)?.0;
    let defaults: toml::Table = super::raw::DEFAULTS.parse().ok()?;
    if let Some(v) = defaults.get(key) {
        return Some(match v {
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        });
    }
    Some(
        match var {
            "DATABASE_URL" => "postgres://stand-in@127.0.0.1/stand-in",
            "TXHOOK_SHARED_KEY" | "TXHOOK_ADMIN_TOKEN" => {
                "whsec_c3RhbmQtaW4ga2V5IG9mIHRoaXJ0eS10d28gYnl0ZXM="
            }
            "TXHOOK_PUBLIC_URL" => "https://stand-in.invalid",
            "TXHOOK_HEADER_KEY" => "X-Stand-In",
            "TXHOOK_HEADER_VALUE" => "stand-in-header-value",
            _ => "",
        }
        .to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_not_only_the_first() {
        let empty = std::env::temp_dir().join(format!(
            "txhook-config-check-{}.toml",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::write(&empty, "").unwrap();
        let problems = check(Some(&empty), |var| match var {
            "TXHOOK_BATCH_MAX" => Some("many".into()),
            "TXHOOK_LISTEN" => Some("not an address".into()),
            "TXHOOK_PROVIDER_URL" => Some("http://provider.example".into()),
            _ => None,
        })
        .expect_err("the configuration has problems");
        let shown: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        for var in [
            "DATABASE_URL",
            "TXHOOK_SHARED_KEY",
            "TXHOOK_BATCH_MAX",
            "TXHOOK_LISTEN",
            "TXHOOK_PROVIDER_URL",
        ] {
            assert!(
                shown.iter().any(|p| p.contains(var)),
                "{var} not reported: {shown:#?}"
            );
        }
        let ok = check(Some(&empty), |var| match var {
            "DATABASE_URL" => Some("postgres://txhook@127.0.0.1:1/x".into()),
            "TXHOOK_SHARED_KEY" => Some("a-shared-key-of-some-length-8c1e".into()),
            _ => None,
        });
        let _ = std::fs::remove_file(&empty);
        let config = ok.expect("valid");
        let shown = format!("{config:#?}");
        assert!(
            !shown.contains("a-shared-key-of-some-length-8c1e"),
            "{shown}"
        );
    }
}
