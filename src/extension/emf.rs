//! CloudWatch Embedded Metric Format: one JSON line per invocation on stdout, which Lambda
//! ships to CloudWatch Logs, where the metrics are extracted without any network call of ours.

use super::metrics::InvocationMetrics;
use serde_json::{Map, Value, json};

/// The dimension every metric is recorded under.
pub const DIMENSION: &str = "function_name";

/// One EMF line (without the newline) for `m`.
pub fn line(namespace: &str, function_name: &str, m: &InvocationMetrics) -> String {
    let mut root = Map::new();
    let mut declared = Vec::new();
    let mut metric = |name: &str, unit: &str, value: Option<f64>| {
        if let Some(value) = value.filter(|v| v.is_finite()) {
            declared.push(json!({"Name": name, "Unit": unit}));
            root.insert(name.to_owned(), json!(value));
        }
    };
    metric("duration", "Milliseconds", Some(m.duration_ms));
    metric("billed_duration", "Milliseconds", m.billed_duration_ms);
    metric("runtime_duration", "Milliseconds", m.runtime_duration_ms);
    metric("init_duration", "Milliseconds", m.init_duration_ms);
    metric("max_memory_used", "Megabytes", m.max_memory_used_mb);
    metric("memory_size", "Megabytes", m.memory_size_mb);
    metric(
        "extension_init",
        "Milliseconds",
        m.extension_init.as_ref().map(|i| i.total_ms),
    );

    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": m.time_unix_nanos / 1_000_000,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [[DIMENSION]],
                "Metrics": declared,
            }],
        }),
    );
    root.insert(DIMENSION.into(), json!(function_name));
    root.insert("request_id".into(), json!(m.request_id));
    root.insert("cold".into(), json!(m.cold));
    if let Some(status) = &m.status {
        root.insert("status".into(), json!(status));
    }
    if let Some(kind) = &m.initialization_type {
        root.insert("init_type".into(), json!(kind));
    }
    if let Some(init) = &m.extension_init {
        let phases: Vec<Value> = init
            .phases
            .iter()
            .map(|p| json!({"name": p.name, "ms": p.delta_ms(), "at_ms": p.cumulative_ms()}))
            .collect();
        root.insert("extension_phases".into(), Value::Array(phases));
    }
    Value::Object(root).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoints::Phase;
    use crate::extension::metrics::ExtensionInit;
    use std::sync::Arc;
    use std::time::Duration;

    fn cold() -> InvocationMetrics {
        InvocationMetrics {
            request_id: "r-1".into(),
            status: Some("success".into()),
            cold: true,
            initialization_type: Some("on-demand".into()),
            init_duration_ms: Some(21.5),
            duration_ms: 18.25,
            billed_duration_ms: Some(19.0),
            memory_size_mb: Some(128.0),
            max_memory_used_mb: Some(20.0),
            runtime_duration_ms: Some(17.0),
            time_unix_nanos: 1_714_557_600_041_000_000,
            extension_init: Some(Arc::new(ExtensionInit::from_phases(&[
                Phase {
                    name: "register",
                    delta: Duration::from_micros(800),
                    cumulative: Duration::from_micros(1_300),
                },
                Phase {
                    name: "ready",
                    delta: Duration::from_micros(700),
                    cumulative: Duration::from_micros(2_000),
                },
            ]))),
        }
    }

    fn parse(line: &str) -> Value {
        assert!(!line.contains('\n'), "one line: {line}");
        serde_json::from_str(line).expect("EMF is JSON")
    }

    fn declared(v: &Value) -> Vec<(String, String)> {
        v["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .expect("metrics list")
            .iter()
            .map(|m| {
                (
                    m["Name"].as_str().unwrap_or_default().to_owned(),
                    m["Unit"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn a_cold_line_declares_every_metric_and_carries_the_phases() {
        let v = parse(&line("thaw", "orders", &cold()));
        let aws = &v["_aws"];
        assert_eq!(aws["Timestamp"], 1_714_557_600_041_u64);
        assert_eq!(aws["CloudWatchMetrics"][0]["Namespace"], "thaw");
        assert_eq!(
            aws["CloudWatchMetrics"][0]["Dimensions"],
            json!([["function_name"]])
        );
        let metrics = declared(&v);
        assert_eq!(
            metrics,
            [
                ("duration", "Milliseconds"),
                ("billed_duration", "Milliseconds"),
                ("runtime_duration", "Milliseconds"),
                ("init_duration", "Milliseconds"),
                ("max_memory_used", "Megabytes"),
                ("memory_size", "Megabytes"),
                ("extension_init", "Milliseconds"),
            ]
            .map(|(n, u)| (n.to_owned(), u.to_owned()))
        );
        // Every declared metric has its value at the root, as EMF requires.
        for (name, _) in &metrics {
            assert!(v[name].is_number(), "{name} missing");
        }
        assert_eq!(v["duration"], 18.25);
        assert_eq!(v["init_duration"], 21.5);
        assert_eq!(v["extension_init"], 2.0);
        assert_eq!(v["function_name"], "orders");
        assert_eq!(v["request_id"], "r-1");
        assert_eq!(v["cold"], true);
        assert_eq!(v["status"], "success");
        assert_eq!(v["init_type"], "on-demand");
        assert_eq!(
            v["extension_phases"],
            json!([
                {"name": "register", "ms": 0.8, "at_ms": 1.3},
                {"name": "ready", "ms": 0.7, "at_ms": 2.0},
            ])
        );
    }

    #[test]
    fn a_warm_line_has_no_init_metrics_or_phases() {
        let warm = InvocationMetrics {
            cold: false,
            init_duration_ms: None,
            initialization_type: None,
            extension_init: None,
            runtime_duration_ms: None,
            ..cold()
        };
        let v = parse(&line("ns", "f", &warm));
        assert_eq!(v["cold"], false);
        let names: Vec<String> = declared(&v).into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "duration",
                "billed_duration",
                "max_memory_used",
                "memory_size"
            ]
        );
        for absent in [
            "init_duration",
            "extension_init",
            "extension_phases",
            "init_type",
        ] {
            assert!(v.get(absent).is_none(), "{absent} present");
        }
    }

    #[test]
    fn non_finite_values_are_left_out_rather_than_written_as_null() {
        let odd = InvocationMetrics {
            duration_ms: f64::NAN,
            ..cold()
        };
        let v = parse(&line("ns", "f", &odd));
        assert!(v.get("duration").is_none());
        assert!(!declared(&v).iter().any(|(n, _)| n == "duration"));
    }
}
