//! Telemetry in, metrics out: parses each batch the listener receives, derives invocation
//! metrics, writes their EMF lines and queues them for OTLP. Also tracks which invocations
//! still wait for their report, so SHUTDOWN can wait for the last one.

use super::exporter::OtlpExporter;
use super::metrics::{Aggregator, ExtensionInit, InvocationMetrics};
use super::telemetry::parse_batch;
use std::collections::VecDeque;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;
use tokio::time::Instant;

/// Invocations remembered as waiting for a report; older ones are forgotten (telemetry lost).
const MAX_OUTSTANDING: usize = 256;

/// Where EMF lines go.
pub type LineSink = Box<dyn Fn(&str) + Send + Sync>;

/// Counts of telemetry that could not be used.
#[derive(Debug, Default)]
pub struct TelemetryStats {
    pub batches: AtomicU64,
    /// POST bodies that were not a JSON array (answered 200 all the same).
    pub unparseable_batches: AtomicU64,
    /// Items inside a batch that were not readable events.
    pub malformed_items: AtomicU64,
    pub invocations: AtomicU64,
}

pub struct Pipeline {
    state: Mutex<State>,
    emf: Option<Emf>,
    otlp: Option<OtlpExporter>,
    stats: TelemetryStats,
    reported: Notify,
}

struct Emf {
    namespace: String,
    function_name: String,
    sink: LineSink,
}

#[derive(Default)]
struct State {
    aggregator: Aggregator,
    outstanding: VecDeque<String>,
}

impl Pipeline {
    /// `emf`: `(namespace, function name)` when EMF lines are wanted.
    pub fn new(emf: Option<(String, String)>, otlp: Option<OtlpExporter>) -> Self {
        Self::with_line_sink(emf, otlp, Box::new(write_stdout_line))
    }

    /// As [`Pipeline::new`], writing EMF lines to `sink` instead of stdout.
    pub fn with_line_sink(
        emf: Option<(String, String)>,
        otlp: Option<OtlpExporter>,
        sink: LineSink,
    ) -> Self {
        Self {
            state: Mutex::new(State::default()),
            emf: emf.map(|(namespace, function_name)| Emf {
                namespace,
                function_name,
                sink,
            }),
            otlp,
            stats: TelemetryStats::default(),
            reported: Notify::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock; if it ever did, the data is still counts.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Attaches the extension's init phases to the cold invocation's metrics.
    pub fn set_extension_init(&self, init: ExtensionInit) {
        self.state().aggregator.set_extension_init(init);
    }

    /// Notes an invocation Lambda announced (INVOKE); its report is now awaited.
    pub fn note_invoke(&self, request_id: String) {
        let mut state = self.state();
        if state.outstanding.len() == MAX_OUTSTANDING {
            state.outstanding.pop_front();
        }
        state.outstanding.push_back(request_id);
    }

    /// Invocations announced whose report has not arrived.
    pub fn outstanding(&self) -> usize {
        self.state().outstanding.len()
    }

    /// Handles one Telemetry API POST body. Never fails: what cannot be read is counted.
    pub fn ingest(&self, body: &[u8]) {
        self.stats.batches.fetch_add(1, Ordering::Relaxed);
        let batch = match parse_batch(body) {
            Ok(batch) => batch,
            Err(err) => {
                self.stats
                    .unparseable_batches
                    .fetch_add(1, Ordering::Relaxed);
                if crate::debug::enabled() {
                    eprintln!("thaw-extension: ignoring a telemetry body: {err}");
                }
                return;
            }
        };
        self.stats
            .malformed_items
            .fetch_add(batch.malformed as u64, Ordering::Relaxed);
        let now = unix_nanos_now();
        let completed: Vec<InvocationMetrics> = {
            let mut state = self.state();
            let done: Vec<InvocationMetrics> = batch
                .events
                .into_iter()
                .filter_map(|event| state.aggregator.observe(event, now))
                .collect();
            for m in &done {
                state.outstanding.retain(|id| *id != m.request_id);
            }
            done
        };
        if completed.is_empty() {
            return;
        }
        self.stats
            .invocations
            .fetch_add(completed.len() as u64, Ordering::Relaxed);
        for m in completed {
            if let Some(emf) = &self.emf {
                (emf.sink)(&super::emf::line(&emf.namespace, &emf.function_name, &m));
            }
            if let Some(otlp) = &self.otlp {
                otlp.enqueue(m);
            }
        }
        self.reported.notify_waiters();
    }

    /// Waits until every announced invocation has its report, or `until`. True if none is
    /// missing.
    pub async fn wait_for_reports(&self, until: Instant) -> bool {
        loop {
            let reported = self.reported.notified();
            tokio::pin!(reported);
            // Register before checking, so a report between the check and the wait counts.
            reported.as_mut().enable();
            if self.outstanding() == 0 {
                return true;
            }
            tokio::select! {
                () = reported => {}
                () = tokio::time::sleep_until(until) => return self.outstanding() == 0,
            }
        }
    }

    pub fn stats(&self) -> &TelemetryStats {
        &self.stats
    }

    pub fn otlp(&self) -> Option<&OtlpExporter> {
        self.otlp.as_ref()
    }
}

/// One EMF line per write, so lines from different batches never interleave.
fn write_stdout_line(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn unix_nanos_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use std::sync::Arc;
    use std::time::Duration;

    fn pipeline() -> (Arc<Pipeline>, Arc<Mutex<Vec<String>>>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink_lines = Arc::clone(&lines);
        let p = Pipeline::with_line_sink(
            Some(("thaw".into(), "fn".into())),
            None,
            Box::new(move |line| sink_lines.lock().expect("lock").push(line.to_owned())),
        );
        (Arc::new(p), lines)
    }

    fn report(id: &str, init: Option<f64>) -> Value {
        let mut metrics = json!({"durationMs": 5.0, "billedDurationMs": 5, "memorySizeMB": 128, "maxMemoryUsedMB": 30});
        if let Some(init) = init {
            metrics["initDurationMs"] = json!(init);
        }
        json!({"time": "2024-05-01T10:00:00.000Z", "type": "platform.report", "record": {"requestId": id, "metrics": metrics}})
    }

    fn emf(lines: &Mutex<Vec<String>>) -> Vec<Value> {
        lines
            .lock()
            .expect("lock")
            .iter()
            .map(|l| serde_json::from_str(l).expect("EMF JSON"))
            .collect()
    }

    #[test]
    fn reports_become_emf_lines_cold_then_warm() {
        let (p, lines) = pipeline();
        p.ingest(json!([report("a", Some(30.0))]).to_string().as_bytes());
        p.ingest(json!([report("b", None)]).to_string().as_bytes());
        let out = emf(&lines);
        assert_eq!(out.len(), 2);
        assert_eq!(
            (&out[0]["request_id"], &out[0]["cold"]),
            (&json!("a"), &json!(true))
        );
        assert_eq!(out[0]["init_duration"], 30.0);
        assert_eq!(
            (&out[1]["request_id"], &out[1]["cold"]),
            (&json!("b"), &json!(false))
        );
        assert_eq!(p.stats().invocations.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn garbage_is_counted_not_fatal() {
        let (p, lines) = pipeline();
        p.ingest(b"not json");
        p.ingest(b"{\"an\":\"object\"}");
        p.ingest(
            json!([1, {"type": "platform.start"}])
                .to_string()
                .as_bytes(),
        );
        assert_eq!(p.stats().batches.load(Ordering::Relaxed), 3);
        assert_eq!(p.stats().unparseable_batches.load(Ordering::Relaxed), 2);
        assert_eq!(p.stats().malformed_items.load(Ordering::Relaxed), 2);
        assert!(lines.lock().expect("lock").is_empty());
    }

    #[test]
    fn no_emf_when_disabled() {
        let lines = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink_lines = Arc::clone(&lines);
        let p = Pipeline::with_line_sink(
            None,
            None,
            Box::new(move |line| sink_lines.lock().expect("lock").push(line.to_owned())),
        );
        p.ingest(json!([report("a", None)]).to_string().as_bytes());
        assert!(lines.lock().expect("lock").is_empty());
        assert_eq!(p.stats().invocations.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn shutdown_waits_for_the_last_report_and_no_longer() {
        let (p, _lines) = pipeline();
        p.note_invoke("a".into());
        p.note_invoke("b".into());
        p.ingest(json!([report("a", None)]).to_string().as_bytes());
        assert_eq!(p.outstanding(), 1);

        let late = Arc::clone(&p);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            late.ingest(json!([report("b", None)]).to_string().as_bytes());
        });
        let started = Instant::now();
        assert!(p.wait_for_reports(started + Duration::from_secs(5)).await);
        assert!(started.elapsed() < Duration::from_secs(1));

        p.note_invoke("never-reported".into());
        let started = Instant::now();
        assert!(
            !p.wait_for_reports(started + Duration::from_millis(50))
                .await
        );
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(50) && waited < Duration::from_millis(500),
            "{waited:?}"
        );
    }

    #[test]
    fn outstanding_invocations_stay_bounded() {
        let (p, _lines) = pipeline();
        for i in 0..10_000 {
            p.note_invoke(format!("r{i}"));
        }
        assert_eq!(p.outstanding(), MAX_OUTSTANDING);
    }
}
