use super::*;
use proptest::prelude::*;
use serde_json::{Value, json};

/// A cold invocation as Lambda delivers it (schema 2022-12-13).
const COLD_BATCH: &str = r#"[
 {"time":"2024-05-01T10:00:00.000Z","type":"platform.initStart","record":{"initializationType":"on-demand","phase":"init","runtimeVersion":"provided:al2023","functionName":"f","functionVersion":"$LATEST"}},
 {"time":"2024-05-01T10:00:00.020Z","type":"platform.initRuntimeDone","record":{"initializationType":"on-demand","phase":"init","status":"success"}},
 {"time":"2024-05-01T10:00:00.021Z","type":"platform.initReport","record":{"initializationType":"on-demand","phase":"init","status":"success","metrics":{"durationMs":21.5}}},
 {"time":"2024-05-01T10:00:00.022Z","type":"platform.start","record":{"requestId":"r-1","version":"$LATEST"}},
 {"time":"2024-05-01T10:00:00.030Z","type":"function","record":"hello from the function"},
 {"time":"2024-05-01T10:00:00.031Z","type":"extension","record":{"anything":[1,2,{"deep":null}]}},
 {"time":"2024-05-01T10:00:00.040Z","type":"platform.runtimeDone","record":{"requestId":"r-1","status":"success","metrics":{"durationMs":17.25,"producedBytes":42}}},
 {"time":"2024-05-01T10:00:00.041Z","type":"platform.report","record":{"requestId":"r-1","status":"success","metrics":{"durationMs":18.0,"billedDurationMs":19,"memorySizeMB":128,"maxMemoryUsedMB":20,"initDurationMs":21.5}}},
 {"time":"2024-05-01T10:00:00.042Z","type":"platform.somethingNew","record":{"x":1}}
]"#;

#[test]
fn a_cold_batch_parses_into_its_events() {
    let batch = parse_batch(COLD_BATCH.as_bytes()).expect("valid batch");
    assert_eq!(batch.malformed, 0);
    assert_eq!(
        batch.events,
        vec![
            TelemetryEvent::InitStart {
                initialization_type: Some("on-demand".into())
            },
            TelemetryEvent::InitRuntimeDone {
                status: Some("success".into())
            },
            TelemetryEvent::InitReport {
                duration_ms: Some(21.5)
            },
            TelemetryEvent::Start {
                request_id: "r-1".into()
            },
            TelemetryEvent::Other,
            TelemetryEvent::Other,
            TelemetryEvent::RuntimeDone {
                request_id: "r-1".into(),
                duration_ms: Some(17.25),
                status: Some("success".into())
            },
            TelemetryEvent::Report {
                request_id: "r-1".into(),
                status: Some("success".into()),
                time_unix_nanos: Some(1_714_557_600_041_000_000),
                metrics: ReportMetrics {
                    duration_ms: 18.0,
                    billed_duration_ms: Some(19.0),
                    memory_size_mb: Some(128.0),
                    max_memory_used_mb: Some(20.0),
                    init_duration_ms: Some(21.5),
                },
            },
            TelemetryEvent::Other,
        ]
    );
}

#[test]
fn broken_items_are_counted_and_the_rest_kept() {
    let body = json!([
        42,
        "text",
        {"type": "platform.start", "record": {}},
        {"type": "platform.report", "record": {"requestId": "r", "metrics": {"durationMs": "slow"}}},
        {"type": "platform.report"},
        {"record": {"requestId": "no type"}},
        {"type": "platform.start", "record": {"requestId": "ok"}},
    ]);
    let batch = parse_batch(body.to_string().as_bytes()).expect("an array");
    assert_eq!(batch.malformed, 6);
    assert_eq!(
        batch.events,
        [TelemetryEvent::Start {
            request_id: "ok".into()
        }]
    );
}

#[test]
fn bodies_that_are_not_arrays_are_errors() {
    for body in [&b""[..], b"{}", b"null", b"[1,", b"\xff\xfe", b"[]]"] {
        assert!(parse_batch(body).is_err(), "{body:?}");
    }
    assert_eq!(parse_batch(b" [] ").expect("empty array"), Batch::default());
}

#[test]
fn report_times_parse_as_rfc3339() {
    assert_eq!(rfc3339_unix_nanos("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(
        rfc3339_unix_nanos("2022-12-13T01:02:03.123456789Z"),
        Some(1_670_893_323_123_456_789)
    );
    assert_eq!(
        rfc3339_unix_nanos("2022-12-13T02:02:03.5+01:00"),
        Some(1_670_893_323_500_000_000)
    );
    assert_eq!(
        rfc3339_unix_nanos("2000-02-29T00:00:00.1234567891234Z"),
        Some(951_782_400_123_456_789)
    );
    for bad in [
        "",
        "2022-12-13",
        "2022-13-01T00:00:00Z",
        "2022-12-13T00:00:00",
        "2022-12-13T00:00:00.Z",
        "1969-12-31T23:59:59Z",
        "2022-12-13T00:00:00+0100",
        "２０22-12-13T00:00:00Z",
    ] {
        assert_eq!(rfc3339_unix_nanos(bad), None, "{bad:?}");
    }
}

/// The JSON Lambda would send for `event` (tests only: the extension never writes telemetry).
fn to_lambda_json(event: &TelemetryEvent) -> Value {
    let (kind, record) = match event {
        TelemetryEvent::InitStart {
            initialization_type,
        } => (
            "platform.initStart",
            json!({"initializationType": initialization_type, "phase": "init"}),
        ),
        TelemetryEvent::InitRuntimeDone { status } => {
            ("platform.initRuntimeDone", json!({"status": status}))
        }
        TelemetryEvent::InitReport { duration_ms } => (
            "platform.initReport",
            json!({"metrics": {"durationMs": duration_ms}}),
        ),
        TelemetryEvent::Start { request_id } => {
            ("platform.start", json!({"requestId": request_id}))
        }
        TelemetryEvent::RuntimeDone {
            request_id,
            duration_ms,
            status,
        } => (
            "platform.runtimeDone",
            json!({"requestId": request_id, "status": status, "metrics": {"durationMs": duration_ms}}),
        ),
        TelemetryEvent::Report {
            request_id,
            status,
            metrics,
            ..
        } => (
            "platform.report",
            json!({"requestId": request_id, "status": status, "metrics": {
                "durationMs": metrics.duration_ms,
                "billedDurationMs": metrics.billed_duration_ms,
                "memorySizeMB": metrics.memory_size_mb,
                "maxMemoryUsedMB": metrics.max_memory_used_mb,
                "initDurationMs": metrics.init_duration_ms,
            }}),
        ),
        TelemetryEvent::Other => ("function", json!("a log line")),
    };
    json!({"time": "2024-05-01T10:00:00.000Z", "type": kind, "record": record})
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("platform.start"),
            Just("platform.report"),
            Just("platform.initReport"),
            Just("platform.runtimeDone"),
            Just("type"),
            Just("record"),
            Just("requestId"),
            Just("metrics"),
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("type".to_owned()),
                        Just("record".to_owned()),
                        Just("requestId".to_owned()),
                        Just("metrics".to_owned()),
                        Just("durationMs".to_owned()),
                        "[a-zA-Z]{1,8}"
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

fn finite() -> impl Strategy<Value = f64> {
    (0u32..10_000_000).prop_map(|n| f64::from(n) / 1000.0)
}

fn any_event() -> impl Strategy<Value = TelemetryEvent> {
    let id = "[a-f0-9-]{1,36}";
    let status = prop::option::of(prop_oneof![
        Just("success".to_owned()),
        Just("error".to_owned()),
        Just("timeout".to_owned())
    ]);
    prop_oneof![
        prop::option::of("[a-z-]{1,24}").prop_map(|initialization_type| {
            TelemetryEvent::InitStart {
                initialization_type,
            }
        }),
        status
            .clone()
            .prop_map(|status| TelemetryEvent::InitRuntimeDone { status }),
        prop::option::of(finite())
            .prop_map(|duration_ms| TelemetryEvent::InitReport { duration_ms }),
        id.prop_map(|request_id| TelemetryEvent::Start { request_id }),
        (id, prop::option::of(finite()), status.clone()).prop_map(
            |(request_id, duration_ms, status)| TelemetryEvent::RuntimeDone {
                request_id,
                duration_ms,
                status
            }
        ),
        (
            id,
            status,
            finite(),
            prop::option::of(finite()),
            prop::option::of(finite()),
            prop::option::of(finite()),
            prop::option::of(finite()),
        )
            .prop_map(
                |(request_id, status, d, b, m, x, i)| TelemetryEvent::Report {
                    request_id,
                    status,
                    time_unix_nanos: Some(1_714_557_600_000_000_000),
                    metrics: ReportMetrics {
                        duration_ms: d,
                        billed_duration_ms: b,
                        memory_size_mb: m,
                        max_memory_used_mb: x,
                        init_duration_ms: i,
                    },
                }
            ),
        Just(TelemetryEvent::Other),
    ]
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_batch(&body);
    }

    #[test]
    fn arbitrary_json_never_panics_and_arrays_always_parse(value in any_json()) {
        let result = parse_batch(value.to_string().as_bytes());
        prop_assert_eq!(result.is_ok(), value.is_array());
        if let (Ok(batch), Value::Array(items)) = (result, &value) {
            prop_assert_eq!(batch.events.len() + batch.malformed, items.len());
        }
    }

    #[test]
    fn arbitrary_items_in_a_batch_never_panic(items in prop::collection::vec(any_json(), 0..8)) {
        let wrapped: Vec<Value> = items
            .into_iter()
            .map(|record| json!({"type": "platform.report", "record": record}))
            .collect();
        let batch = parse_batch(Value::Array(wrapped.clone()).to_string().as_bytes());
        let batch = batch.expect("an array parses");
        prop_assert_eq!(batch.events.len() + batch.malformed, wrapped.len());
    }

    #[test]
    fn valid_batches_round_trip(events in prop::collection::vec(any_event(), 0..20)) {
        let body = Value::Array(events.iter().map(to_lambda_json).collect()).to_string();
        let batch = parse_batch(body.as_bytes()).expect("valid batch");
        prop_assert_eq!(batch.malformed, 0);
        prop_assert_eq!(batch.events, events);
    }
}
