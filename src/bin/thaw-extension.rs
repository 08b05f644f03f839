//! thaw's Lambda extension: reports every invocation's cold-start and duration metrics from
//! the Telemetry API as CloudWatch EMF lines on stdout and, when configured, over OTLP.
//!
//! Init is a sequence of named phases (logged with `THAW_DEBUG=1`, reported on the cold
//! invocation): config → runtime → register → listener bound → subscribe sent → pipeline
//! ready → subscribed, then the first `/event/next`. The subscribe round-trip overlaps with
//! building the pipeline. Nothing here may hurt the function: a telemetry or export problem
//! is logged once and the extension keeps following the event loop.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use thaw::checkpoints::Checkpoints;
use thaw::extension::config::Config;
use thaw::extension::exporter::{ClientSource, OtlpExporter};
use thaw::extension::metrics::ExtensionInit;
use thaw::extension::otlp::Resource;
use thaw::extension::pipeline::Pipeline;
use thaw::extension::{Event, ExtensionApi, listener, shutdown, subscription};
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::time::Instant;

/// The name Lambda knows the extension by: the file name in `/opt/extensions/`.
const NAME: &str = "thaw-extension";

fn main() -> ExitCode {
    let mut checkpoints = Checkpoints::start_recording(NAME);
    if thaw::allocator::report_if_asked() {
        return ExitCode::SUCCESS;
    }
    let (config, warnings) = Config::from_env();
    for warning in warnings {
        eprintln!("{NAME}: {warning}");
    }
    checkpoints.mark("config");
    let runtime = match thaw::runtime::build() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("{NAME}: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    checkpoints.mark("runtime");
    let code = runtime.block_on(run(config, checkpoints));
    // Never wait for a blocking DNS lookup or a hung export: Lambda's deadline comes first.
    runtime.shutdown_background();
    code
}

async fn run(config: Config, mut checkpoints: Checkpoints) -> ExitCode {
    let api = match ExtensionApi::register(NAME).await {
        Ok(api) => api,
        Err(err) => {
            eprintln!("{NAME}: {err}");
            return ExitCode::FAILURE;
        }
    };
    checkpoints.mark("register");

    // Bound before subscribing: Lambda may deliver as soon as the subscription exists.
    let listener = match listener::bind(config.listen) {
        Ok(listener) => Some(listener),
        Err(err) => {
            eprintln!(
                "{NAME}: cannot listen on {} ({err}); no telemetry, no metrics",
                config.listen
            );
            None
        }
    };
    let port = listener
        .as_ref()
        .and_then(|l| l.local_addr().ok())
        .map(|a| a.port());
    checkpoints.mark("listener_bound");

    let subscribe = port.map(|port| {
        let api = api.clone();
        let body = subscription::request_body(config.buffering, port);
        tokio::spawn(async move { api.subscribe_telemetry(body).await })
    });
    checkpoints.mark("subscribe_sent");

    let exporter = config.otlp.clone().map(|otlp| {
        let resource = Resource::from_lookup(|name| std::env::var(name).ok());
        OtlpExporter::spawn(otlp, resource, ClientSource::Lazy)
    });
    let emf = config
        .emf
        .then(|| (config.namespace.clone(), config.function_name.clone()));
    let pipeline = Arc::new(Pipeline::new(emf, exporter));
    if let Some(listener) = listener
        && let Err(err) = listener::serve(listener, Arc::clone(&pipeline))
    {
        eprintln!("{NAME}: cannot serve the telemetry listener ({err}); no metrics");
    }
    // Lambda does not SIGTERM extensions, but a local harness may: flush then, too.
    let mut sigterm = signal(SignalKind::terminate()).ok();
    checkpoints.mark("pipeline_ready");
    if thaw::lazy_client::eager_requested() {
        // Only for comparison: thaw's default builds the client on first use, never in init.
        let _ = thaw::lazy_client::get();
        checkpoints.mark("tls_client");
    }

    let subscribed = match subscribe {
        None => false,
        Some(task) => match task.await {
            Ok(Ok(())) => true,
            Ok(Err(err)) => {
                eprintln!("{NAME}: {err}; no telemetry, no metrics");
                false
            }
            Err(err) => {
                eprintln!("{NAME}: telemetry subscription did not complete ({err}); no metrics");
                false
            }
        },
    };
    checkpoints.mark("subscribed");
    pipeline.set_extension_init(ExtensionInit::from_phases(checkpoints.phases()));

    let mut invocations: u64 = 0;
    loop {
        let event = tokio::select! {
            event = api.next_event() => event,
            () = terminated(&mut sigterm) => {
                flush(&pipeline, shutdown::SIGTERM_BUDGET).await;
                report_shutdown("SIGTERM", invocations, &pipeline);
                return ExitCode::SUCCESS;
            }
        };
        match event {
            Ok(Event::Invoke { request_id, .. }) => {
                invocations += 1;
                // Without a subscription no report will come: do not wait for one.
                if subscribed {
                    pipeline.note_invoke(request_id);
                }
            }
            Ok(Event::Shutdown {
                shutdown_reason,
                deadline_ms,
            }) => {
                flush(&pipeline, shutdown::budget(deadline_ms, unix_millis_now())).await;
                report_shutdown(&shutdown_reason, invocations, &pipeline);
                return ExitCode::SUCCESS;
            }
            Err(err) => {
                eprintln!("{NAME}: {err}");
                return ExitCode::FAILURE;
            }
        }
    }
}

/// Waits for the last invocations' telemetry, then sends what OTLP still holds, all within
/// `budget`.
async fn flush(pipeline: &Pipeline, budget: Duration) {
    let start = Instant::now();
    let end = start + budget;
    let complete = pipeline
        .wait_for_reports(start + shutdown::report_wait(budget))
        .await;
    if !complete {
        eprintln!(
            "{NAME}: {} invocation(s) without a report at shutdown",
            pipeline.outstanding()
        );
    }
    if let Some(otlp) = pipeline.otlp() {
        otlp.flush(end).await;
    }
}

/// The last line (tests look for "shutdown" in it), with what was counted along the way.
fn report_shutdown(reason: &str, invocations: u64, pipeline: &Pipeline) {
    use std::sync::atomic::Ordering::Relaxed;
    let t = pipeline.stats();
    let mut line = format!(
        "{NAME}: shutdown ({reason}) after {invocations} invocations; telemetry: {} batches, \
         {} unparseable, {} malformed items, {} invocations reported",
        t.batches.load(Relaxed),
        t.unparseable_batches.load(Relaxed),
        t.malformed_items.load(Relaxed),
        t.invocations.load(Relaxed),
    );
    if let Some(otlp) = pipeline.otlp() {
        let s = otlp.stats();
        line.push_str(&format!(
            "; otlp: {} requests sent ({} invocations), {} failed, {} dropped (queue full), \
             {} dropped (undelivered), {} unsent at the deadline",
            s.sent_requests.load(Relaxed),
            s.sent_invocations.load(Relaxed),
            s.failed_requests.load(Relaxed),
            s.dropped_queue_full.load(Relaxed),
            s.dropped_undelivered.load(Relaxed),
            s.unsent(),
        ));
    }
    println!("{line}");
}

async fn terminated(sigterm: &mut Option<Signal>) {
    if let Some(signal) = sigterm
        && signal.recv().await.is_some()
    {
        return;
    }
    // No handler, or the signal stream ended: never resolve.
    std::future::pending().await
}

fn unix_millis_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
