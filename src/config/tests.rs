//! The configuration as a whole: layering, the one source of defaults, and the checks that
//! span sections.

use std::collections::HashMap;
use std::path::PathBuf;

use super::raw::{DEFAULTS, SETTINGS, read_raw_over};
use super::validate::validate;
use super::*;

const KEY: &str = "a-shared-key-of-some-length-8c1e";

/// The two settings without a default that `serve` requires.
fn required(var: &str) -> Option<String> {
    match var {
        "DATABASE_URL" => Some("postgres://txhook@127.0.0.1:1/unused".into()),
        "TXHOOK_SHARED_KEY" => Some(KEY.into()),
        _ => None,
    }
}

/// A config file of `text`, unique to the caller.
fn file(text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "txhook-config-{}.toml",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(&path, text).unwrap();
    path
}

/// The configuration of an empty file with the required settings and `vars` set.
fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let empty = file("");
    let env: HashMap<&str, &str> = vars.iter().copied().collect();
    let config = load_with(Some(&empty), |var| {
        env.get(var)
            .map(|v| (*v).to_owned())
            .or_else(|| required(var))
    });
    let _ = std::fs::remove_file(&empty);
    config
}

fn refused(vars: &[(&str, &str)]) -> ConfigError {
    load(vars).expect_err(&format!("{vars:?} was accepted"))
}

fn refused_var(vars: &[(&str, &str)]) -> &'static str {
    match refused(vars) {
        ConfigError::Invalid { var, .. } | ConfigError::Missing { var, .. } => var,
        other => panic!("expected a refusal naming a variable, got {other}"),
    }
}

/// The shipped `config.toml` is the only place a default is written: take any setting out
/// of it and validation reports that setting missing instead of quietly using a second copy.
#[test]
fn every_default_lives_in_the_shipped_file_and_nowhere_else() {
    let defaults: toml::Table = DEFAULTS.parse().unwrap();
    assert!(!defaults.is_empty());
    let empty = file("");
    for key in defaults.keys() {
        let var = SETTINGS
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("config.toml sets {key}, which is not a setting"));
        // The log format is read before the configuration (logging starts first), so it
        // has a default of its own.
        if var == "TXHOOK_LOG_FORMAT" {
            continue;
        }
        let mut without = defaults.clone();
        without.remove(key);
        let raw = read_raw_over(&without.to_string(), Some(&empty), required).unwrap();
        let e = validate(raw).expect_err(&format!("{key} has a second default"));
        assert!(
            matches!(e, ConfigError::Missing { var: v, .. } if v == var),
            "{key}: {e}"
        );
    }
    let _ = std::fs::remove_file(&empty);
    assert!(
        load(&[]).is_ok(),
        "the defaults and the required settings suffice"
    );
}

#[test]
fn a_file_overrides_the_built_in_defaults_and_the_environment_overrides_both() {
    let path = file("batch_max = 32\nbatch_writers = 3\n");
    let config = load_with(Some(&path), |var| match var {
        "TXHOOK_BATCH_WRITERS" => Some("4".to_owned()),
        _ => required(var),
    })
    .unwrap();
    let _ = std::fs::remove_file(&path);
    assert_eq!(config.write.batch.max_batch, 32);
    assert_eq!(config.write.batch.writers, 4);
    assert_eq!(
        config.write.batch.queue_capacity, 2048,
        "from the built-in defaults"
    );
}

#[test]
fn sections_come_only_with_what_turns_them_on() {
    let plain = load(&[]).unwrap();
    assert!(plain.provider.is_none() && plain.stream.is_none());
    let on = load(&[
        ("TXHOOK_PROVIDER_URL", "https://api.provider.example"),
        ("TXHOOK_PUBLIC_URL", "https://hooks.example"),
        ("TXHOOK_REALM_KEY", "a-realm-key-of-some-length"),
    ])
    .unwrap();
    let provider = on.provider.expect("a provider section");
    assert_eq!(
        provider.registration.callback_url,
        "https://hooks.example/webhooks/transactions"
    );
    assert_eq!(
        on.stream.expect("a stream section").url.as_str(),
        "wss://stream.orangepill.cloud/"
    );
    assert_eq!(
        refused_var(&[("TXHOOK_PROVIDER_URL", "https://api.provider.example")]),
        "TXHOOK_PUBLIC_URL"
    );
}

#[test]
fn batches_whose_bodies_could_pass_postgresqls_value_limit_are_refused() {
    let e = refused(&[("TXHOOK_MAX_BODY_BYTES", "16777216")]).to_string();
    assert!(e.contains("TXHOOK_BATCH_MAX"), "{e}");
    // One transaction per callback has no batch to bound.
    let single = load(&[
        ("TXHOOK_MAX_BODY_BYTES", "16777216"),
        ("TXHOOK_MAX_UNVERIFIED_BYTES", "67108864"),
        ("TXHOOK_WRITE_MODE", "single"),
    ]);
    assert!(single.is_ok());
}

#[test]
fn the_unverified_byte_budget_holds_at_least_one_body() {
    let var = refused_var(&[
        ("TXHOOK_MAX_BODY_BYTES", "4096"),
        ("TXHOOK_MAX_UNVERIFIED_BYTES", "4095"),
    ]);
    assert_eq!(var, "TXHOOK_MAX_UNVERIFIED_BYTES");
}

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
        assert_eq!(refused_var(&[(var, value)]), var, "{value}");
    }
    assert!(load(&[("TXHOOK_PREVIOUS_SHARED_KEYS", "an-old-key-long-enough")]).is_ok());
}

#[test]
fn keys_that_do_not_decode_are_refused_naming_their_variable() {
    let whsec = [("TXHOOK_SIGNATURE_SCHEME", "standard-webhooks")];
    assert_eq!(refused_var(&whsec), "TXHOOK_SHARED_KEY");
    let good = "whsec_c3RhbmQtaW4ga2V5IG9mIHRoaXJ0eS10d28gYnl0ZXM=";
    assert_eq!(
        refused_var(&[
            whsec[0],
            ("TXHOOK_SHARED_KEY", good),
            ("TXHOOK_PREVIOUS_SHARED_KEYS", "not base64 at all!"),
        ]),
        "TXHOOK_PREVIOUS_SHARED_KEYS"
    );
}

#[test]
fn cleartext_upstreams_need_loopback_or_the_explicit_allowance() {
    let public = ("TXHOOK_PUBLIC_URL", "https://txhook.example");
    let provider = ("TXHOOK_PROVIDER_URL", "http://mock:9090");
    let stream = ("TXHOOK_STREAM_URL", "ws://mock:9090/stream");
    assert_eq!(refused_var(&[public, provider]), "TXHOOK_PROVIDER_URL");
    assert_eq!(refused_var(&[stream]), "TXHOOK_STREAM_URL");
    let allow = ("TXHOOK_ALLOW_INSECURE_UPSTREAM", "true");
    assert!(load(&[public, provider, stream, allow]).is_ok());
    let deny = ("TXHOOK_ALLOW_INSECURE_UPSTREAM", "false");
    assert_eq!(refused_var(&[stream, deny]), "TXHOOK_STREAM_URL");
    let junk = ("TXHOOK_ALLOW_INSECURE_UPSTREAM", "perhaps");
    assert_eq!(refused_var(&[junk]), "TXHOOK_ALLOW_INSECURE_UPSTREAM");
    assert!(
        load(&[
            public,
            ("TXHOOK_PROVIDER_URL", "http://127.0.0.1:9090"),
            ("TXHOOK_STREAM_URL", "ws://localhost:9090/stream"),
        ])
        .is_ok()
    );
    assert!(
        load(&[
            public,
            ("TXHOOK_PROVIDER_URL", "https://api.provider.example"),
            ("TXHOOK_STREAM_URL", "wss://stream.orangepill.cloud"),
        ])
        .is_ok()
    );
}

#[test]
fn url_errors_never_show_credentials() {
    for bad in [
        ("TXHOOK_PROVIDER_URL", "ftp://user:hunter2-secret@x.example"),
        ("TXHOOK_STREAM_URL", "tcp://user:hunter2-secret@x.example"),
    ] {
        let e = refused(&[bad]).to_string();
        assert!(e.contains(bad.0) && !e.contains("hunter2"), "{e}");
    }
}

#[test]
fn the_configuration_shows_no_secret() {
    let config = load(&[
        ("TXHOOK_ADMIN_TOKEN", "an-admin-token-of-some-length"),
        ("TXHOOK_HEADER_KEY", "X-Token"),
        ("TXHOOK_HEADER_VALUE", "a-header-value-of-some-length"),
        ("TXHOOK_REALM_KEY", "a-realm-key-of-some-length"),
    ])
    .unwrap();
    let shown = format!("{config:#?}");
    for secret in [KEY, "an-admin-token", "a-header-value", "a-realm-key"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
}
