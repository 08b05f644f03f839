//! The Telemetry API subscription request.

use super::config::Buffering;
use serde_json::json;

/// The schema whose `platform.*` records carry the metrics we read.
pub const SCHEMA_VERSION: &str = "2022-12-13";
/// Lambda resolves this name to the sandbox the extension runs in.
pub const SANDBOX_HOST: &str = "sandbox.localdomain";

/// The destination Lambda POSTs batches to: the listener's bound port, in the sandbox.
pub fn destination_uri(port: u16) -> String {
    format!("http://{SANDBOX_HOST}:{port}")
}

/// The `PUT /2022-07-01/telemetry` body: platform events only, to our listener.
pub fn request_body(buffering: Buffering, port: u16) -> String {
    json!({
        "schemaVersion": SCHEMA_VERSION,
        "types": ["platform"],
        "buffering": {
            "maxItems": buffering.max_items,
            "maxBytes": buffering.max_bytes,
            "timeoutMs": buffering.timeout_ms,
        },
        "destination": {"protocol": "HTTP", "URI": destination_uri(port)},
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_names_the_schema_platform_events_buffering_and_the_bound_port() {
        let body = request_body(
            Buffering {
                max_items: 1000,
                max_bytes: 262_144,
                timeout_ms: 25,
            },
            40123,
        );
        let v: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(
            v,
            json!({
                "schemaVersion": "2022-12-13",
                "types": ["platform"],
                "buffering": {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25},
                "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:40123"},
            })
        );
    }
}
