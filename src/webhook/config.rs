//! The webhook function's configuration.
//!
//! | Variable | Default | Meaning |
//! |---|---|---|
//! | `THAW_WEBHOOK_SECRET` | required | HMAC-SHA256 key the sender signs bodies with |
//! | `THAW_WEBHOOK_FORWARD_URL` | required | where verified events are POSTed: `https://`, or `http://` to localhost only |
//! | `THAW_WEBHOOK_MAX_AGE_SECS` | `300` | freshness window: the body's `timestamp` may differ from now by at most this, `1`–`86400` |
//! | `THAW_WEBHOOK_FORWARD_TIMEOUT_MS` | `2000` | timeout of the forwarding request, `100`–`30000` |
//! | `THAW_EXTRA_CA_FILE` | unset | PEM file of extra CA certificates for the forward URL |
//!
//! A missing secret or forward URL makes every request a 500 (and one log line at start);
//! an unusable optional value gives one log line and its default.

use std::ops::RangeInclusive;
use std::time::Duration;

const MAX_AGE_SECS: RangeInclusive<u64> = 1..=86_400;
const FORWARD_TIMEOUT_MS: RangeInclusive<u64> = 100..=30_000;

#[derive(Debug, Clone, PartialEq)]
pub struct WebhookConfig {
    pub secret: Vec<u8>,
    pub forward_url: reqwest::Url,
    pub max_age: Duration,
    pub forward_timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("THAW_WEBHOOK_SECRET is not set (or empty): cannot verify signatures")]
    NoSecret,
    #[error("THAW_WEBHOOK_FORWARD_URL is not set: nowhere to forward events")]
    NoForwardUrl,
    #[error("THAW_WEBHOOK_FORWARD_URL: {0}")]
    BadForwardUrl(String),
}

impl WebhookConfig {
    /// From the process environment; the second value holds one log line per unusable
    /// optional variable.
    pub fn from_env() -> (Result<Self, ConfigError>, Vec<String>) {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> (Result<Self, ConfigError>, Vec<String>) {
        let mut warnings = Vec::new();
        let mut number = |name: &str, default: u64, range: RangeInclusive<u64>| {
            crate::settings::bounded(&lookup, &mut warnings, name, default, range)
        };
        let max_age = Duration::from_secs(number("THAW_WEBHOOK_MAX_AGE_SECS", 300, MAX_AGE_SECS));
        let forward_timeout = Duration::from_millis(number(
            "THAW_WEBHOOK_FORWARD_TIMEOUT_MS",
            2_000,
            FORWARD_TIMEOUT_MS,
        ));
        let config = (|| {
            let secret = lookup("THAW_WEBHOOK_SECRET")
                .filter(|s| !s.is_empty())
                .ok_or(ConfigError::NoSecret)?
                .into_bytes();
            let raw_url = lookup("THAW_WEBHOOK_FORWARD_URL")
                .filter(|s| !s.trim().is_empty())
                .ok_or(ConfigError::NoForwardUrl)?;
            let forward_url = crate::lazy_client::check_endpoint(&raw_url)
                .map_err(|e| ConfigError::BadForwardUrl(e.to_string()))?;
            Ok(Self {
                secret,
                forward_url,
                max_age,
                forward_timeout,
            })
        })();
        (config, warnings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> (Result<WebhookConfig, ConfigError>, Vec<String>) {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        WebhookConfig::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn secret_and_url_are_required() {
        assert_eq!(config(&[]).0, Err(ConfigError::NoSecret));
        assert_eq!(
            config(&[("THAW_WEBHOOK_SECRET", "")]).0,
            Err(ConfigError::NoSecret)
        );
        assert_eq!(
            config(&[("THAW_WEBHOOK_SECRET", "s")]).0,
            Err(ConfigError::NoForwardUrl)
        );
        assert!(matches!(
            config(&[
                ("THAW_WEBHOOK_SECRET", "s"),
                ("THAW_WEBHOOK_FORWARD_URL", "http://example.com/hook")
            ])
            .0,
            Err(ConfigError::BadForwardUrl(_))
        ));
    }

    #[test]
    fn defaults_and_overrides() {
        let base = [
            ("THAW_WEBHOOK_SECRET", "s3"),
            ("THAW_WEBHOOK_FORWARD_URL", "https://example.com/hook"),
        ];
        let (c, warnings) = config(&base);
        let c = c.expect("configured");
        assert!(warnings.is_empty());
        assert_eq!(c.secret, b"s3");
        assert_eq!(c.forward_url.as_str(), "https://example.com/hook");
        assert_eq!(c.max_age, Duration::from_secs(300));
        assert_eq!(c.forward_timeout, Duration::from_millis(2_000));

        let mut vars = base.to_vec();
        vars.push(("THAW_WEBHOOK_MAX_AGE_SECS", "60"));
        vars.push(("THAW_WEBHOOK_FORWARD_TIMEOUT_MS", "500"));
        let c = config(&vars).0.expect("configured");
        assert_eq!(c.max_age, Duration::from_secs(60));
        assert_eq!(c.forward_timeout, Duration::from_millis(500));
    }

    #[test]
    fn bad_optional_values_warn_and_default() {
        let (c, warnings) = config(&[
            ("THAW_WEBHOOK_SECRET", "s3"),
            ("THAW_WEBHOOK_FORWARD_URL", "http://127.0.0.1:9/hook"),
            ("THAW_WEBHOOK_MAX_AGE_SECS", "0"),
            ("THAW_WEBHOOK_FORWARD_TIMEOUT_MS", "forever"),
        ]);
        let c = c.expect("still configured");
        assert_eq!(c.max_age, Duration::from_secs(300));
        assert_eq!(c.forward_timeout, Duration::from_millis(2_000));
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].starts_with("THAW_WEBHOOK_MAX_AGE_SECS"));
        assert!(warnings[1].starts_with("THAW_WEBHOOK_FORWARD_TIMEOUT_MS"));
    }
}
