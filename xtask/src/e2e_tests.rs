//! End to end with the real release binaries (built by `cargo xtask build`): the extension
//! and the functions through the emulator, x86_64 natively and arm64 under qemu. Ignored by
//! a plain `cargo test`; `cargo xtask test` runs them after the build.

use crate::emulator::environment::{Environment, Spec};
use crate::emulator::sandbox::{Exit, Launcher};
use crate::emulator::state::Outcome;
use crate::smoke;
use crate::targets::Table;
use crate::test_http::{Mode, Sink, http};
use crate::workspace::Workspace;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const EXTENSION: &str = "thaw-extension";
const WAIT: Duration = Duration::from_secs(10);

fn workspace() -> (Workspace, Table) {
    let ws = Workspace::locate().expect("workspace");
    let table = Table::load(&ws.root).expect("table");
    (ws, table)
}

/// A spec for `function` of `key`, with the extension or without, plus `env`.
fn spec(key: &str, function: &str, with_extension: bool, env: &[(&str, &str)]) -> Spec {
    let (ws, table) = workspace();
    let keyed = table.select(key).expect("key")[0];
    let dir = ws.bins_dir(key);
    assert!(
        dir.join(function).exists(),
        "{}: run `cargo xtask build --target {key}`",
        dir.display()
    );
    let launcher = if keyed.target.arch == std::env::consts::ARCH {
        Launcher::native()
    } else {
        smoke::qemu(keyed.target, &keyed.target.qemu_cpu, None).expect("qemu")
    };
    let mut extra_env = vec![
        // Loopback only, any free port; short buffering so reports come quickly.
        ("THAW_TELEMETRY_LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
        ("THAW_TELEMETRY_TIMEOUT_MS".to_owned(), "25".to_owned()),
    ];
    extra_env.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    Spec {
        launcher,
        function: dir.join(function),
        extensions: if with_extension {
            vec![dir.join(EXTENSION)]
        } else {
            Vec::new()
        },
        memory_mb: 512,
        timeout: Duration::from_secs(30),
        init_timeout: Duration::from_secs(60),
        extra_env,
        echo: false,
    }
}

async fn extension_lines(env: &Environment) -> Vec<String> {
    env.extensions
        .lock()
        .await
        .iter()
        .flat_map(|p| p.lines())
        .collect()
}

/// The extension's EMF lines (JSON objects carrying `_aws`).
fn emf(lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("_aws").is_some())
        .collect()
}

/// Waits until the extension has printed `n` EMF lines.
async fn wait_emf(env: &Environment, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + WAIT;
    loop {
        let lines = emf(&extension_lines(env).await);
        if lines.len() >= n || Instant::now() > deadline {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn invoke_ok(env: &Environment, payload: &Value) -> Value {
    match env.invoke(payload.to_string().into_bytes()).await {
        Outcome::Response(body) => serde_json::from_slice(&body).expect("a JSON response"),
        other => panic!("invocation failed: {other:?}"),
    }
}

async fn assert_clean_exit(env: &Environment) -> String {
    let shutdown = env.shutdown().await;
    let lines = extension_lines(env).await;
    for (name, exit) in &shutdown.extensions {
        assert!(
            matches!(exit, Exit::Exited(s) if s.success()),
            "{name}: {exit:?}; {lines:?}"
        );
    }
    assert!(
        shutdown.elapsed < Duration::from_secs(2),
        "shutdown took {:?}",
        shutdown.elapsed
    );
    lines
        .iter()
        .rev()
        .find(|l| l.contains("shutdown"))
        .cloned()
        .unwrap_or_else(|| panic!("no shutdown line: {lines:?}"))
}

async fn cold_then_warm(key: &str) {
    let env = Environment::start(spec(key, "hello", true, &[]))
        .await
        .expect("start");
    for _ in 0..2 {
        let response = invoke_ok(&env, &json!({"queryStringParameters": {"name": "e2e"}})).await;
        assert_eq!(response["statusCode"], 200);
    }
    let lines = wait_emf(&env, 2).await;
    assert_eq!(lines.len(), 2, "{lines:?}");
    let (cold, warm) = (&lines[0], &lines[1]);
    assert_eq!(cold["cold"], true, "{cold}");
    assert!(
        cold["init_duration"].as_f64().is_some_and(|d| d > 0.0),
        "{cold}"
    );
    let phases = cold["extension_phases"]
        .as_array()
        .expect("the extension's own phases");
    assert!(
        !phases.is_empty() && phases.iter().all(|p| p["ms"].as_f64().is_some()),
        "{cold}"
    );
    assert!(
        cold["duration"].as_f64().is_some() && cold["max_memory_used"].as_f64().is_some(),
        "{cold}"
    );
    assert_eq!(warm["cold"], false, "{warm}");
    assert!(warm.get("init_duration").is_none(), "{warm}");
    // The emulator's own report for the cold start carries the same init duration.
    let log = env.server.state.lock().telemetry.events.clone();
    let report = log
        .iter()
        .find(|e| e["type"] == "platform.report")
        .expect("report");
    assert_eq!(
        report["record"]["metrics"]["initDurationMs"],
        cold["init_duration"]
    );
    assert_clean_exit(&env).await;
}

#[tokio::test]
#[ignore = "needs `cargo xtask build`; run by `cargo xtask test`"]
async fn emf_lines_mark_the_cold_start_with_init_and_phases_x86_64() {
    cold_then_warm("x86_64").await;
}

#[tokio::test]
#[ignore = "needs `cargo xtask build`; run by `cargo xtask test`"]
async fn emf_lines_mark_the_cold_start_under_qemu_arm64() {
    cold_then_warm("arm64-musl").await;
}

#[tokio::test]
#[ignore = "needs `cargo xtask build`; run by `cargo xtask test`"]
async fn init_gating_holds_for_the_real_extension() {
    let env = Environment::start(spec("x86_64", "hello", true, &[]))
        .await
        .expect("start");
    invoke_ok(&env, &json!({})).await;
    {
        let s = env.server.state.lock();
        let ext_ready = s.extensions[0].ready_at.expect("extension ready");
        let done = s.init.done.expect("init done");
        assert!(
            ext_ready <= done,
            "INIT ended before the extension was ready"
        );
        let kinds: Vec<&str> = s
            .telemetry
            .events
            .iter()
            .filter_map(|e| e["type"].as_str())
            .collect();
        let report = kinds
            .iter()
            .position(|k| *k == "platform.initReport")
            .expect("initReport");
        let start = kinds
            .iter()
            .position(|k| *k == "platform.start")
            .expect("start");
        assert!(report < start, "{kinds:?}");
    }
    assert_clean_exit(&env).await;
}

/// Data points of `metric` in OTLP bodies: (invocation id, value).
fn otlp_points(bodies: &[String], metric: &str) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    for body in bodies {
        let v: Value = serde_json::from_str(body).expect("OTLP JSON");
        for rm in v["resourceMetrics"].as_array().into_iter().flatten() {
            for sm in rm["scopeMetrics"].as_array().into_iter().flatten() {
                for m in sm["metrics"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|m| m["name"] == metric)
                {
                    for p in m["gauge"]["dataPoints"].as_array().into_iter().flatten() {
                        let id = p["attributes"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .find(|a| a["key"] == "faas.invocation_id")
                            .and_then(|a| a["value"]["stringValue"].as_str())
                            .unwrap_or_default();
                        out.push((id.to_owned(), p["asDouble"].as_f64().expect("value")));
                    }
                }
            }
        }
    }
    out
}

#[tokio::test]
#[ignore = "needs `cargo xtask build`; run by `cargo xtask test`"]
async fn otlp_batches_reach_a_local_sink_with_the_reported_values() {
    let sink = Sink::start(Mode::Ok).await;
    let url = sink.url();
    let env_vars = [
        ("THAW_OTLP_ENDPOINT", url.as_str()),
        ("THAW_OTLP_FLUSH_MS", "50"),
    ];
    let env = Environment::start(spec("x86_64", "hello", true, &env_vars))
        .await
        .expect("start");
    for _ in 0..3 {
        invoke_ok(&env, &json!({})).await;
    }
    let bodies = sink
        .wait(WAIT, |b| {
            otlp_points(b, "thaw.invocation.duration").len() >= 3
        })
        .await;
    let durations = otlp_points(&bodies, "thaw.invocation.duration");
    let log = env.server.state.lock().telemetry.events.clone();
    let reports: Vec<&Value> = log
        .iter()
        .filter(|e| e["type"] == "platform.report")
        .collect();
    assert_eq!(reports.len(), 3);
    for report in reports {
        let id = report["record"]["requestId"].as_str().expect("id");
        let want = report["record"]["metrics"]["durationMs"]
            .as_f64()
            .expect("duration");
        let got: Vec<f64> = durations
            .iter()
            .filter(|(i, _)| i == id)
            .map(|(_, v)| *v)
            .collect();
        assert_eq!(got, [want], "{id}: {durations:?}");
    }
    let init = otlp_points(&bodies, "thaw.init.duration");
    assert_eq!(
        init.len(),
        1,
        "only the cold start has an init duration: {init:?}"
    );
    assert!(bodies.iter().all(|b| b.contains("\"faas.name\"")));
    assert_clean_exit(&env).await;
}

#[tokio::test]
#[ignore = "needs `cargo xtask build`; run by `cargo xtask test`"]
async fn shutdown_flushes_otlp_within_the_budget() {
    let sink = Sink::start(Mode::Ok).await;
    let url = sink.url();
    // Nothing would be sent for a minute: only the shutdown flush can deliver it.
    let env_vars = [
        ("THAW_OTLP_ENDPOINT", url.as_str()),
        ("THAW_OTLP_FLUSH_MS", "60000"),
    ];
    let env = Environment::start(spec("x86_64", "hello", true, &env_vars))
        .await
        .expect("start");
    invoke_ok(&env, &json!({})).await;
    wait_emf(&env, 1).await;
    assert!(sink.bodies().is_empty(), "sent before shutdown");
    let last = assert_clean_exit(&env).await;
    assert_eq!(
        otlp_points(&sink.bodies(), "thaw.invocation.duration").len(),
        1,
        "{last}"
    );
}

/// Median latency of `n` invocations of hello.
async fn median_latency(env: &Environment, n: usize) -> Duration {
    let mut times = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        invoke_ok(env, &json!({})).await;
        times.push(t.elapsed());
    }
    times.sort();
    times[n / 2]
}

#[tokio::test]
#[ignore = "needs `cargo xtask build`; run by `cargo xtask test`"]
async fn a_refusing_hanging_or_failing_sink_never_delays_invocations() {
    let bare = Environment::start(spec("x86_64", "hello", false, &[]))
        .await
        .expect("start");
    let baseline = median_latency(&bare, 20).await;
    bare.shutdown().await;
    for mode in [Mode::Refuse, Mode::Hang, Mode::Status500] {
        let sink = Sink::start(mode).await;
        let url = sink.url();
        // A hanging sink would hold each request 5 s: any wait on it would show.
        let env_vars = [
            ("THAW_OTLP_ENDPOINT", url.as_str()),
            ("THAW_OTLP_FLUSH_MS", "10"),
            ("THAW_OTLP_BATCH_SIZE", "1"),
            ("THAW_OTLP_TIMEOUT_MS", "5000"),
        ];
        let env = Environment::start(spec("x86_64", "hello", true, &env_vars))
            .await
            .expect("start");
        let latency = median_latency(&env, 20).await;
        assert!(
            latency < baseline + Duration::from_millis(50),
            "{mode:?}: median {latency:?} against {baseline:?} without the extension"
        );
        if mode != Mode::Refuse {
            let bodies = sink.wait(WAIT, |b| !b.is_empty()).await;
            assert!(
                !bodies.is_empty(),
                "{mode:?}: the extension never tried the sink"
            );
        }
        let last = assert_clean_exit(&env).await;
        assert!(last.contains("otlp:"), "{last}");
    }
}

#[tokio::test]
#[ignore = "needs `cargo xtask build`; run by `cargo xtask test`"]
async fn malformed_telemetry_is_answered_200_and_counted() {
    let env = Environment::start(spec("x86_64", "hello", true, &[]))
        .await
        .expect("start");
    let uri = env.server.state.lock().subscriptions[0].uri.clone();
    let addr = uri
        .trim_start_matches("http://")
        .split('/')
        .next()
        .expect("authority")
        .parse()
        .expect("addr");
    for garbage in [
        "{not json",
        "[1,2,3]",
        r#"{"type":"platform.report"}"#,
        r#"[{"time":5,"type":7,"record":null}]"#,
    ] {
        let (status, _, _) = http(
            addr,
            "POST",
            "/",
            &[("Content-Type", "application/json")],
            garbage,
        )
        .await;
        assert_eq!(status, 200, "{garbage}");
    }
    // Still working: the next invocation is reported.
    invoke_ok(&env, &json!({})).await;
    assert_eq!(wait_emf(&env, 1).await.len(), 1);
    let last = assert_clean_exit(&env).await;
    let unparseable: u64 = last
        .split(", ")
        .find_map(|part| part.strip_suffix(" unparseable"))
        .and_then(|n| n.rsplit(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no count in {last}"));
    assert!(unparseable >= 2, "{last}");
}

#[tokio::test]
#[ignore = "needs `cargo xtask build`; run by `cargo xtask test`"]
async fn absurd_configuration_is_logged_once_each_and_defaults_apply() {
    let absurd = [
        ("THAW_TELEMETRY_MAX_ITEMS", "-5"),
        ("THAW_TELEMETRY_TIMEOUT_MS", "99999999999999999999"),
        ("THAW_OTLP_ENDPOINT", "ftp://example.invalid"),
        ("THAW_OTLP_QUEUE", "lots"),
        ("THAW_METRICS_NAMESPACE", "AWS/Lambda"),
    ];
    let env = Environment::start(spec("x86_64", "hello", true, &absurd))
        .await
        .expect("start");
    let response = invoke_ok(&env, &json!({"queryStringParameters": {"name": "still"}})).await;
    assert_eq!(response["statusCode"], 200, "the function is unaffected");
    let lines = wait_emf(&env, 1).await;
    assert_eq!(
        lines[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"], "thaw",
        "default namespace"
    );
    let log = extension_lines(&env).await;
    for (name, _) in &absurd {
        let n = log.iter().filter(|l| l.contains(name)).count();
        assert_eq!(n, 1, "{name} must be logged exactly once: {log:?}");
    }
    assert_clean_exit(&env).await;
}

#[tokio::test]
#[ignore = "needs `cargo xtask build`; run by `cargo xtask test`"]
async fn memory_stays_bounded_over_10000_invocations_with_a_dead_sink() {
    let sink = Sink::start(Mode::Refuse).await;
    let url = sink.url();
    let env_vars = [
        ("THAW_OTLP_ENDPOINT", url.as_str()),
        ("THAW_OTLP_FLUSH_MS", "10"),
    ];
    let env = Environment::start(spec("x86_64", "hello", true, &env_vars))
        .await
        .expect("start");
    let pid = env.extensions.lock().await[0].pid().expect("pid");
    let rss_kb = || -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
        let line = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .expect("VmRSS");
        line.split_whitespace()
            .nth(1)
            .expect("kB")
            .parse()
            .expect("number")
    };
    for _ in 0..2_000 {
        invoke_ok(&env, &json!({})).await;
    }
    let warm = rss_kb();
    for _ in 0..8_000 {
        invoke_ok(&env, &json!({})).await;
    }
    let after = rss_kb();
    assert!(
        after <= warm + 2048,
        "RSS grew from {warm} kB to {after} kB over 8,000 invocations"
    );
    let last = assert_clean_exit(&env).await;
    assert!(last.contains("after 10000 invocations"), "{last}");
}

#[test]
#[ignore = "needs `cargo xtask build`; run by `cargo xtask test`"]
fn every_built_binary_has_jemalloc_with_one_arena_compiled_in() {
    let (ws, table) = workspace();
    for keyed in table.all() {
        let launchers = smoke::launchers(keyed.target, None).expect("launchers");
        let (how, launcher) = launchers.last().expect("qemu at least");
        for bin in ws.bins.all() {
            let path = ws.bins_dir(keyed.key).join(bin);
            let mut cmd = std::process::Command::new(
                launcher
                    .prefix
                    .first()
                    .map_or(path.as_os_str(), |p| p.as_ref()),
            );
            if !launcher.prefix.is_empty() {
                cmd.args(&launcher.prefix[1..]).arg(&path);
            }
            let out = cmd.env("THAW_PRINT_ALLOCATOR", "1").output().expect("run");
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "{} {bin} ({how}): {out:?}", keyed.key);
            assert_eq!(stdout.trim(), "narenas=1", "{} {bin} ({how})", keyed.key);
        }
    }
}
