//! The webhook function's logic: verify the signature over the raw body, check the event is
//! fresh, forward it. Every outcome is an HTTP response with a JSON body; nothing panics.
//!
//! | Outcome | Status |
//! |---|---|
//! | forwarded, downstream answered 2xx | 200 `{"forwarded": true, "downstream_status": N}` |
//! | body marked base64 but not decodable, not a JSON object, no integer `timestamp` | 400 |
//! | signature missing, malformed or wrong | 401 |
//! | `timestamp` outside the freshness window | 401 |
//! | secret or forward URL not configured, HTTP client unavailable | 500 |
//! | downstream refused, timed out or answered non-2xx | 502 |

pub mod config;
pub mod forward;
pub mod payload;
pub mod signature;

use crate::http_event::{HttpRequest, HttpResponse};
use config::WebhookConfig;
use serde_json::json;

/// Handles one request at `now` (Unix seconds). `client` is the HTTP client for forwarding,
/// asked for only once the event is verified.
pub async fn handle<C>(
    request: &HttpRequest,
    request_id: &str,
    config: Option<&WebhookConfig>,
    client: C,
    now: i64,
) -> HttpResponse
where
    C: FnOnce() -> Result<reqwest::Client, String>,
{
    let Some(config) = config else {
        return error(500, "the webhook is not configured");
    };
    let body = match payload::raw_body(request.body.as_deref(), request.is_base64_encoded) {
        Ok(body) => body,
        Err(err) => return error(400, &err.to_string()),
    };
    let header = request
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(signature::HEADER))
        .map(|(_, value)| value.as_str());
    // Authenticate before reading the body, so unsigned callers learn nothing about it.
    if let Err(err) = signature::verify(&config.secret, &body, header) {
        return error(401, &err.to_string());
    }
    let timestamp = match payload::timestamp(&body) {
        Ok(t) => t,
        Err(err) => return error(400, &err.to_string()),
    };
    if let Err(stale) = payload::check_fresh(timestamp, now, config.max_age) {
        return error(401, &stale.to_string());
    }
    let client = match client() {
        Ok(client) => client,
        Err(why) => {
            eprintln!("webhook: {why}");
            return error(500, "no HTTP client to forward with");
        }
    };
    match forward::forward(
        &client,
        &config.forward_url,
        body,
        request_id,
        config.forward_timeout,
    )
    .await
    {
        Ok(status) => HttpResponse::json(
            200,
            &json!({"forwarded": true, "downstream_status": status}),
        ),
        Err(err) => {
            eprintln!("webhook: forwarding {request_id}: {err}");
            error(502, &err.to_string())
        }
    }
}

fn error(status: u16, message: &str) -> HttpResponse {
    HttpResponse::json(status, &json!({"error": message}))
}

#[cfg(test)]
mod tests;
