use super::*;
use crate::test_support::{Behaviour, refused_base, sink};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const SECRET: &[u8] = b"webhook-test-secret";
const NOW: i64 = 1_700_000_000;

fn config(forward_base: &str) -> WebhookConfig {
    WebhookConfig {
        secret: SECRET.to_vec(),
        forward_url: reqwest::Url::parse(&format!("{forward_base}/hook")).expect("url"),
        max_age: Duration::from_secs(300),
        forward_timeout: Duration::from_millis(300),
    }
}

fn request(body: &str, signature: Option<&str>) -> HttpRequest {
    let mut headers = BTreeMap::new();
    if let Some(signature) = signature {
        headers.insert(signature::HEADER.to_owned(), signature.to_owned());
    }
    HttpRequest {
        headers,
        body: Some(body.to_owned()),
        ..HttpRequest::default()
    }
}

fn signed(body: &str) -> HttpRequest {
    request(body, Some(&signature::sign(SECRET, body.as_bytes())))
}

fn event(timestamp: i64) -> String {
    json!({"timestamp": timestamp, "kind": "order.paid", "id": 7}).to_string()
}

fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|e| e.to_string())
}

async fn status_and_error(
    req: &HttpRequest,
    config: Option<&WebhookConfig>,
) -> (u16, serde_json::Value) {
    let response = handle(req, "req-1", config, client, NOW).await;
    assert_eq!(response.headers["content-type"], "application/json");
    let body: serde_json::Value = serde_json::from_str(&response.body).expect("JSON body");
    (response.status_code, body)
}

#[tokio::test]
async fn a_valid_event_is_forwarded_verbatim_and_answered_200() {
    let sink = sink(Behaviour::Answer(204)).await;
    let body = event(NOW - 10);
    let (status, reply) = status_and_error(&signed(&body), Some(&config(&sink.base))).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply, json!({"forwarded": true, "downstream_status": 204}));
    let forwarded = sink.recorded();
    assert_eq!(forwarded.len(), 1);
    assert_eq!(forwarded[0].path, "/hook");
    assert_eq!(forwarded[0].body, body.as_bytes());
    assert_eq!(
        forwarded[0].header("content-type"),
        Some("application/json")
    );
    assert_eq!(forwarded[0].header("x-thaw-request-id"), Some("req-1"));
}

#[tokio::test]
async fn base64_bodies_are_verified_on_their_decoded_bytes() {
    use base64::Engine;
    let sink = sink(Behaviour::Answer(200)).await;
    let body = event(NOW);
    let mut req = signed(&body);
    req.body = Some(base64::engine::general_purpose::STANDARD.encode(&body));
    req.is_base64_encoded = true;
    let (status, _) = status_and_error(&req, Some(&config(&sink.base))).await;
    assert_eq!(status, 200);
    assert_eq!(sink.recorded()[0].body, body.as_bytes());
}

#[tokio::test]
async fn bad_missing_or_malformed_signatures_are_401_and_nothing_is_forwarded() {
    let sink = sink(Behaviour::Answer(200)).await;
    let cfg = config(&sink.base);
    let body = event(NOW);
    let wrong_key = signature::sign(b"not the secret", body.as_bytes());
    for req in [
        request(&body, None),
        request(&body, Some("sha256=abc")),
        request(&body, Some(&wrong_key)),
        // Signed, then tampered with.
        request(
            &event(NOW + 1),
            Some(&signature::sign(SECRET, body.as_bytes())),
        ),
    ] {
        let (status, reply) = status_and_error(&req, Some(&cfg)).await;
        assert_eq!(status, 401, "{reply}");
        assert!(reply["error"].is_string(), "{reply}");
    }
    assert!(sink.recorded().is_empty());
}

#[tokio::test]
async fn stale_and_future_events_are_401() {
    let sink = sink(Behaviour::Answer(200)).await;
    let cfg = config(&sink.base);
    for ts in [NOW - 301, NOW + 301, 0] {
        let (status, reply) = status_and_error(&signed(&event(ts)), Some(&cfg)).await;
        assert_eq!(status, 401, "{ts}: {reply}");
        assert!(
            reply["error"]
                .as_str()
                .unwrap_or_default()
                .contains("window"),
            "{reply}"
        );
    }
    assert!(sink.recorded().is_empty());
}

#[tokio::test]
async fn malformed_bodies_are_400() {
    let sink = sink(Behaviour::Answer(200)).await;
    let cfg = config(&sink.base);
    for body in [
        "not json",
        "[1,2]",
        r#"{"no":"timestamp"}"#,
        r#"{"timestamp":"now"}"#,
    ] {
        let (status, reply) = status_and_error(&signed(body), Some(&cfg)).await;
        assert_eq!(status, 400, "{body}: {reply}");
    }
    let mut undecodable = signed("{}");
    undecodable.body = Some("%%% not base64".into());
    undecodable.is_base64_encoded = true;
    assert_eq!(status_and_error(&undecodable, Some(&cfg)).await.0, 400);
    assert!(sink.recorded().is_empty());
}

#[tokio::test]
async fn downstream_failures_are_502_within_the_forward_timeout() {
    let failing = sink(Behaviour::Answer(500)).await;
    let hanging = sink(Behaviour::Hang).await;
    for base in [failing.base.clone(), hanging.base.clone(), refused_base()] {
        let started = Instant::now();
        let (status, reply) = status_and_error(&signed(&event(NOW)), Some(&config(&base))).await;
        assert_eq!(status, 502, "{base}: {reply}");
        assert!(
            reply["error"]
                .as_str()
                .unwrap_or_default()
                .contains("downstream")
        );
        // The forward timeout is 300 ms.
        assert!(started.elapsed() < Duration::from_secs(2), "{base}");
    }
    assert_eq!(failing.recorded().len(), 1);
    assert_eq!(hanging.recorded().len(), 1);
}

#[tokio::test]
async fn missing_configuration_or_client_is_500_not_a_crash() {
    let (status, reply) = status_and_error(&signed(&event(NOW)), None).await;
    assert_eq!(status, 500);
    assert_eq!(reply["error"], "the webhook is not configured");

    let sink = sink(Behaviour::Answer(200)).await;
    let response = handle(
        &signed(&event(NOW)),
        "r",
        Some(&config(&sink.base)),
        || Err("no TLS today".to_owned()),
        NOW,
    )
    .await;
    assert_eq!(response.status_code, 500);
    assert!(sink.recorded().is_empty());
}
