//! Per-invocation metrics derived from the telemetry event stream.

use super::telemetry::TelemetryEvent;
use crate::checkpoints::Phase;
use std::collections::VecDeque;
use std::sync::Arc;

/// Runtime durations waiting for their report; more means reports stopped coming.
const MAX_PENDING_RUNTIME_DONE: usize = 64;

/// What one invocation cost, as reported to CloudWatch (EMF) and OTLP.
#[derive(Debug, Clone, PartialEq)]
pub struct InvocationMetrics {
    pub request_id: String,
    /// `success`, `error`, `timeout`, … as Lambda reported it.
    pub status: Option<String>,
    /// The first invocation of this execution environment.
    pub cold: bool,
    /// How the environment was initialised (`on-demand`, `provisioned-concurrency`, …).
    pub initialization_type: Option<String>,
    /// Function init duration; on the cold invocation only.
    pub init_duration_ms: Option<f64>,
    pub duration_ms: f64,
    pub billed_duration_ms: Option<f64>,
    pub memory_size_mb: Option<f64>,
    pub max_memory_used_mb: Option<f64>,
    /// The runtime's own time for the invocation (`platform.runtimeDone`).
    pub runtime_duration_ms: Option<f64>,
    /// When Lambda reported it, ns since the Unix epoch.
    pub time_unix_nanos: u64,
    /// The extension's own init phases; on the cold invocation only.
    pub extension_init: Option<Arc<ExtensionInit>>,
}

/// The extension's init, as its checkpoints measured it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtensionInit {
    pub phases: Vec<Phase>,
    /// Process start to the first `/event/next`, in ms.
    pub total_ms: f64,
}

impl ExtensionInit {
    pub fn from_phases(phases: &[Phase]) -> Self {
        Self {
            phases: phases.to_vec(),
            total_ms: phases.last().map_or(0.0, Phase::cumulative_ms),
        }
    }
}

/// Turns a stream of telemetry events into [`InvocationMetrics`], one per `platform.report`.
#[derive(Debug, Default)]
pub struct Aggregator {
    seen_report: bool,
    initialization_type: Option<String>,
    init_duration_ms: Option<f64>,
    runtime_done: VecDeque<(String, f64)>,
    extension_init: Option<Arc<ExtensionInit>>,
}

impl Aggregator {
    /// Attaches the extension's init phases to the cold invocation's metrics.
    pub fn set_extension_init(&mut self, init: ExtensionInit) {
        self.extension_init = Some(Arc::new(init));
    }

    /// Feeds one event; returns the invocation it completes, if any. `now_unix_nanos` stands
    /// in for a report without a readable time.
    pub fn observe(
        &mut self,
        event: TelemetryEvent,
        now_unix_nanos: u64,
    ) -> Option<InvocationMetrics> {
        match event {
            TelemetryEvent::InitStart {
                initialization_type,
            } => self.initialization_type = initialization_type,
            TelemetryEvent::InitReport { duration_ms } => self.init_duration_ms = duration_ms,
            TelemetryEvent::RuntimeDone {
                request_id,
                duration_ms: Some(ms),
                ..
            } => {
                if self.runtime_done.len() == MAX_PENDING_RUNTIME_DONE {
                    self.runtime_done.pop_front();
                }
                self.runtime_done.push_back((request_id, ms));
            }
            TelemetryEvent::Report {
                request_id,
                status,
                time_unix_nanos,
                metrics,
            } => {
                // An execution environment inits once, and this extension lives exactly as
                // long as it: the first report it sees is the cold invocation. Lambda's own
                // marker, initDurationMs, also says so (it is absent after provisioned
                // concurrency or SnapStart inits, which are cold environments all the same).
                let cold = !self.seen_report || metrics.init_duration_ms.is_some();
                self.seen_report = true;
                let runtime_duration_ms = self
                    .runtime_done
                    .iter()
                    .position(|(id, _)| *id == request_id)
                    .and_then(|i| self.runtime_done.remove(i))
                    .map(|(_, ms)| ms);
                return Some(InvocationMetrics {
                    request_id,
                    status,
                    cold,
                    initialization_type: cold.then(|| self.initialization_type.clone()).flatten(),
                    init_duration_ms: if cold {
                        metrics.init_duration_ms.or(self.init_duration_ms)
                    } else {
                        None
                    },
                    duration_ms: metrics.duration_ms,
                    billed_duration_ms: metrics.billed_duration_ms,
                    memory_size_mb: metrics.memory_size_mb,
                    max_memory_used_mb: metrics.max_memory_used_mb,
                    runtime_duration_ms,
                    time_unix_nanos: time_unix_nanos.unwrap_or(now_unix_nanos),
                    extension_init: if cold {
                        self.extension_init.clone()
                    } else {
                        None
                    },
                });
            }
            TelemetryEvent::InitRuntimeDone { .. }
            | TelemetryEvent::Start { .. }
            | TelemetryEvent::RuntimeDone { .. }
            | TelemetryEvent::Other => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extension::telemetry::{ReportMetrics, parse_batch};
    use std::time::Duration;

    fn report(id: &str, duration: f64, init: Option<f64>) -> TelemetryEvent {
        TelemetryEvent::Report {
            request_id: id.into(),
            status: Some("success".into()),
            time_unix_nanos: Some(7),
            metrics: ReportMetrics {
                duration_ms: duration,
                billed_duration_ms: Some(duration.ceil()),
                memory_size_mb: Some(128.0),
                max_memory_used_mb: Some(30.0),
                init_duration_ms: init,
            },
        }
    }

    fn feed(agg: &mut Aggregator, events: Vec<TelemetryEvent>) -> Vec<InvocationMetrics> {
        events
            .into_iter()
            .filter_map(|e| agg.observe(e, 99))
            .collect()
    }

    fn phase(name: &'static str, ms: u64, at: u64) -> Phase {
        Phase {
            name,
            delta: Duration::from_millis(ms),
            cumulative: Duration::from_millis(at),
        }
    }

    #[test]
    fn the_first_invocation_is_cold_and_carries_init_and_the_extension_phases() {
        let mut agg = Aggregator::default();
        agg.set_extension_init(ExtensionInit::from_phases(&[
            phase("register", 1, 1),
            phase("ready", 2, 3),
        ]));
        let out = feed(
            &mut agg,
            vec![
                TelemetryEvent::InitStart {
                    initialization_type: Some("on-demand".into()),
                },
                TelemetryEvent::InitReport {
                    duration_ms: Some(40.0),
                },
                TelemetryEvent::Start {
                    request_id: "a".into(),
                },
                TelemetryEvent::RuntimeDone {
                    request_id: "a".into(),
                    duration_ms: Some(10.5),
                    status: None,
                },
                report("a", 11.0, Some(40.0)),
                TelemetryEvent::Start {
                    request_id: "b".into(),
                },
                report("b", 3.0, None),
            ],
        );
        assert_eq!(out.len(), 2);
        let (cold, warm) = (&out[0], &out[1]);
        assert!(cold.cold);
        assert_eq!(cold.request_id, "a");
        assert_eq!(cold.init_duration_ms, Some(40.0));
        assert_eq!(cold.initialization_type.as_deref(), Some("on-demand"));
        assert_eq!(cold.runtime_duration_ms, Some(10.5));
        assert_eq!(cold.duration_ms, 11.0);
        assert_eq!(cold.billed_duration_ms, Some(11.0));
        assert_eq!(cold.max_memory_used_mb, Some(30.0));
        assert_eq!(cold.time_unix_nanos, 7);
        let init = cold
            .extension_init
            .as_ref()
            .expect("phases on the cold one");
        assert_eq!(init.total_ms, 3.0);
        assert_eq!(init.phases.len(), 2);

        assert!(!warm.cold);
        assert_eq!(warm.request_id, "b");
        assert_eq!(warm.init_duration_ms, None);
        assert_eq!(warm.initialization_type, None);
        assert_eq!(warm.runtime_duration_ms, None);
        assert_eq!(warm.extension_init, None);
    }

    #[test]
    fn init_duration_comes_from_init_report_when_the_report_lacks_it() {
        let mut agg = Aggregator::default();
        let out = feed(
            &mut agg,
            vec![
                TelemetryEvent::InitReport {
                    duration_ms: Some(12.0),
                },
                report("a", 1.0, None),
            ],
        );
        assert!(out[0].cold);
        assert_eq!(out[0].init_duration_ms, Some(12.0));
    }

    #[test]
    fn a_report_with_init_duration_is_cold_even_later() {
        let mut agg = Aggregator::default();
        let out = feed(
            &mut agg,
            vec![
                report("a", 1.0, None),
                report("b", 1.0, None),
                report("c", 1.0, Some(5.0)),
            ],
        );
        assert_eq!(
            out.iter().map(|m| m.cold).collect::<Vec<_>>(),
            [true, false, true]
        );
        assert_eq!(out[2].init_duration_ms, Some(5.0));
    }

    #[test]
    fn reports_without_time_use_the_receive_time() {
        let mut agg = Aggregator::default();
        let mut event = report("a", 1.0, None);
        if let TelemetryEvent::Report {
            time_unix_nanos, ..
        } = &mut event
        {
            *time_unix_nanos = None;
        }
        assert_eq!(
            agg.observe(event, 1234).map(|m| m.time_unix_nanos),
            Some(1234)
        );
    }

    #[test]
    fn runtime_durations_without_reports_stay_bounded() {
        let mut agg = Aggregator::default();
        for i in 0..10_000 {
            agg.observe(
                TelemetryEvent::RuntimeDone {
                    request_id: format!("r{i}"),
                    duration_ms: Some(1.0),
                    status: None,
                },
                0,
            );
        }
        assert_eq!(agg.runtime_done.len(), MAX_PENDING_RUNTIME_DONE);
    }

    #[test]
    fn a_parsed_lambda_batch_gives_cold_then_warm() {
        let body = serde_json::json!([
            {"time":"2024-05-01T10:00:00.000Z","type":"platform.initStart","record":{"initializationType":"on-demand"}},
            {"time":"2024-05-01T10:00:00.021Z","type":"platform.initReport","record":{"metrics":{"durationMs":21.5}}},
            {"time":"2024-05-01T10:00:00.041Z","type":"platform.report","record":{"requestId":"r-1","metrics":{"durationMs":18.0,"initDurationMs":21.5}}},
            {"time":"2024-05-01T10:00:01.041Z","type":"platform.report","record":{"requestId":"r-2","metrics":{"durationMs":2.0}}},
        ]);
        let batch = parse_batch(body.to_string().as_bytes()).expect("valid");
        let mut agg = Aggregator::default();
        let out = feed(&mut agg, batch.events);
        assert_eq!(
            out.iter()
                .map(|m| (m.request_id.as_str(), m.cold, m.init_duration_ms))
                .collect::<Vec<_>>(),
            [("r-1", true, Some(21.5)), ("r-2", false, None)]
        );
    }
}
