//! The webhook body: the raw bytes that were signed, and the freshness of its `timestamp`.

use base64::Engine;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("the body is marked base64 but is not valid base64")]
    BadBase64,
    #[error("the body is not a JSON object")]
    NotAnObject,
    #[error("the body has no integer \"timestamp\" (Unix seconds)")]
    NoTimestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the event is {age_secs} s away from now, outside the {window_secs} s window")]
pub struct Stale {
    pub age_secs: u64,
    pub window_secs: u64,
}

/// The bytes the sender signed: Function URLs and API Gateway base64-encode non-text bodies.
pub fn raw_body(body: Option<&str>, is_base64: bool) -> Result<Vec<u8>, PayloadError> {
    let body = body.unwrap_or_default();
    if is_base64 {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|_| PayloadError::BadBase64)
    } else {
        Ok(body.as_bytes().to_vec())
    }
}

/// The body's `timestamp` field, in Unix seconds.
pub fn timestamp(body: &[u8]) -> Result<i64, PayloadError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| PayloadError::NotAnObject)?;
    value
        .as_object()
        .ok_or(PayloadError::NotAnObject)?
        .get("timestamp")
        .and_then(serde_json::Value::as_i64)
        .ok_or(PayloadError::NoTimestamp)
}

/// Accepts a timestamp within `window` of `now` on either side (clocks drift both ways).
pub fn check_fresh(timestamp: i64, now: i64, window: Duration) -> Result<(), Stale> {
    let age_secs = now.abs_diff(timestamp);
    let window_secs = window.as_secs();
    if age_secs <= window_secs {
        Ok(())
    } else {
        Err(Stale {
            age_secs,
            window_secs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_taken_raw_or_base64_decoded() {
        assert_eq!(raw_body(Some("{}"), false), Ok(b"{}".to_vec()));
        assert_eq!(raw_body(None, false), Ok(Vec::new()));
        assert_eq!(raw_body(Some("e30="), true), Ok(b"{}".to_vec()));
        assert_eq!(raw_body(Some("e30"), true), Err(PayloadError::BadBase64));
    }

    #[test]
    fn timestamps_must_be_integers_in_an_object() {
        assert_eq!(
            timestamp(br#"{"timestamp": 1700000000, "x": [1]}"#),
            Ok(1_700_000_000)
        );
        assert_eq!(timestamp(br#"{"timestamp": -5}"#), Ok(-5));
        for (body, err) in [
            (&br#"[1]"#[..], PayloadError::NotAnObject),
            (b"not json", PayloadError::NotAnObject),
            (b"", PayloadError::NotAnObject),
            (br#"{"timestamp": "1700000000"}"#, PayloadError::NoTimestamp),
            (br#"{"timestamp": 1.5}"#, PayloadError::NoTimestamp),
            (br#"{"timestamp": 1e30}"#, PayloadError::NoTimestamp),
            (br#"{"time": 1}"#, PayloadError::NoTimestamp),
        ] {
            assert_eq!(
                timestamp(body),
                Err(err),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn freshness_is_a_window_on_both_sides() {
        let window = Duration::from_secs(300);
        assert_eq!(check_fresh(1_000, 1_300, window), Ok(()));
        assert_eq!(check_fresh(1_300, 1_000, window), Ok(()));
        assert_eq!(
            check_fresh(1_000, 1_301, window),
            Err(Stale {
                age_secs: 301,
                window_secs: 300
            })
        );
        assert!(check_fresh(2_000, 1_000, window).is_err());
        assert!(check_fresh(i64::MIN, i64::MAX, window).is_err());
    }
}
