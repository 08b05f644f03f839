//! The Telemetry API: `platform.*` events appended to one log as they happen, and per
//! subscriber a delivery task that POSTs batches (JSON arrays) to the subscriber's
//! destination, honouring its buffering settings, as Lambda does.

use super::state::Shared;
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Lambda's limits for a subscription's buffering.
const MAX_ITEMS: std::ops::RangeInclusive<u64> = 1_000..=10_000;
const MAX_BYTES: std::ops::RangeInclusive<u64> = 262_144..=1_048_576;
const TIMEOUT_MS: std::ops::RangeInclusive<u64> = 25..=30_000;
/// Lambda delivers to the sandbox; the emulator's sandbox is this machine's loopback.
const SANDBOX_HOST: &str = "sandbox.localdomain";
/// How long one delivery may take before it counts as failed.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(2);
const DELIVERY_ATTEMPTS: u32 = 3;

/// Every telemetry event so far, in order.
#[derive(Debug, Default)]
pub struct Log {
    pub events: Vec<Value>,
}

impl Log {
    pub fn push(&mut self, kind: &str, record: Value) {
        self.events.push(json!({
            "time": crate::timefmt::rfc3339_millis(SystemTime::now()),
            "type": kind,
            "record": record,
        }));
    }
}

/// One subscriber and what was delivered to it.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub extension_id: String,
    pub uri: String,
    pub types: Vec<String>,
    pub max_items: usize,
    pub max_bytes: usize,
    pub timeout: Duration,
    pub delivered_batches: u64,
    pub delivered_events: u64,
    pub failed_deliveries: u64,
}

/// Validates a subscription request like Lambda does; `Err` is the 400 message.
pub fn parse_subscription(extension_id: &str, body: &[u8]) -> Result<Subscription, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("body is not JSON: {e}"))?;
    match v["schemaVersion"].as_str() {
        Some("2022-07-01" | "2022-12-13" | "2025-01-29") => {}
        other => return Err(format!("unsupported schemaVersion {other:?}")),
    }
    let types: Vec<String> = serde_json::from_value(v["types"].clone())
        .map_err(|_| "types must be a list".to_owned())?;
    if types.is_empty()
        || types
            .iter()
            .any(|t| !matches!(t.as_str(), "platform" | "function" | "extension"))
    {
        return Err(format!("invalid types {types:?}"));
    }
    let dest = &v["destination"];
    if dest["protocol"].as_str() != Some("HTTP") {
        return Err("destination.protocol must be HTTP".into());
    }
    let uri = dest["URI"].as_str().ok_or("destination.URI is missing")?;
    let uri = uri.replacen(SANDBOX_HOST, "127.0.0.1", 1);
    let b = &v["buffering"];
    let pick =
        |field: &str, range: std::ops::RangeInclusive<u64>, default: u64| -> Result<u64, String> {
            match b.get(field) {
                None => Ok(default),
                Some(x) => match x.as_u64() {
                    Some(n) if range.contains(&n) => Ok(n),
                    _ => Err(format!("buffering.{field} {x} outside {range:?}")),
                },
            }
        };
    Ok(Subscription {
        extension_id: extension_id.to_owned(),
        uri,
        types,
        max_items: pick("maxItems", MAX_ITEMS, 10_000)? as usize,
        max_bytes: pick("maxBytes", MAX_BYTES, 262_144)? as usize,
        timeout: Duration::from_millis(pick("timeoutMs", TIMEOUT_MS, 1_000)?),
        delivered_batches: 0,
        delivered_events: 0,
        failed_deliveries: 0,
    })
}

fn wanted(types: &[String], event: &Value) -> bool {
    let kind = event["type"].as_str().unwrap_or_default();
    types.iter().any(|t| kind.starts_with(&format!("{t}.")))
}

/// Delivers the log to subscription number `index` until the emulator stops.
pub async fn deliver(state: Shared, index: usize) {
    let mut cursor = 0;
    loop {
        let Some(sub) = state.lock().subscriptions.get(index).cloned() else {
            return;
        };
        // Wait for a first undelivered event, then buffer up to the timeout or maxItems.
        state
            .wait_for(|s| {
                (s.telemetry.events[cursor.min(s.telemetry.events.len())..]
                    .iter()
                    .any(|e| wanted(&sub.types, e)))
                .then_some(())
            })
            .await;
        let full = tokio::time::timeout(
            sub.timeout,
            state.wait_for(|s| {
                let n = s.telemetry.events[cursor..]
                    .iter()
                    .filter(|e| wanted(&sub.types, e))
                    .count();
                (n >= sub.max_items).then_some(())
            }),
        );
        let _ = full.await;
        let (batch, next) = {
            let s = state.lock();
            let mut batch = Vec::new();
            let mut bytes = 2;
            let mut next = cursor;
            for event in &s.telemetry.events[cursor..] {
                let size = event.to_string().len() + 1;
                if wanted(&sub.types, event) {
                    if batch.len() >= sub.max_items
                        || (bytes + size > sub.max_bytes && !batch.is_empty())
                    {
                        break;
                    }
                    bytes += size;
                    batch.push(event.clone());
                }
                next += 1;
            }
            (batch, next)
        };
        let body = Value::Array(batch.clone()).to_string();
        let mut delivered = false;
        for attempt in 0..DELIVERY_ATTEMPTS {
            match post_json(&sub.uri, body.as_bytes(), DELIVERY_TIMEOUT).await {
                Ok(status) if (200..300).contains(&status) => {
                    delivered = true;
                    break;
                }
                _ => tokio::time::sleep(Duration::from_millis(50 << attempt)).await,
            }
        }
        state.update(|s| {
            if let Some(sub) = s.subscriptions.get_mut(index) {
                if delivered {
                    sub.delivered_batches += 1;
                    sub.delivered_events += batch.len() as u64;
                } else {
                    sub.failed_deliveries += 1;
                }
            }
        });
        cursor = next;
    }
}

/// POSTs `body` as JSON to an `http://host:port/path` URI; returns the status code.
pub async fn post_json(uri: &str, body: &[u8], timeout: Duration) -> Result<u16> {
    let rest = uri
        .strip_prefix("http://")
        .with_context(|| format!("{uri}: only http:// is delivered"))?;
    let (authority, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_owned()), |(a, p)| (a, format!("/{p}")));
    let exchange = async {
        let mut stream = TcpStream::connect(authority).await?;
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    let response = tokio::time::timeout(timeout, exchange)
        .await
        .with_context(|| format!("{uri}: no answer within {timeout:?}"))??;
    let line = String::from_utf8_lossy(&response);
    let status = line.split_whitespace().nth(1).and_then(|s| s.parse().ok());
    match status {
        Some(code) => Ok(code),
        None => bail!("{uri}: not an HTTP response"),
    }
}

/// Peak resident memory of `pids` (VmHWM), in MB rounded up.
pub fn max_memory_mb(pids: &[u32]) -> u64 {
    let kb: u64 = pids
        .iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
        .filter_map(|status| {
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .sum();
    kb.div_ceil(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> Vec<u8> {
        v.to_string().into_bytes()
    }

    #[test]
    fn subscriptions_are_validated_and_the_sandbox_host_rewritten() {
        let ok = parse_subscription(
            "id",
            &body(json!({"schemaVersion": "2022-12-13", "types": ["platform"],
                "buffering": {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25},
                "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:4243/t"}})),
        )
        .expect("valid");
        assert_eq!(ok.uri, "http://127.0.0.1:4243/t");
        assert_eq!(ok.timeout, Duration::from_millis(25));
        for bad in [
            json!({"schemaVersion": "2020-01-01", "types": ["platform"], "destination": {"protocol": "HTTP", "URI": "http://x"}}),
            json!({"schemaVersion": "2022-12-13", "types": ["bogus"], "destination": {"protocol": "HTTP", "URI": "http://x"}}),
            json!({"schemaVersion": "2022-12-13", "types": ["platform"], "destination": {"protocol": "TCP", "URI": "http://x"}}),
            json!({"schemaVersion": "2022-12-13", "types": ["platform"], "buffering": {"timeoutMs": 5}, "destination": {"protocol": "HTTP", "URI": "http://x"}}),
        ] {
            assert!(
                parse_subscription("id", &body(bad.clone())).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn types_select_events_by_prefix() {
        let types = vec!["platform".to_owned()];
        assert!(wanted(&types, &json!({"type": "platform.report"})));
        assert!(!wanted(&types, &json!({"type": "function"})));
    }
}
