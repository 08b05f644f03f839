//! The emulator against hand-driven clients: INIT gating, invocation round trips, time-outs,
//! and Telemetry API delivery with Lambda's event sequence.

use super::state::Outcome;
use super::{FunctionInfo, Server};
use crate::test_http::{Mode, Sink, http};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;

const STEP: Duration = Duration::from_millis(300);

fn header(head: &str, name: &str) -> String {
    head.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("no {name} in {head}"))
        .trim()
        .to_owned()
}

async fn server() -> Server {
    let info = FunctionInfo {
        name: "f".into(),
        version: "$LATEST".into(),
        handler: "bootstrap".into(),
    };
    Server::start(info, 256).await.expect("server")
}

async fn register(addr: SocketAddr) -> String {
    let (status, head, _) = http(
        addr,
        "POST",
        "/2020-01-01/extension/register",
        &[("Lambda-Extension-Name", "probe")],
        r#"{"events":["INVOKE","SHUTDOWN"]}"#,
    )
    .await;
    assert_eq!(status, 200);
    header(&head, "lambda-extension-identifier")
}

#[tokio::test]
async fn the_runtime_gets_no_event_before_every_extension_waits() {
    let server = server().await;
    let addr = server.addr;
    server.state.start_init();
    let id = register(addr).await;
    let runtime = tokio::spawn(async move {
        http(addr, "GET", "/2018-06-01/runtime/invocation/next", &[], "").await
    });
    let (request_id, outcome) = server
        .state
        .enqueue(b"{\"n\":1}".to_vec(), Duration::from_secs(10));
    tokio::time::sleep(STEP).await;
    assert!(
        !runtime.is_finished(),
        "INIT gating: the extension has not called /event/next"
    );
    let ext = tokio::spawn(async move {
        http(
            addr,
            "GET",
            "/2020-01-01/extension/event/next",
            &[("Lambda-Extension-Identifier", id.as_str())],
            "",
        )
        .await
    });
    let (status, head, body) = tokio::time::timeout(Duration::from_secs(5), runtime)
        .await
        .expect("released")
        .expect("task");
    assert_eq!((status, body.as_str()), (200, "{\"n\":1}"));
    assert_eq!(header(&head, "lambda-runtime-aws-request-id"), request_id);
    let (_, _, event) = ext.await.expect("ext");
    let event: Value = serde_json::from_str(&event).expect("json");
    assert_eq!(event["eventType"], "INVOKE");
    assert_eq!(event["requestId"], request_id.as_str());
    let path = format!("/2018-06-01/runtime/invocation/{request_id}/response");
    assert_eq!(http(addr, "POST", &path, &[], "\"done\"").await.0, 202);
    assert_eq!(
        outcome.await.expect("outcome"),
        Outcome::Response(b"\"done\"".to_vec())
    );
    // A second response for the same request is refused.
    assert_eq!(http(addr, "POST", &path, &[], "\"again\"").await.0, 400);
}

#[tokio::test]
async fn an_invocation_past_its_deadline_times_out() {
    let server = server().await;
    server.state.start_init();
    let addr = server.addr;
    let runtime = tokio::spawn(async move {
        http(addr, "GET", "/2018-06-01/runtime/invocation/next", &[], "").await
    });
    let outcome = server
        .invoke(b"{}".to_vec(), Duration::from_millis(200))
        .await;
    assert_eq!(outcome, Outcome::TimedOut);
    let (_, head, _) = runtime.await.expect("runtime got it");
    let id = header(&head, "lambda-runtime-aws-request-id");
    let late = format!("/2018-06-01/runtime/invocation/{id}/response");
    assert_eq!(
        http(addr, "POST", &late, &[], "{}").await.0,
        400,
        "a late answer is refused"
    );
    let log = server.state.lock().telemetry.events.clone();
    let report = log
        .iter()
        .find(|e| e["type"] == "platform.report")
        .expect("report");
    assert_eq!(report["record"]["status"], "timeout");
}

/// A telemetry subscriber on 127.0.0.1: its batches, as JSON arrays.
async fn subscriber() -> (u16, Sink) {
    let sink = Sink::start(Mode::Ok).await;
    (sink.addr.port(), sink)
}

#[tokio::test]
async fn subscribers_get_lambdas_platform_event_sequence() {
    let server = server().await;
    let addr = server.addr;
    server.state.start_init();
    let id = register(addr).await;
    let (port, sink) = subscriber().await;
    let sub = json!({"schemaVersion": "2022-12-13", "types": ["platform"],
        "buffering": {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25},
        "destination": {"protocol": "HTTP", "URI": format!("http://sandbox.localdomain:{port}")}});
    let hdr = [("Lambda-Extension-Identifier", id.as_str())];
    assert_eq!(
        http(addr, "PUT", "/2022-07-01/telemetry", &hdr, &sub.to_string())
            .await
            .0,
        200
    );
    let ext_id = id.clone();
    let ext = tokio::spawn(async move {
        for _ in 0..2 {
            http(
                addr,
                "GET",
                "/2020-01-01/extension/event/next",
                &[("Lambda-Extension-Identifier", ext_id.as_str())],
                "",
            )
            .await;
        }
    });
    for n in 0..2 {
        let runtime = tokio::spawn(async move {
            http(addr, "GET", "/2018-06-01/runtime/invocation/next", &[], "").await
        });
        let (rid, outcome) = server.state.enqueue(
            format!("{{\"n\":{n}}}").into_bytes(),
            Duration::from_secs(10),
        );
        let (_, head, _) = runtime.await.expect("runtime");
        assert_eq!(header(&head, "lambda-runtime-aws-request-id"), rid);
        http(
            addr,
            "POST",
            &format!("/2018-06-01/runtime/invocation/{rid}/response"),
            &[],
            "{}",
        )
        .await;
        assert!(matches!(outcome.await, Ok(Outcome::Response(_))));
    }
    ext.await.expect("ext");
    let bodies = sink
        .wait(Duration::from_secs(5), |b| {
            b.iter()
                .map(|x| x.matches("platform.report").count())
                .sum::<usize>()
                >= 2
        })
        .await;
    let events: Vec<Value> = bodies
        .iter()
        .flat_map(|b| serde_json::from_str::<Vec<Value>>(b).expect("a JSON array"))
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["type"].as_str().expect("type"))
        .collect();
    assert_eq!(
        kinds,
        [
            "platform.initStart",
            "platform.initRuntimeDone",
            "platform.initReport",
            "platform.start",
            "platform.runtimeDone",
            "platform.report",
            "platform.start",
            "platform.runtimeDone",
            "platform.report"
        ]
    );
    let reports: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "platform.report")
        .collect();
    let init = reports[0]["record"]["metrics"]["initDurationMs"]
        .as_f64()
        .expect("cold start has init");
    assert!(init > 0.0);
    assert!(
        reports[1]["record"]["metrics"]
            .get("initDurationMs")
            .is_none(),
        "warm start has none"
    );
    assert_eq!(reports[0]["record"]["metrics"]["memorySizeMB"], 256);
    assert!(
        events
            .iter()
            .all(|e| e["time"].as_str().is_some_and(|t| t.ends_with('Z')))
    );
}

#[tokio::test]
async fn subscriptions_from_strangers_or_with_bad_bodies_are_refused() {
    let server = server().await;
    let addr = server.addr;
    let ok = json!({"schemaVersion": "2022-12-13", "types": ["platform"],
        "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:1"}});
    let stranger = [("Lambda-Extension-Identifier", "nobody")];
    assert_eq!(
        http(
            addr,
            "PUT",
            "/2022-07-01/telemetry",
            &stranger,
            &ok.to_string()
        )
        .await
        .0,
        403
    );
    let id = register(addr).await;
    let hdr = [("Lambda-Extension-Identifier", id.as_str())];
    assert_eq!(
        http(addr, "PUT", "/2022-07-01/telemetry", &hdr, "{not json")
            .await
            .0,
        400
    );
}

#[tokio::test]
async fn a_busy_extension_holds_the_next_invocation_back() {
    let server = server().await;
    let addr = server.addr;
    server.state.start_init();
    let id = register(addr).await;
    let next_event = move |id: String| {
        tokio::spawn(async move {
            let hdr = [("Lambda-Extension-Identifier", id.as_str())];
            http(addr, "GET", "/2020-01-01/extension/event/next", &hdr, "").await
        })
    };
    let runtime_next = move || {
        tokio::spawn(async move {
            http(addr, "GET", "/2018-06-01/runtime/invocation/next", &[], "").await
        })
    };
    let first_event = next_event(id.clone());
    let (first, done) = server.state.enqueue(b"1".to_vec(), Duration::from_secs(10));
    runtime_next().await.expect("first invocation");
    first_event.await.expect("the extension got INVOKE");
    let path = format!("/2018-06-01/runtime/invocation/{first}/response");
    http(addr, "POST", &path, &[], "{}").await;
    done.await.expect("first done");
    // The extension is still working on the first INVOKE: the second must wait for it.
    let (_, second_done) = server.state.enqueue(b"2".to_vec(), Duration::from_secs(10));
    let second = runtime_next();
    tokio::time::sleep(STEP).await;
    assert!(
        !second.is_finished(),
        "the runtime got an event while the extension was busy"
    );
    let _again = next_event(id);
    let (_, _, body) = tokio::time::timeout(Duration::from_secs(5), second)
        .await
        .expect("released")
        .expect("task");
    assert_eq!(body, "2");
    drop(second_done);
}
