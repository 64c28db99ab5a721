//! Keys and tokens that only look like secrets: the placeholders shipped in `.env.example`,
//! `docker-compose.yml` and the Kubernetes Secret, and anything too short to resist guessing.
//! `serve` refuses them, saying how to make a real one.

use super::ConfigError;

/// Shortest secret accepted, in bytes (of the decoded key, for a `whsec_` key).
pub const MIN_SECRET_BYTES: usize = 16;

/// Text that marks a value as a placeholder wherever it appears (compared in lowercase).
const PLACEHOLDER_MARKS: [&str; 5] = [
    "change-me",
    "changeme",
    "change_me",
    "replace-me",
    "placeholder",
];

/// Checks the secret `value` of `var`; `whsec` says whether it is a Standard Webhooks key
/// (`whsec_` + base64), whose length is that of the decoded key.
pub fn check_secret(var: &'static str, value: &str, whsec: bool) -> Result<(), ConfigError> {
    let lower = value.to_ascii_lowercase();
    let how = if whsec {
        "generate one with: echo \"whsec_$(openssl rand -base64 32)\""
    } else {
        "generate one with: openssl rand -hex 32"
    };
    if PLACEHOLDER_MARKS.iter().any(|m| lower.contains(m)) {
        return Err(ConfigError::Invalid {
            var,
            why: format!("it is a placeholder from the examples, not a secret; {how}"),
        });
    }
    let len = if whsec {
        crate::verify::decode_whsec(value).map_or(0, |k| k.len())
    } else {
        value.len()
    };
    if len < MIN_SECRET_BYTES {
        return Err(ConfigError::Invalid {
            var,
            why: format!("shorter than {MIN_SECRET_BYTES} bytes; {how}"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(var: &'static str, value: &str, whsec: bool) -> String {
        check_secret(var, value, whsec).unwrap_err().to_string()
    }

    #[test]
    fn the_shipped_placeholders_are_refused_saying_how_to_generate_a_key() {
        // .env.example, deploy/k8s/secret.yaml.
        for p in [
            "dev-shared-key-change-me",
            "dev-admin-token-change-me",
            "CHANGE-ME",
        ] {
            let e = refused("TXHOOK_SHARED_KEY", p, false);
            assert!(e.starts_with("TXHOOK_SHARED_KEY is invalid"), "{e}");
            assert!(e.contains("openssl rand -hex 32") && !e.contains(p), "{e}");
        }
    }

    #[test]
    fn short_keys_are_refused_and_long_random_ones_accepted() {
        let e = refused("TXHOOK_ADMIN_TOKEN", "fifteen-bytes!!", false);
        assert!(
            e.contains("shorter than 16 bytes") && !e.contains("fifteen"),
            "{e}"
        );
        assert!(check_secret("TXHOOK_SHARED_KEY", "sixteen-bytes-ok", false).is_ok());
        // whsec_: the decoded key counts (12 bytes here, 22 in the second).
        let e = refused("TXHOOK_SHARED_KEY", "whsec_AAAAAAAAAAAAAAAA", true);
        assert!(e.contains("openssl rand -base64 32"), "{e}");
        assert!(
            check_secret(
                "TXHOOK_SHARED_KEY",
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                true
            )
            .is_ok()
        );
    }
}
