//! The extension's hot path, per telemetry batch: parse it, derive per-invocation metrics,
//! encode EMF lines and an OTLP request. `cargo bench --bench hot_path` (or `cargo xtask
//! bench`'s report) shows regressions as numbers.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use thaw::extension::metrics::{Aggregator, InvocationMetrics};
use thaw::extension::otlp::Resource;
use thaw::extension::pipeline::Pipeline;
use thaw::extension::telemetry::parse_batch;
use thaw::extension::{emf, otlp};

/// Invocations per batch: Lambda's smallest `maxItems` (1000 events) holds about 330.
const INVOCATIONS: usize = 300;
const NOW: u64 = 1_795_000_000_000_000_000;

/// A Telemetry API batch as Lambda delivers it: INIT, then start / runtimeDone / report.
fn batch() -> Vec<u8> {
    let mut events = vec![
        serde_json::json!({"time": "2026-11-22T10:00:00.000Z", "type": "platform.initStart",
            "record": {"initializationType": "on-demand", "phase": "init"}}),
        serde_json::json!({"time": "2026-11-22T10:00:00.020Z", "type": "platform.initReport",
            "record": {"initializationType": "on-demand", "phase": "init", "status": "success",
                       "metrics": {"durationMs": 20.5}}}),
    ];
    for i in 0..INVOCATIONS {
        let id = format!("6f7c2c1e-0000-4000-8000-{i:012}");
        let mut metrics = serde_json::json!({"durationMs": 2.5 + i as f64 / 100.0,
            "billedDurationMs": 3, "memorySizeMB": 512, "maxMemoryUsedMB": 24});
        if i == 0 {
            metrics["initDurationMs"] = serde_json::json!(20.5);
        }
        events.push(
            serde_json::json!({"time": "2026-11-22T10:00:01.000Z", "type": "platform.start",
            "record": {"requestId": id, "version": "$LATEST"}}),
        );
        events.push(serde_json::json!({"time": "2026-11-22T10:00:01.002Z", "type": "platform.runtimeDone",
            "record": {"requestId": id, "status": "success", "metrics": {"durationMs": 2.1, "producedBytes": 120}}}));
        events.push(
            serde_json::json!({"time": "2026-11-22T10:00:01.003Z", "type": "platform.report",
            "record": {"requestId": id, "status": "success", "metrics": metrics}}),
        );
    }
    serde_json::to_vec(&events).expect("serializable")
}

fn derive(body: &[u8]) -> Vec<InvocationMetrics> {
    let parsed = parse_batch(body).expect("a valid batch");
    let mut aggregator = Aggregator::default();
    parsed
        .events
        .into_iter()
        .filter_map(|event| aggregator.observe(event, NOW))
        .collect()
}

fn hot_path(c: &mut Criterion) {
    let body = batch();
    let metrics = derive(&body);
    assert_eq!(metrics.len(), INVOCATIONS, "every report yields metrics");
    let resource = Resource {
        function_name: "orders".into(),
        function_version: Some("$LATEST".into()),
        region: Some("eu-west-1".into()),
        instance: None,
    };
    let mut group = c.benchmark_group("telemetry batch");
    group.throughput(Throughput::Elements(INVOCATIONS as u64));
    group.bench_function("parse", |b| b.iter(|| parse_batch(black_box(&body))));
    group.bench_function("parse + derive metrics", |b| {
        b.iter(|| derive(black_box(&body)))
    });
    group.bench_function("encode EMF lines", |b| {
        b.iter(|| {
            metrics
                .iter()
                .map(|m| emf::line("thaw", "orders", black_box(m)).len())
                .sum::<usize>()
        })
    });
    group.bench_function("encode one OTLP request", |b| {
        b.iter(|| {
            otlp::metrics_request(&resource, black_box(&metrics))
                .to_string()
                .len()
        })
    });
    group.bench_function("pipeline ingest (EMF to a discarding sink)", |b| {
        b.iter_batched(
            || {
                Pipeline::with_line_sink(
                    Some(("thaw".into(), "orders".into())),
                    None,
                    Box::new(|line: &str| {
                        black_box(line);
                    }),
                )
            },
            |pipeline| pipeline.ingest(black_box(&body)),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, hot_path);
criterion_main!(benches);
