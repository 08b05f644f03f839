//! The HTTPS client for outside endpoints (OTLP export, webhook forwarding): reqwest + rustls
//! (ring provider) with the compiled-in webpki roots, so no certificate store is scanned.
//! Built on first use, never during init: a function that never calls out never pays for it.
//!
//! `THAW_EXTRA_CA_FILE` may name a PEM file of extra CA certificates for private endpoints.
//! A file that cannot be read or holds no certificate gives one log line and a client
//! without it, so a typo never takes the caller down.

use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

/// The environment variable naming a PEM bundle of extra trusted CAs.
pub const EXTRA_CA_VAR: &str = "THAW_EXTRA_CA_FILE";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Lambda may freeze the sandbox for minutes; older pooled connections are likely dead.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, thiserror::Error)]
#[error("the HTTPS client could not be built: {0}")]
pub struct LazyClientError(String);

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EndpointError {
    #[error("{url:?} is not a valid URL: {reason}")]
    Invalid { url: String, reason: String },
    #[error("{url:?} uses plain HTTP, allowed only for localhost; use https://")]
    PlainHttp { url: String },
    #[error("{url:?} has scheme {scheme:?}; only https:// (or http:// to localhost) is allowed")]
    Scheme { url: String, scheme: String },
}

static CLIENT: OnceLock<Result<reqwest::Client, LazyClientError>> = OnceLock::new();

/// The shared client, built now if this is the first call.
pub fn get() -> Result<&'static reqwest::Client, LazyClientError> {
    CLIENT
        .get_or_init(|| {
            let ca_file = std::env::var_os(EXTRA_CA_VAR);
            let (client, warning) = build(ca_file.as_deref().map(Path::new));
            if let Some(warning) = warning {
                eprintln!("thaw: {warning}");
            }
            client
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Builds a client trusting the webpki roots plus, if given and usable, the CAs in `ca_file`.
/// The second value is the one log line to print about an unusable file.
pub fn build(ca_file: Option<&Path>) -> (Result<reqwest::Client, LazyClientError>, Option<String>) {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .user_agent(concat!("thaw/", env!("CARGO_PKG_VERSION")));
    let mut warning = None;
    if let Some(path) = ca_file {
        match read_certificates(path) {
            Ok(certs) => {
                for cert in certs {
                    builder = builder.add_root_certificate(cert);
                }
            }
            Err(why) => {
                warning = Some(format!(
                    "{EXTRA_CA_VAR}={}: {why}; continuing with the built-in roots only",
                    path.display()
                ))
            }
        }
    }
    let client = builder.build().map_err(|e| LazyClientError(e.to_string()));
    (client, warning)
}

fn read_certificates(path: &Path) -> Result<Vec<reqwest::Certificate>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read the file ({e})"))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| format!("not a PEM certificate bundle ({e})"))?;
    if certs.is_empty() {
        return Err("no PEM certificate in the file".into());
    }
    Ok(certs)
}

/// Checks that `raw` is a URL thaw may send data to: HTTPS anywhere, plain HTTP only to this
/// machine (local collectors and tests), never other schemes.
pub fn check_endpoint(raw: &str) -> Result<reqwest::Url, EndpointError> {
    let url = reqwest::Url::parse(raw.trim()).map_err(|e| EndpointError::Invalid {
        url: raw.to_owned(),
        reason: e.to_string(),
    })?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(EndpointError::PlainHttp {
            url: raw.to_owned(),
        }),
        other => Err(EndpointError::Scheme {
            url: raw.to_owned(),
            scheme: other.to_owned(),
        }),
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    // IPv6 hosts come bracketed, as in the URL.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Builds the client during init instead of on first use; a bench variant.
pub const EAGER_VAR: &str = "THAW_EAGER_TLS";

/// Whether init should build the client now: the `naive` build always does (as a
/// hand-written function typically would), otherwise only when `THAW_EAGER_TLS` asks.
pub fn eager_requested() -> bool {
    cfg!(feature = "naive") || std::env::var(EAGER_VAR).is_ok_and(|v| crate::debug::is_truthy(&v))
}

/// An error with its causes: reqwest's top-level message hides them (connection refused,
/// the TLS error, …).
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_is_allowed_everywhere_and_http_only_to_this_machine() {
        for ok in [
            "https://collector.example.com:4318",
            "http://localhost:4318",
            "http://127.0.0.1:9/x",
            "http://127.8.0.1",
            "http://[::1]:4318",
        ] {
            assert!(check_endpoint(ok).is_ok(), "{ok}");
        }
        assert!(matches!(
            check_endpoint("http://collector.example.com"),
            Err(EndpointError::PlainHttp { .. })
        ));
        assert!(matches!(
            check_endpoint("http://10.0.0.1:4318"),
            Err(EndpointError::PlainHttp { .. })
        ));
        assert!(matches!(
            check_endpoint("ftp://example.com"),
            Err(EndpointError::Scheme { .. })
        ));
        assert!(matches!(
            check_endpoint("not a url"),
            Err(EndpointError::Invalid { .. })
        ));
    }

    #[test]
    fn a_missing_ca_file_gives_one_warning_and_a_working_client() {
        let (client, warning) = build(Some(Path::new("/nonexistent/thaw-ca.pem")));
        assert!(client.is_ok());
        let warning = warning.expect("a warning");
        assert!(
            warning.contains(EXTRA_CA_VAR) && warning.contains("cannot read"),
            "{warning}"
        );
    }

    #[test]
    fn a_file_without_certificates_is_reported() {
        let path = std::env::temp_dir().join(format!("thaw-ca-{}.pem", std::process::id()));
        std::fs::write(&path, "this is not PEM\n").expect("write temp file");
        let (client, warning) = build(Some(&path));
        let _ = std::fs::remove_file(&path);
        assert!(client.is_ok());
        assert!(warning.expect("a warning").contains("no PEM certificate"));
    }

    #[test]
    fn a_valid_ca_file_is_accepted_silently() {
        // A self-signed CA (P-256), generated once for this test.
        let path = std::env::temp_dir().join(format!("thaw-ca-ok-{}.pem", std::process::id()));
        std::fs::write(&path, TEST_CA).expect("write temp file");
        let (client, warning) = build(Some(&path));
        let _ = std::fs::remove_file(&path);
        assert!(client.is_ok());
        assert_eq!(warning, None);
    }

    #[test]
    fn no_ca_file_means_no_warning() {
        let (client, warning) = build(None);
        assert!(client.is_ok());
        assert_eq!(warning, None);
    }

    const TEST_CA: &str = "\
-----BEGIN CERTIFICATE-----
MIIBhTCCASugAwIBAgIUWmRaZFsS8LOrrfW64UptWPex6GcwCgYIKoZIzj0EAwIw
FzEVMBMGA1UEAwwMdGhhdyB0ZXN0IENBMCAXDTI2MTEyMzAwMDE1NloYDzIxMjYx
MDMwMDAwMTU2WjAXMRUwEwYDVQQDDAx0aGF3IHRlc3QgQ0EwWTATBgcqhkjOPQIB
BggqhkjOPQMBBwNCAATcvR0HI6wQLGdIw7X8EFwxovuPmPDslQrBr/hlf+0WFVVS
L0FD6MrvsMd2WiWarZZ3H30m54Ls36cf9Ektcutbo1MwUTAdBgNVHQ4EFgQUdpS9
2NzhQfvfrNVBHRhQ4RxDu5YwHwYDVR0jBBgwFoAUdpS92NzhQfvfrNVBHRhQ4RxD
u5YwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiEAjQgbgtAWd6pa
wO/XS+27ID6xGH2kzoKZIv7WIzHOtH4CIDPQEg2ZKjZBdJuV1Vo2GSty5OluUSAZ
cAHyPYZ9x904
-----END CERTIFICATE-----
";
}
