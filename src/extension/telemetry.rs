//! The Telemetry API's batches, parsed defensively.
//!
//! Lambda POSTs a JSON array of `{"time", "type", "record"}` items. Only the `platform.*`
//! events that carry init and invocation metrics are decoded; every other type (function and
//! extension logs of any shape, platform events we do not use, types Lambda adds later) is
//! accepted as [`TelemetryEvent::Other`]. An item that is not an object, or a known event whose
//! record lacks what we need, is counted as malformed and skipped; the rest of the batch
//! still counts.

use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// One telemetry event, reduced to what the metrics need.
#[derive(Debug, Clone, PartialEq)]
pub enum TelemetryEvent {
    InitStart {
        /// `on-demand`, `provisioned-concurrency` or `snap-start`.
        initialization_type: Option<String>,
    },
    InitRuntimeDone {
        status: Option<String>,
    },
    InitReport {
        duration_ms: Option<f64>,
    },
    Start {
        request_id: String,
    },
    RuntimeDone {
        request_id: String,
        duration_ms: Option<f64>,
        status: Option<String>,
    },
    Report {
        request_id: String,
        status: Option<String>,
        /// Event time, ns since the Unix epoch, when `time` was a valid RFC 3339 timestamp.
        time_unix_nanos: Option<u64>,
        metrics: ReportMetrics,
    },
    /// Any other type, accepted and ignored.
    Other,
}

/// `platform.report`'s `record.metrics`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportMetrics {
    pub duration_ms: f64,
    #[serde(default)]
    pub billed_duration_ms: Option<f64>,
    #[serde(default, rename = "memorySizeMB")]
    pub memory_size_mb: Option<f64>,
    #[serde(default, rename = "maxMemoryUsedMB")]
    pub max_memory_used_mb: Option<f64>,
    /// Present only on the first invocation after an on-demand init.
    #[serde(default)]
    pub init_duration_ms: Option<f64>,
}

/// A parsed batch.
#[derive(Debug, Default, PartialEq)]
pub struct Batch {
    pub events: Vec<TelemetryEvent>,
    /// Items skipped because they were not telemetry events we could read.
    pub malformed: usize,
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("telemetry body is not a JSON array: {0}")]
pub struct ParseError(String);

/// Parses one POST body from the Telemetry API.
pub fn parse_batch(body: &[u8]) -> Result<Batch, ParseError> {
    let items: Vec<&RawValue> =
        serde_json::from_slice(body).map_err(|e| ParseError(e.to_string()))?;
    let mut batch = Batch {
        events: Vec::with_capacity(items.len()),
        malformed: 0,
    };
    for item in items {
        match parse_item(item) {
            Some(event) => batch.events.push(event),
            None => batch.malformed += 1,
        }
    }
    Ok(batch)
}

#[derive(Deserialize)]
struct RawEvent<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    time: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    record: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InitStartRecord {
    #[serde(default)]
    initialization_type: Option<String>,
}

#[derive(Deserialize)]
struct StatusRecord {
    #[serde(default)]
    status: Option<String>,
}

#[derive(Deserialize)]
struct InitReportRecord {
    #[serde(default)]
    metrics: Option<DurationMetrics>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DurationMetrics {
    #[serde(default)]
    duration_ms: Option<f64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartRecord {
    request_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RuntimeDoneRecord {
    request_id: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    metrics: Option<DurationMetrics>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReportRecord {
    request_id: String,
    #[serde(default)]
    status: Option<String>,
    metrics: ReportMetrics,
}

fn parse_item(item: &RawValue) -> Option<TelemetryEvent> {
    let raw: RawEvent = serde_json::from_str(item.get()).ok()?;
    let record = || raw.record.map(RawValue::get);
    let event = match raw.kind.as_ref() {
        "platform.initStart" => {
            let r: InitStartRecord = serde_json::from_str(record()?).ok()?;
            TelemetryEvent::InitStart {
                initialization_type: r.initialization_type,
            }
        }
        "platform.initRuntimeDone" => {
            let r: StatusRecord = serde_json::from_str(record()?).ok()?;
            TelemetryEvent::InitRuntimeDone { status: r.status }
        }
        "platform.initReport" => {
            let r: InitReportRecord = serde_json::from_str(record()?).ok()?;
            TelemetryEvent::InitReport {
                duration_ms: r.metrics.and_then(|m| m.duration_ms),
            }
        }
        "platform.start" => {
            let r: StartRecord = serde_json::from_str(record()?).ok()?;
            TelemetryEvent::Start {
                request_id: r.request_id,
            }
        }
        "platform.runtimeDone" => {
            let r: RuntimeDoneRecord = serde_json::from_str(record()?).ok()?;
            TelemetryEvent::RuntimeDone {
                request_id: r.request_id,
                duration_ms: r.metrics.and_then(|m| m.duration_ms),
                status: r.status,
            }
        }
        "platform.report" => {
            let r: ReportRecord = serde_json::from_str(record()?).ok()?;
            TelemetryEvent::Report {
                request_id: r.request_id,
                status: r.status,
                time_unix_nanos: raw.time.as_deref().and_then(rfc3339_unix_nanos),
                metrics: r.metrics,
            }
        }
        _ => TelemetryEvent::Other,
    };
    Some(event)
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` (what Lambda sends) to ns since the
/// Unix epoch; `None` for anything else or before 1970.
pub fn rfc3339_unix_nanos(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let s = text.get(range)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }
    let mut rest = &text[19..];
    let mut nanos: i64 = 0;
    if let Some(fraction) = rest.strip_prefix('.') {
        let len = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if len == 0 {
            return None;
        }
        // Only the first 9 digits carry ns; the rest are below resolution.
        for (i, c) in fraction
            .bytes()
            .take(9)
            .take_while(u8::is_ascii_digit)
            .enumerate()
        {
            nanos += i64::from(c - b'0') * 10_i64.pow(8 - i as u32);
        }
        rest = &fraction[len..];
    }
    let offset_secs = match rest.as_bytes() {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let two = |a: u8, b: u8| -> Option<i64> {
                (a.is_ascii_digit() && b.is_ascii_digit())
                    .then(|| i64::from(a - b'0') * 10 + i64::from(b - b'0'))
            };
            let secs = two(*h1, *h2)? * 3600 + two(*m1, *m2)? * 60;
            if *sign == b'+' { secs } else { -secs }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_secs;
    let total = i128::from(secs) * 1_000_000_000 + i128::from(nanos);
    u64::try_from(total).ok()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests;
