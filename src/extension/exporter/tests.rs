use super::*;
use crate::test_support::{Behaviour, refused_base, sink};
use std::time::Duration;

fn config(base: &str) -> OtlpConfig {
    OtlpConfig {
        metrics_url: reqwest::Url::parse(&format!("{base}/v1/metrics")).expect("url"),
        headers: vec![("x-api-key".into(), "k".into())],
        timeout: Duration::from_millis(300),
        batch_size: 3,
        flush_interval: Duration::from_millis(50),
        queue_capacity: 16,
    }
}

fn resource() -> Resource {
    Resource::from_lookup(|name| (name == "AWS_LAMBDA_FUNCTION_NAME").then(|| "f".to_owned()))
}

fn invocation(i: usize) -> InvocationMetrics {
    InvocationMetrics {
        request_id: format!("r-{i}"),
        status: None,
        cold: i == 0,
        initialization_type: None,
        init_duration_ms: (i == 0).then_some(20.0),
        duration_ms: i as f64,
        billed_duration_ms: None,
        memory_size_mb: None,
        max_memory_used_mb: None,
        runtime_duration_ms: None,
        time_unix_nanos: 1_000 + i as u64,
        extension_init: None,
    }
}

fn plain_client() -> ClientSource {
    ClientSource::Given(
        reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client"),
    )
}

fn ids_in(body: &serde_json::Value) -> Vec<String> {
    let metrics = body["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]
        .as_array()
        .expect("metrics");
    let duration = metrics
        .iter()
        .find(|m| m["name"] == "thaw.invocation.duration")
        .expect("duration metric");
    duration["gauge"]["dataPoints"]
        .as_array()
        .expect("points")
        .iter()
        .filter_map(|p| {
            p["attributes"]
                .as_array()?
                .iter()
                .find(|a| a["key"] == "faas.invocation_id")?["value"]["stringValue"]
                .as_str()
                .map(str::to_owned)
        })
        .collect()
}

async fn wait_until(mut condition: impl FnMut() -> bool) {
    let give_up = Instant::now() + Duration::from_secs(5);
    while !condition() {
        assert!(Instant::now() < give_up, "condition not met within 5 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn full_batches_and_timed_flushes_reach_the_collector() {
    let sink = sink(Behaviour::Answer(200)).await;
    let exporter = OtlpExporter::spawn(config(&sink.base), resource(), plain_client());
    for i in 0..4 {
        exporter.enqueue(invocation(i));
    }
    // Three go as a full batch at once, the fourth after the flush interval.
    wait_until(|| sink.recorded().len() == 2).await;
    let requests = sink.recorded();
    for request in &requests {
        assert_eq!(request.path, "/v1/metrics");
        assert_eq!(request.header("content-type"), Some("application/json"));
        assert_eq!(request.header("x-api-key"), Some("k"));
    }
    assert_eq!(ids_in(&requests[0].json()), ["r-0", "r-1", "r-2"]);
    assert_eq!(ids_in(&requests[1].json()), ["r-3"]);
    assert_eq!(exporter.stats().sent_requests.load(Ordering::Relaxed), 2);
    assert_eq!(exporter.stats().sent_invocations.load(Ordering::Relaxed), 4);
}

#[tokio::test]
async fn flush_sends_what_is_left_before_the_deadline() {
    let sink = sink(Behaviour::Answer(200)).await;
    let mut cfg = config(&sink.base);
    cfg.flush_interval = Duration::from_secs(60);
    let exporter = OtlpExporter::spawn(cfg, resource(), plain_client());
    exporter.enqueue(invocation(0));
    exporter.enqueue(invocation(1));
    exporter
        .flush(Instant::now() + Duration::from_millis(1500))
        .await;
    let requests = sink.recorded();
    assert_eq!(requests.len(), 1);
    assert_eq!(ids_in(&requests[0].json()), ["r-0", "r-1"]);
}

#[tokio::test]
async fn a_hanging_collector_costs_at_most_the_deadline() {
    let sink = sink(Behaviour::Hang).await;
    let mut cfg = config(&sink.base);
    cfg.timeout = Duration::from_secs(10);
    cfg.flush_interval = Duration::from_secs(60);
    let exporter = OtlpExporter::spawn(cfg, resource(), plain_client());
    exporter.enqueue(invocation(0));
    let started = Instant::now();
    exporter
        .flush(Instant::now() + Duration::from_millis(200))
        .await;
    let took = started.elapsed();
    assert!(took < Duration::from_millis(600), "flush took {took:?}");
    assert_eq!(sink.recorded().len(), 1, "the request was made");
    assert_eq!(exporter.stats().queued.load(Ordering::Relaxed), 1);
    // The worker gives up at the same deadline, just after the caller stopped waiting; until
    // then the invocation counts as unsent.
    wait_until(|| exporter.stats().dropped_undelivered.load(Ordering::Relaxed) == 1).await;
    assert_eq!(exporter.stats().unsent(), 0);
}

#[tokio::test]
async fn failing_batches_are_retried_once_then_dropped() {
    let sink = sink(Behaviour::Answer(503)).await;
    let exporter = OtlpExporter::spawn(config(&sink.base), resource(), plain_client());
    exporter.enqueue(invocation(0));
    wait_until(|| exporter.stats().dropped_undelivered.load(Ordering::Relaxed) == 1).await;
    let requests = sink.recorded();
    assert_eq!(requests.len(), 2, "first attempt and one retry");
    assert_eq!(ids_in(&requests[1].json()), ["r-0"]);
    assert_eq!(exporter.stats().failed_requests.load(Ordering::Relaxed), 2);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let sink = sink(Behaviour::Answer(400)).await;
    let exporter = OtlpExporter::spawn(config(&sink.base), resource(), plain_client());
    exporter.enqueue(invocation(0));
    wait_until(|| exporter.stats().dropped_undelivered.load(Ordering::Relaxed) == 1).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(sink.recorded().len(), 1);
}

#[tokio::test]
async fn a_refusing_collector_never_blocks_enqueue_and_memory_stays_bounded() {
    let exporter = OtlpExporter::spawn(config(&refused_base()), resource(), plain_client());
    let started = Instant::now();
    for i in 0..10_000 {
        exporter.enqueue(invocation(i));
    }
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "enqueue must not wait: {:?}",
        started.elapsed()
    );
    let stats = exporter.stats();
    // The queue holds 16 and the worker at most 16 more: the rest were dropped on arrival.
    assert!(
        stats.dropped_queue_full.load(Ordering::Relaxed) >= 10_000 - 32,
        "{stats:?}"
    );
    exporter
        .flush(Instant::now() + Duration::from_millis(300))
        .await;
    assert_eq!(
        stats.queued.load(Ordering::Relaxed) + stats.dropped_queue_full.load(Ordering::Relaxed),
        10_000,
        "{stats:?}"
    );
    wait_until(|| stats.unsent() == 0).await;
    assert_eq!(
        stats.dropped_undelivered.load(Ordering::Relaxed),
        stats.queued.load(Ordering::Relaxed),
        "{stats:?}"
    );
    assert_eq!(stats.sent_invocations.load(Ordering::Relaxed), 0);
}
