//! The emulator's shared state: registered extensions and their event queues, queued and
//! in-flight invocations, the INIT gate, and the telemetry log that the `platform.*` events
//! are appended to. Long polls wait on one `Notify`.

use super::telemetry::{self, Log, Subscription};
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{Notify, oneshot};

/// The ARN the emulated function reports.
pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:000000000000:function:thaw-emulated";

/// An extension as the Extensions API knows it.
#[derive(Debug)]
pub struct Extension {
    pub id: String,
    pub name: String,
    pub events: Vec<String>,
    pub queue: VecDeque<Value>,
    /// Has called `/event/next` at least once (INIT is over for it).
    pub ready: bool,
    /// When it first called `/event/next`.
    pub ready_at: Option<Instant>,
    /// Blocked in `/event/next` right now.
    pub waiting: bool,
}

/// An invocation waiting for the runtime's `/next`.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    pub payload: Vec<u8>,
    pub deadline_ms: u64,
}

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Response(Vec<u8>),
    Error { error_type: String, body: Vec<u8> },
    TimedOut,
}

impl Outcome {
    /// The status word Lambda's telemetry uses.
    pub fn status(&self) -> &'static str {
        match self {
            Outcome::Response(_) => "success",
            Outcome::Error { .. } => "error",
            Outcome::TimedOut => "timeout",
        }
    }
}

/// An invocation handed out, waiting for its outcome.
#[derive(Debug)]
pub struct InFlight {
    tx: oneshot::Sender<Outcome>,
    /// When the runtime took it (None while queued).
    started: Option<Instant>,
}

/// Timestamps of the INIT phase.
#[derive(Debug, Default, Clone, Copy)]
pub struct InitTimes {
    pub started: Option<Instant>,
    pub runtime_ready: Option<Instant>,
    /// All extensions and the runtime are waiting for events: INIT is over.
    pub done: Option<Instant>,
}

#[derive(Debug, Default)]
pub struct Inner {
    pub extensions: Vec<Extension>,
    pub pending: VecDeque<Invocation>,
    pub in_flight: HashMap<String, InFlight>,
    pub runtime_ready: bool,
    pub init: InitTimes,
    pub init_errors: Vec<String>,
    pub exit_errors: Vec<String>,
    pub telemetry: Log,
    pub subscriptions: Vec<Subscription>,
    /// Processes of the environment, for the memory figure of `platform.report`.
    pub pids: Vec<u32>,
    pub memory_mb: u32,
    /// Background tasks (telemetry delivery) to stop with the emulator.
    pub tasks: Vec<tokio::task::AbortHandle>,
    /// The next report is the first after INIT (a cold start).
    cold_pending: bool,
    next_id: u64,
}

impl Inner {
    fn emit(&mut self, kind: &str, record: Value) {
        self.telemetry.push(kind, record);
    }

    /// Emits the end of INIT once the runtime and every extension wait for events.
    fn check_init_done(&mut self) {
        if self.init.done.is_some()
            || !self.runtime_ready
            || !self.extensions.iter().all(|e| e.ready)
        {
            return;
        }
        let now = Instant::now();
        self.init.done = Some(now);
        self.cold_pending = true;
        let duration = self.init.started.map_or(0.0, |s| ms(now - s));
        self.emit(
            "platform.initReport",
            json!({"initializationType": "on-demand", "phase": "init", "status": "success",
                   "metrics": {"durationMs": duration}}),
        );
    }
}

#[derive(Debug, Default)]
pub struct State {
    inner: Mutex<Inner>,
    pub changed: Notify,
}

pub type Shared = Arc<State>;

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Milliseconds with microsecond resolution, as Lambda reports durations.
pub fn ms(d: Duration) -> f64 {
    (d.as_micros() as f64) / 1000.0
}

impl State {
    pub fn new(memory_mb: u32) -> Self {
        let state = Self::default();
        state.lock().memory_mb = memory_mb;
        state
    }

    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves no half-updated queue that matters to a
        // test harness; keep serving.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies `change` and wakes every long poll to re-check its condition.
    pub fn update<T>(&self, change: impl FnOnce(&mut Inner) -> T) -> T {
        let out = {
            let mut inner = self.lock();
            let out = change(&mut inner);
            inner.check_init_done();
            out
        };
        self.changed.notify_waiters();
        out
    }

    /// Waits until `take` returns `Some`, re-checking after every change.
    pub async fn wait_for<T>(&self, mut take: impl FnMut(&mut Inner) -> Option<T>) -> T {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let taken = {
                let mut inner = self.lock();
                let taken = take(&mut inner);
                if taken.is_some() {
                    inner.check_init_done();
                }
                taken
            };
            if let Some(v) = taken {
                self.changed.notify_waiters();
                return v;
            }
            notified.await;
        }
    }

    /// INIT begins: extensions are about to start.
    pub fn start_init(&self) {
        self.update(|s| {
            s.init.started = Some(Instant::now());
            s.emit(
                "platform.initStart",
                json!({"initializationType": "on-demand", "phase": "init",
                       "runtimeVersion": "thaw-emulator", "functionName": "thaw-emulated",
                       "functionVersion": "$LATEST"}),
            );
        });
    }

    /// The runtime asked for its first event.
    pub fn runtime_ready(&self) {
        self.update(|s| {
            if !s.runtime_ready {
                s.runtime_ready = true;
                s.init.runtime_ready = Some(Instant::now());
                s.emit(
                    "platform.initRuntimeDone",
                    json!({"initializationType": "on-demand", "phase": "init", "status": "success"}),
                );
            }
        });
    }

    pub fn register(&self, name: &str, events: Vec<String>) -> String {
        self.update(|s| {
            s.next_id += 1;
            let id = format!("{:08x}-ext0-4000-8000-{:012x}", s.next_id, s.next_id);
            s.extensions.push(Extension {
                id: id.clone(),
                name: name.to_owned(),
                events,
                queue: VecDeque::new(),
                ready: false,
                ready_at: None,
                waiting: false,
            });
            id
        })
    }

    /// Queues an invocation for the runtime and INVOKE for subscribed extensions; the
    /// receiver yields the outcome.
    pub fn enqueue(
        &self,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> (String, oneshot::Receiver<Outcome>) {
        let (tx, rx) = oneshot::channel();
        let id = self.update(|s| {
            s.next_id += 1;
            let id = format!("{:08x}-0000-4000-8000-{:012x}", s.next_id, s.next_id);
            let deadline_ms = now_ms() + timeout.as_millis() as u64;
            s.pending.push_back(Invocation {
                request_id: id.clone(),
                payload,
                deadline_ms,
            });
            s.in_flight
                .insert(id.clone(), InFlight { tx, started: None });
            id
        });
        (id, rx)
    }

    /// The runtime took `request_id`: `platform.start`.
    /// The next invocation for the runtime, once every extension waits in `/event/next`
    /// with nothing queued (as on Lambda, a busy extension holds the next invocation back);
    /// INVOKE goes to the extensions at the moment the runtime gets the event.
    pub fn take_invocation(inner: &mut Inner) -> Option<Invocation> {
        if !inner
            .extensions
            .iter()
            .all(|e| e.waiting && e.queue.is_empty())
        {
            return None;
        }
        let inv = inner.pending.pop_front()?;
        for ext in inner
            .extensions
            .iter_mut()
            .filter(|e| e.events.iter().any(|v| v == "INVOKE"))
        {
            ext.queue.push_back(json!({
                "eventType": "INVOKE",
                "deadlineMs": inv.deadline_ms,
                "requestId": inv.request_id,
                "invokedFunctionArn": FUNCTION_ARN,
                "tracing": {"type": "X-Amzn-Trace-Id", "value": ""},
            }));
        }
        Self::started(inner, &inv.request_id);
        Some(inv)
    }

    fn started(inner: &mut Inner, request_id: &str) {
        if let Some(f) = inner.in_flight.get_mut(request_id) {
            f.started = Some(Instant::now());
        }
        inner.emit(
            "platform.start",
            json!({"requestId": request_id, "version": "$LATEST"}),
        );
    }

    /// Ends `request_id` with `outcome`: `platform.runtimeDone` and `platform.report`.
    /// False when no such invocation is in flight.
    pub fn complete(&self, request_id: &str, outcome: Outcome) -> bool {
        self.update(|s| {
            let Some(flight) = s.in_flight.remove(request_id) else {
                return false;
            };
            let duration = flight.started.map_or(0.0, |t| ms(t.elapsed()));
            let produced = match &outcome {
                Outcome::Response(b) | Outcome::Error { body: b, .. } => b.len(),
                Outcome::TimedOut => 0,
            };
            let status = outcome.status();
            s.emit(
                "platform.runtimeDone",
                json!({"requestId": request_id, "status": status,
                       "metrics": {"durationMs": duration, "producedBytes": produced}}),
            );
            let mut metrics = json!({
                "durationMs": duration,
                "billedDurationMs": duration.ceil() as u64,
                "memorySizeMB": s.memory_mb,
                "maxMemoryUsedMB": telemetry::max_memory_mb(&s.pids),
            });
            if std::mem::take(&mut s.cold_pending) {
                let init = match (s.init.started, s.init.done) {
                    (Some(a), Some(b)) => ms(b - a),
                    _ => 0.0,
                };
                metrics["initDurationMs"] = json!(init);
            }
            s.emit(
                "platform.report",
                json!({"requestId": request_id, "status": status, "metrics": metrics}),
            );
            let _ = flight.tx.send(outcome);
            true
        })
    }

    /// Queues SHUTDOWN for every extension registered for it.
    pub fn shutdown_extensions(&self, reason: &str, deadline_ms: u64) {
        self.update(|s| {
            for ext in s
                .extensions
                .iter_mut()
                .filter(|e| e.events.iter().any(|v| v == "SHUTDOWN"))
            {
                ext.queue.push_back(json!({
                    "eventType": "SHUTDOWN",
                    "shutdownReason": reason,
                    "deadlineMs": deadline_ms,
                }));
            }
        });
    }
}
