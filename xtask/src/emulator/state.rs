//! The emulator's shared state: registered extensions and their event queues, queued and
//! in-flight invocations, and the INIT gate. Long polls wait on one `Notify`.

use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{Notify, oneshot};

/// An extension as the Extensions API knows it.
#[derive(Debug)]
pub struct Extension {
    pub id: String,
    pub name: String,
    pub events: Vec<String>,
    pub queue: VecDeque<Value>,
    /// Has called `/event/next` at least once (INIT is over for it).
    pub ready: bool,
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

#[derive(Debug, Default)]
pub struct Inner {
    pub extensions: Vec<Extension>,
    pub pending: VecDeque<Invocation>,
    pub in_flight: HashMap<String, oneshot::Sender<Outcome>>,
    pub runtime_ready: bool,
    pub init_errors: Vec<String>,
    pub exit_errors: Vec<String>,
    next_id: u64,
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

impl State {
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the queues half-updated in a way
        // that matters to a test harness; keep serving.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies `change` and wakes every long poll to re-check its condition.
    pub fn update<T>(&self, change: impl FnOnce(&mut Inner) -> T) -> T {
        let out = change(&mut self.lock());
        self.changed.notify_waiters();
        out
    }

    /// Waits until `take` returns `Some`, re-checking after every change.
    pub async fn wait_for<T>(&self, mut take: impl FnMut(&mut Inner) -> Option<T>) -> T {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(v) = take(&mut self.lock()) {
                self.changed.notify_waiters();
                return v;
            }
            notified.await;
        }
    }

    pub fn register(&self, name: &str, events: Vec<String>) -> String {
        self.update(|s| {
            s.next_id += 1;
            let id = format!("ext-{:08x}-{}", s.next_id, name.len());
            s.extensions.push(Extension {
                id: id.clone(),
                name: name.to_owned(),
                events,
                queue: VecDeque::new(),
                ready: false,
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
            for ext in s
                .extensions
                .iter_mut()
                .filter(|e| e.events.iter().any(|v| v == "INVOKE"))
            {
                ext.queue.push_back(json!({
                    "eventType": "INVOKE",
                    "deadlineMs": deadline_ms,
                    "requestId": id,
                    "invokedFunctionArn": FUNCTION_ARN,
                    "tracing": {"type": "X-Amzn-Trace-Id", "value": ""},
                }));
            }
            s.pending.push_back(Invocation {
                request_id: id.clone(),
                payload,
                deadline_ms,
            });
            s.in_flight.insert(id.clone(), tx);
            id
        });
        (id, rx)
    }

    pub fn complete(&self, request_id: &str, outcome: Outcome) -> bool {
        self.update(|s| match s.in_flight.remove(request_id) {
            Some(tx) => {
                let _ = tx.send(outcome);
                true
            }
            None => false,
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

/// The ARN the emulated function reports.
pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:000000000000:function:thaw-emulated";
