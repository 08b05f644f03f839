//! The OTLP exporter: a task of its own, fed through a bounded queue, so an endpoint that is
//! down, slow, hanging or failing TLS only ever costs dropped metrics, never a late
//! `/event/next`. Every request has a timeout; a failed batch is retried once with the next
//! send, then dropped and counted. Failures are logged when they start and when they stop,
//! not once per request.

use super::config::OtlpConfig;
use super::metrics::InvocationMetrics;
use super::otlp::{Resource, metrics_request};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, sleep_until, timeout_at};

const LOG: &str = "thaw-extension: otlp";
/// Attempts per invocation's metrics: the first send and one retry.
const MAX_ATTEMPTS: u8 = 2;

/// Counts, readable at any time (e.g. for the shutdown line).
#[derive(Debug, Default)]
pub struct ExportStats {
    /// Invocations accepted into the queue.
    pub queued: AtomicU64,
    pub sent_requests: AtomicU64,
    pub sent_invocations: AtomicU64,
    pub failed_requests: AtomicU64,
    /// Invocations dropped because the queue was full.
    pub dropped_queue_full: AtomicU64,
    /// Invocations dropped after failed attempts or at the shutdown deadline.
    pub dropped_undelivered: AtomicU64,
}

impl ExportStats {
    /// Queued invocations neither sent nor dropped yet: still in flight, or abandoned when
    /// the shutdown deadline came first.
    pub fn unsent(&self) -> u64 {
        self.queued.load(Ordering::Relaxed).saturating_sub(
            self.sent_invocations.load(Ordering::Relaxed)
                + self.dropped_undelivered.load(Ordering::Relaxed),
        )
    }
}

/// Where the exporter gets its HTTP client.
pub enum ClientSource {
    /// The process-wide lazy client, built on the first send.
    Lazy,
    /// A given client (tests).
    Given(reqwest::Client),
}

/// The handle the rest of the extension holds.
pub struct OtlpExporter {
    queue: mpsc::Sender<InvocationMetrics>,
    flush: mpsc::Sender<FlushRequest>,
    stats: Arc<ExportStats>,
}

struct FlushRequest {
    deadline: Instant,
    done: oneshot::Sender<()>,
}

impl OtlpExporter {
    /// Starts the export task on the current Tokio runtime.
    pub fn spawn(config: OtlpConfig, resource: Resource, client: ClientSource) -> Self {
        let (queue, rx) = mpsc::channel(config.queue_capacity);
        let (flush, flush_rx) = mpsc::channel(1);
        let stats = Arc::new(ExportStats::default());
        let worker = Worker {
            pending: VecDeque::with_capacity(config.batch_size),
            config,
            resource,
            client,
            rx,
            flush_rx,
            stats: Arc::clone(&stats),
            due: None,
            failing: false,
            disabled: false,
        };
        tokio::spawn(worker.run());
        Self {
            queue,
            flush,
            stats,
        }
    }

    /// Queues one invocation's metrics without waiting; when the queue is full they are
    /// dropped and counted.
    pub fn enqueue(&self, metrics: InvocationMetrics) {
        let counter = match self.queue.try_send(metrics) {
            Ok(()) => &self.stats.queued,
            Err(_) => &self.stats.dropped_queue_full,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Sends everything queued, giving up at `deadline`; the task ends afterwards.
    pub async fn flush(&self, deadline: Instant) {
        let (done, finished) = oneshot::channel();
        let request = FlushRequest { deadline, done };
        if self.flush.send(request).await.is_ok() {
            // The deadline also bounds a send already in flight when the flush was asked.
            let _ = timeout_at(deadline, finished).await;
        }
    }

    pub fn stats(&self) -> &ExportStats {
        &self.stats
    }
}

struct Worker {
    config: OtlpConfig,
    resource: Resource,
    client: ClientSource,
    rx: mpsc::Receiver<InvocationMetrics>,
    flush_rx: mpsc::Receiver<FlushRequest>,
    stats: Arc<ExportStats>,
    /// Metrics waiting to be sent, with the attempts already made for them.
    pending: VecDeque<(InvocationMetrics, u8)>,
    /// When the next send is due; `None` when there is nothing to send.
    due: Option<Instant>,
    /// The last request failed (for logging transitions only).
    failing: bool,
    /// No client could be built: everything is dropped.
    disabled: bool,
}

enum Sent {
    Ok,
    Failed,
}

impl Worker {
    async fn run(mut self) {
        loop {
            tokio::select! {
                biased;
                request = self.flush_rx.recv() => {
                    if let Some(request) = request {
                        self.final_flush(request.deadline).await;
                        let _ = request.done.send(());
                    }
                    return;
                }
                item = self.rx.recv() => match item {
                    Some(metrics) => self.push(metrics, 0),
                    // Every handle is gone: nobody can ask for a flush any more.
                    None => return,
                },
                () = sleep_until(self.due.unwrap_or_else(Instant::now)), if self.due.is_some() => {
                    let after = match self.send_batch(None).await {
                        Sent::Ok => self.config.batch_size_due(self.pending.len()),
                        // Back off: a dead endpoint is tried once per flush interval.
                        Sent::Failed => self.config.flush_interval,
                    };
                    self.due = (!self.pending.is_empty()).then(|| Instant::now() + after);
                }
            }
        }
    }

    fn push(&mut self, metrics: InvocationMetrics, attempts: u8) {
        if self.disabled || self.pending.len() >= self.capacity() {
            self.stats
                .dropped_undelivered
                .fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.pending.push_back((metrics, attempts));
        let wanted = Instant::now() + self.config.batch_size_due(self.pending.len());
        self.due = Some(match self.due {
            // After a failure the back-off stands, even for a full batch.
            Some(current) if self.failing => current,
            Some(current) => current.min(wanted),
            None => wanted,
        });
    }

    fn capacity(&self) -> usize {
        self.config.queue_capacity.max(self.config.batch_size)
    }

    async fn final_flush(&mut self, deadline: Instant) {
        while let Ok(metrics) = self.rx.try_recv() {
            self.push(metrics, 0);
        }
        while !self.pending.is_empty() && Instant::now() < deadline {
            if let Sent::Failed = self.send_batch(Some(deadline)).await {
                break;
            }
        }
        let left = self.pending.len() as u64;
        self.pending.clear();
        self.stats
            .dropped_undelivered
            .fetch_add(left, Ordering::Relaxed);
    }

    /// Sends the oldest batch; failed metrics go back to the front for one more attempt.
    async fn send_batch(&mut self, deadline: Option<Instant>) -> Sent {
        let n = self.pending.len().min(self.config.batch_size);
        let batch: Vec<(InvocationMetrics, u8)> = self.pending.drain(..n).collect();
        if batch.is_empty() {
            return Sent::Ok;
        }
        let metrics: Vec<InvocationMetrics> = batch.iter().map(|(m, _)| m.clone()).collect();
        let result = match self.client().await {
            Some(client) => {
                let body = metrics_request(&self.resource, &metrics).to_string();
                let limit = Instant::now() + self.config.timeout;
                let limit = deadline.map_or(limit, |d| d.min(limit));
                post(&client, &self.config, body, limit).await
            }
            None => Err(Failure::permanent("no HTTP client".into())),
        };
        match result {
            Ok(()) => {
                self.stats.sent_requests.fetch_add(1, Ordering::Relaxed);
                self.stats
                    .sent_invocations
                    .fetch_add(metrics.len() as u64, Ordering::Relaxed);
                if self.failing {
                    eprintln!("{LOG}: export to {} works again", self.config.metrics_url);
                    self.failing = false;
                }
                Sent::Ok
            }
            Err(failure) => {
                self.stats.failed_requests.fetch_add(1, Ordering::Relaxed);
                if !self.failing || crate::debug::enabled() {
                    eprintln!(
                        "{LOG}: export to {} failed: {}; metrics are retried once, then dropped",
                        self.config.metrics_url, failure.reason
                    );
                }
                self.failing = true;
                for (metrics, attempts) in batch.into_iter().rev() {
                    if failure.retryable && attempts + 1 < MAX_ATTEMPTS && !self.disabled {
                        self.pending.push_front((metrics, attempts + 1));
                    } else {
                        self.stats
                            .dropped_undelivered
                            .fetch_add(1, Ordering::Relaxed);
                    }
                }
                Sent::Failed
            }
        }
    }

    async fn client(&mut self) -> Option<reqwest::Client> {
        if self.disabled {
            return None;
        }
        if let ClientSource::Given(client) = &self.client {
            return Some(client.clone());
        }
        // Building the TLS client is synchronous CPU work: keep it off the worker threads
        // that serve `/event/next`.
        match tokio::task::spawn_blocking(crate::lazy_client::get).await {
            Ok(Ok(client)) => {
                self.client = ClientSource::Given(client.clone());
                Some(client.clone())
            }
            Ok(Err(err)) => {
                eprintln!("{LOG}: {err}; OTLP export disabled");
                self.disabled = true;
                None
            }
            Err(err) => {
                eprintln!("{LOG}: building the HTTP client failed ({err}); OTLP export disabled");
                self.disabled = true;
                None
            }
        }
    }
}

impl OtlpConfig {
    /// How long `pending` invocations may wait: a full batch goes at once.
    fn batch_size_due(&self, pending: usize) -> std::time::Duration {
        if pending >= self.batch_size {
            std::time::Duration::ZERO
        } else {
            self.flush_interval
        }
    }
}

struct Failure {
    reason: String,
    retryable: bool,
}

impl Failure {
    fn permanent(reason: String) -> Self {
        Self {
            reason,
            retryable: false,
        }
    }
}

async fn post(
    client: &reqwest::Client,
    config: &OtlpConfig,
    body: String,
    limit: Instant,
) -> Result<(), Failure> {
    let mut request = client
        .post(config.metrics_url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body);
    for (name, value) in &config.headers {
        request = request.header(name, value);
    }
    let exchange = async {
        let response = request.send().await?;
        let status = response.status();
        // Read the body so the connection can be reused.
        let _ = response.bytes().await;
        Ok::<_, reqwest::Error>(status)
    };
    match timeout_at(limit, exchange).await {
        Err(_) => Err(Failure {
            reason: "no answer in time".into(),
            retryable: true,
        }),
        Ok(Err(err)) => Err(Failure {
            reason: crate::lazy_client::error_chain(&err),
            retryable: true,
        }),
        Ok(Ok(status)) if status.is_success() => Ok(()),
        Ok(Ok(status)) => Err(Failure {
            reason: format!("HTTP {status}"),
            // OTLP/HTTP: only these mean "try again later".
            retryable: matches!(status.as_u16(), 429 | 502 | 503 | 504),
        }),
    }
}

#[cfg(test)]
mod tests;
