//! The extension's configuration, from `THAW_*` environment variables set on the function.
//!
//! | Variable | Default | Meaning |
//! |---|---|---|
//! | `THAW_DEBUG` | off | `1`/`true`/`yes`/`on`: log init phases and telemetry details to stderr |
//! | `THAW_METRICS_NAMESPACE` | `thaw` | CloudWatch namespace of the EMF lines (1–255 of `A-Za-z0-9 .-_/#:`, not starting with `AWS/`) |
//! | `THAW_EMF` | on | `0`/`false`/`no`/`off`: no EMF lines on stdout (OTLP only) |
//! | `THAW_TELEMETRY_LISTEN` | `0.0.0.0:4243` | address the telemetry listener binds; port `0` picks a free port, which is the one subscribed |
//! | `THAW_TELEMETRY_MAX_ITEMS` | `1000` | Telemetry API buffering `maxItems`, `1000`–`10000` |
//! | `THAW_TELEMETRY_MAX_BYTES` | `262144` | Telemetry API buffering `maxBytes`, `262144`–`1048576` |
//! | `THAW_TELEMETRY_TIMEOUT_MS` | `500` | Telemetry API buffering `timeoutMs`, `25`–`30000`; keep it under ~900 so the last invocation's report still arrives within the SHUTDOWN budget |
//! | `THAW_OTLP_ENDPOINT` | unset (no OTLP) | OTLP/HTTP base URL; metrics are POSTed to `<endpoint>/v1/metrics`. `https://`, or `http://` to localhost/127.0.0.0/8/[::1] only |
//! | `THAW_OTLP_HEADERS` | none | extra request headers, `name=value,name2=value2` (e.g. an API key) |
//! | `THAW_OTLP_TIMEOUT_MS` | `1000` | timeout of one OTLP request, `10`–`10000` |
//! | `THAW_OTLP_BATCH_SIZE` | `64` | invocations per OTLP request, `1`–`1000` |
//! | `THAW_OTLP_FLUSH_MS` | `1000` | longest time an invocation's metrics wait before being sent, `10`–`60000` |
//! | `THAW_OTLP_QUEUE` | `1024` | invocations queued for OTLP, `1`–`65536`; when full, new ones are dropped and counted |
//! | `THAW_EXTRA_CA_FILE` | unset | PEM file of extra CA certificates trusted for OTLP (and the webhook's forwarding) |
//! | `THAW_PRINT_ALLOCATOR` | unset | `1`: print `narenas=<n>` (jemalloc's `opt.narenas`) and exit 0 |
//!
//! A value that is not usable gives one log line naming the variable, and its default; the
//! function the extension rides on is never affected. The function's name (the EMF dimension
//! and OTLP `faas.name`) comes from Lambda's `AWS_LAMBDA_FUNCTION_NAME`.

use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::time::Duration;

pub const DEFAULT_NAMESPACE: &str = "thaw";
pub const DEFAULT_LISTEN: &str = "0.0.0.0:4243";

/// Lambda's limits for a Telemetry API subscription's buffering.
pub const MAX_ITEMS: RangeInclusive<u32> = 1_000..=10_000;
pub const MAX_BYTES: RangeInclusive<u32> = 262_144..=1_048_576;
pub const TIMEOUT_MS: RangeInclusive<u32> = 25..=30_000;

const OTLP_TIMEOUT_MS: RangeInclusive<u32> = 10..=10_000;
const OTLP_BATCH_SIZE: RangeInclusive<u32> = 1..=1_000;
const OTLP_FLUSH_MS: RangeInclusive<u32> = 10..=60_000;
const OTLP_QUEUE: RangeInclusive<u32> = 1..=65_536;

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub function_name: String,
    pub namespace: String,
    pub emf: bool,
    pub listen: SocketAddr,
    pub buffering: Buffering,
    pub otlp: Option<OtlpConfig>,
}

/// How Lambda batches telemetry for us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buffering {
    pub max_items: u32,
    pub max_bytes: u32,
    pub timeout_ms: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OtlpConfig {
    /// The full metrics URL, `<endpoint>/v1/metrics`.
    pub metrics_url: reqwest::Url,
    pub headers: Vec<(String, String)>,
    pub timeout: Duration,
    pub batch_size: usize,
    pub flush_interval: Duration,
    pub queue_capacity: usize,
}

impl Config {
    /// Reads the process environment. The second value holds one log line per unusable variable.
    pub fn from_env() -> (Self, Vec<String>) {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup` (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> (Self, Vec<String>) {
        let mut warnings = Vec::new();
        let mut number = |name: &str, default: u32, range: RangeInclusive<u32>| -> u32 {
            crate::settings::bounded(&lookup, &mut warnings, name, default, range)
        };
        let buffering = Buffering {
            max_items: number("THAW_TELEMETRY_MAX_ITEMS", 1_000, MAX_ITEMS),
            max_bytes: number("THAW_TELEMETRY_MAX_BYTES", 262_144, MAX_BYTES),
            timeout_ms: number("THAW_TELEMETRY_TIMEOUT_MS", 500, TIMEOUT_MS),
        };
        let otlp_timeout = number("THAW_OTLP_TIMEOUT_MS", 1_000, OTLP_TIMEOUT_MS);
        let batch_size = number("THAW_OTLP_BATCH_SIZE", 64, OTLP_BATCH_SIZE);
        let flush_ms = number("THAW_OTLP_FLUSH_MS", 1_000, OTLP_FLUSH_MS);
        let queue = number("THAW_OTLP_QUEUE", 1_024, OTLP_QUEUE);

        let namespace = match lookup("THAW_METRICS_NAMESPACE") {
            None => DEFAULT_NAMESPACE.to_owned(),
            Some(raw) if is_valid_namespace(&raw) => raw,
            Some(raw) => {
                warnings.push(format!(
                    "THAW_METRICS_NAMESPACE={raw:?} is not a valid CloudWatch namespace \
                     (1-255 of A-Za-z0-9 .-_/#:, not starting with AWS/); using {DEFAULT_NAMESPACE:?}"
                ));
                DEFAULT_NAMESPACE.to_owned()
            }
        };
        let emf = match lookup("THAW_EMF") {
            None => true,
            Some(raw) => match raw.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => true,
                "0" | "false" | "no" | "off" => false,
                _ => {
                    warnings.push(format!("THAW_EMF={raw:?} is not on/off; using on"));
                    true
                }
            },
        };
        let default_listen = SocketAddr::from(([0, 0, 0, 0], 4243));
        let listen = match lookup("THAW_TELEMETRY_LISTEN") {
            None => default_listen,
            Some(raw) => raw.trim().parse().unwrap_or_else(|_| {
                warnings.push(format!(
                    "THAW_TELEMETRY_LISTEN={raw:?} is not an IP:port address; using {DEFAULT_LISTEN}"
                ));
                default_listen
            }),
        };
        let otlp = match lookup("THAW_OTLP_ENDPOINT").filter(|v| !v.trim().is_empty()) {
            None => None,
            Some(raw) => match metrics_url(&raw) {
                Ok(metrics_url) => Some(OtlpConfig {
                    metrics_url,
                    headers: parse_headers(lookup("THAW_OTLP_HEADERS"), &mut warnings),
                    timeout: Duration::from_millis(otlp_timeout.into()),
                    batch_size: batch_size as usize,
                    flush_interval: Duration::from_millis(flush_ms.into()),
                    queue_capacity: queue as usize,
                }),
                Err(why) => {
                    warnings.push(format!("THAW_OTLP_ENDPOINT: {why}; OTLP export disabled"));
                    None
                }
            },
        };
        let function_name = lookup("AWS_LAMBDA_FUNCTION_NAME")
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "unknown".to_owned());
        let config = Self {
            function_name,
            namespace,
            emf,
            listen,
            buffering,
            otlp,
        };
        (config, warnings)
    }
}

/// `<endpoint>/v1/metrics`, as OTLP/HTTP exporters derive it from a base endpoint.
fn metrics_url(endpoint: &str) -> Result<reqwest::Url, String> {
    let base = crate::lazy_client::check_endpoint(endpoint).map_err(|e| e.to_string())?;
    let joined = format!("{}/v1/metrics", base.as_str().trim_end_matches('/'));
    reqwest::Url::parse(&joined).map_err(|e| format!("{joined:?}: {e}"))
}

/// CloudWatch's rules for a namespace.
fn is_valid_namespace(ns: &str) -> bool {
    (1..=255).contains(&ns.len())
        && !ns.starts_with("AWS/")
        && ns
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " .-_/#:".contains(c))
}

/// `name=value,name2=value2`; any bad pair voids the whole setting (sending half the headers
/// of an auth scheme would only confuse the collector).
fn parse_headers(raw: Option<String>, warnings: &mut Vec<String>) -> Vec<(String, String)> {
    let Some(raw) = raw else {
        return Vec::new();
    };
    let mut headers = Vec::new();
    for pair in raw.split(',').filter(|p| !p.trim().is_empty()) {
        let parsed = pair.split_once('=').and_then(|(name, value)| {
            let (name, value) = (name.trim(), value.trim());
            let valid = reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_ok()
                && reqwest::header::HeaderValue::from_str(value).is_ok();
            valid.then(|| (name.to_owned(), value.to_owned()))
        });
        match parsed {
            Some(header) => headers.push(header),
            None => {
                // The value may be a secret: name only the position.
                warnings.push(
                    "THAW_OTLP_HEADERS is not a list of name=value pairs with valid header \
                     names and values; sending no extra headers"
                        .to_owned(),
                );
                return Vec::new();
            }
        }
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> (Config, Vec<String>) {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn an_empty_environment_gives_the_documented_defaults() {
        let (c, warnings) = config(&[]);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(c.function_name, "unknown");
        assert_eq!(c.namespace, "thaw");
        assert!(c.emf);
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(
            c.buffering,
            Buffering {
                max_items: 1000,
                max_bytes: 262_144,
                timeout_ms: 500
            }
        );
        assert_eq!(c.otlp, None);
    }

    #[test]
    fn valid_values_are_taken() {
        let (c, warnings) = config(&[
            ("AWS_LAMBDA_FUNCTION_NAME", "orders"),
            ("THAW_METRICS_NAMESPACE", "shop/lambda"),
            ("THAW_EMF", "off"),
            ("THAW_TELEMETRY_LISTEN", "127.0.0.1:0"),
            ("THAW_TELEMETRY_MAX_ITEMS", "10000"),
            ("THAW_TELEMETRY_MAX_BYTES", "1048576"),
            ("THAW_TELEMETRY_TIMEOUT_MS", "25"),
            ("THAW_OTLP_ENDPOINT", "https://otel.example.com:4318/"),
            ("THAW_OTLP_HEADERS", "x-api-key=abc, x-team = core"),
            ("THAW_OTLP_TIMEOUT_MS", "250"),
            ("THAW_OTLP_BATCH_SIZE", "5"),
            ("THAW_OTLP_FLUSH_MS", "20"),
            ("THAW_OTLP_QUEUE", "7"),
        ]);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(c.function_name, "orders");
        assert_eq!(c.namespace, "shop/lambda");
        assert!(!c.emf);
        assert_eq!(c.listen.to_string(), "127.0.0.1:0");
        assert_eq!(
            c.buffering,
            Buffering {
                max_items: 10_000,
                max_bytes: 1_048_576,
                timeout_ms: 25
            }
        );
        let otlp = c.otlp.expect("OTLP on");
        assert_eq!(
            otlp.metrics_url.as_str(),
            "https://otel.example.com:4318/v1/metrics"
        );
        assert_eq!(
            otlp.headers,
            [
                ("x-api-key".to_owned(), "abc".to_owned()),
                ("x-team".to_owned(), "core".to_owned())
            ]
        );
        assert_eq!(otlp.timeout, Duration::from_millis(250));
        assert_eq!(otlp.batch_size, 5);
        assert_eq!(otlp.flush_interval, Duration::from_millis(20));
        assert_eq!(otlp.queue_capacity, 7);
    }

    #[test]
    fn absurd_values_give_one_line_each_and_the_defaults() {
        let (c, warnings) = config(&[
            ("THAW_METRICS_NAMESPACE", "AWS/Lambda"),
            ("THAW_EMF", "maybe"),
            ("THAW_TELEMETRY_LISTEN", "everywhere"),
            ("THAW_TELEMETRY_MAX_ITEMS", "999999999999"),
            ("THAW_TELEMETRY_MAX_BYTES", "-1"),
            ("THAW_TELEMETRY_TIMEOUT_MS", "24"),
            ("THAW_OTLP_TIMEOUT_MS", "1e3"),
            ("THAW_OTLP_BATCH_SIZE", "0"),
            ("THAW_OTLP_FLUSH_MS", ""),
            ("THAW_OTLP_QUEUE", "65537"),
        ]);
        assert_eq!(warnings.len(), 10, "{warnings:#?}");
        for (warning, var) in warnings.iter().zip([
            "THAW_TELEMETRY_MAX_ITEMS",
            "THAW_TELEMETRY_MAX_BYTES",
            "THAW_TELEMETRY_TIMEOUT_MS",
            "THAW_OTLP_TIMEOUT_MS",
            "THAW_OTLP_BATCH_SIZE",
            "THAW_OTLP_FLUSH_MS",
            "THAW_OTLP_QUEUE",
            "THAW_METRICS_NAMESPACE",
            "THAW_EMF",
            "THAW_TELEMETRY_LISTEN",
        ]) {
            assert!(warning.starts_with(var), "{warning} should name {var}");
        }
        assert_eq!(c, config(&[]).0);
    }

    #[test]
    fn plain_http_otlp_is_refused_unless_local() {
        let (c, warnings) = config(&[("THAW_OTLP_ENDPOINT", "http://otel.example.com:4318")]);
        assert_eq!(c.otlp, None);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("OTLP export disabled"), "{warnings:?}");

        let (c, warnings) = config(&[("THAW_OTLP_ENDPOINT", "http://127.0.0.1:4318")]);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(
            c.otlp.expect("local HTTP allowed").metrics_url.as_str(),
            "http://127.0.0.1:4318/v1/metrics"
        );
    }

    #[test]
    fn a_bad_header_list_sends_no_headers_and_does_not_leak_values() {
        let (c, warnings) = config(&[
            ("THAW_OTLP_ENDPOINT", "https://otel.example.com"),
            ("THAW_OTLP_HEADERS", "x-api-key=s3cret,broken"),
        ]);
        assert_eq!(c.otlp.expect("OTLP still on").headers, []);
        assert_eq!(warnings.len(), 1);
        assert!(!warnings[0].contains("s3cret"), "{warnings:?}");
    }

    #[test]
    fn namespaces_follow_cloudwatch_rules() {
        assert!(is_valid_namespace("thaw"));
        assert!(is_valid_namespace("My App/cold-starts#1:x"));
        assert!(!is_valid_namespace(""));
        assert!(!is_valid_namespace("AWS/Lambda"));
        assert!(!is_valid_namespace("ünïcode"));
        assert!(!is_valid_namespace(&"n".repeat(256)));
    }
}
