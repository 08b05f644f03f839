//! OTLP/HTTP JSON metrics requests (`ExportMetricsServiceRequest`), written by hand: an
//! OpenTelemetry SDK would cost more init time and binary size than the whole extension.
//!
//! Shape: one `resourceMetrics` (the function, with OpenTelemetry's FaaS and cloud resource
//! attributes), one `scopeMetrics` (`thaw`), and per metric one data point per invocation:
//! gauges for durations and memory, and a delta `sum` counting invocations, split by
//! `faas.coldstart`. 64-bit integers are JSON strings, as the protobuf JSON mapping says.

use super::metrics::InvocationMetrics;
use serde_json::{Value, json};

/// The resource every metric describes: this function.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub function_name: String,
    pub function_version: Option<String>,
    pub region: Option<String>,
    /// The execution environment: Lambda's log stream name identifies it.
    pub instance: Option<String>,
}

impl Resource {
    /// From Lambda's own environment variables.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        Self {
            function_name: lookup("AWS_LAMBDA_FUNCTION_NAME")
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| "unknown".to_owned()),
            function_version: lookup("AWS_LAMBDA_FUNCTION_VERSION"),
            region: lookup("AWS_REGION"),
            instance: lookup("AWS_LAMBDA_LOG_STREAM_NAME"),
        }
    }

    fn attributes(&self) -> Vec<Value> {
        let mut attrs = vec![
            string_attr("service.name", &self.function_name),
            string_attr("faas.name", &self.function_name),
            string_attr("cloud.provider", "aws"),
            string_attr("cloud.platform", "aws_lambda"),
        ];
        let optional = [
            ("faas.version", &self.function_version),
            ("cloud.region", &self.region),
            ("faas.instance", &self.instance),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                attrs.push(string_attr(key, value));
            }
        }
        attrs
    }
}

fn string_attr(key: &str, value: &str) -> Value {
    json!({"key": key, "value": {"stringValue": value}})
}

fn bool_attr(key: &str, value: bool) -> Value {
    json!({"key": key, "value": {"boolValue": value}})
}

/// The request body for `invocations`.
pub fn metrics_request(resource: &Resource, invocations: &[InvocationMetrics]) -> Value {
    let mut metrics = Vec::new();
    let mut gauge = |name: &str, unit: &str, value: &dyn Fn(&InvocationMetrics) -> Option<f64>| {
        let points: Vec<Value> = invocations
            .iter()
            .filter_map(|m| {
                let v = value(m).filter(|v| v.is_finite())?;
                Some(json!({
                    "timeUnixNano": m.time_unix_nanos.to_string(),
                    "asDouble": v,
                    "attributes": invocation_attributes(m),
                }))
            })
            .collect();
        if !points.is_empty() {
            metrics.push(json!({"name": name, "unit": unit, "gauge": {"dataPoints": points}}));
        }
    };
    gauge("thaw.invocation.duration", "ms", &|m| Some(m.duration_ms));
    gauge("thaw.invocation.billed_duration", "ms", &|m| {
        m.billed_duration_ms
    });
    gauge("thaw.invocation.runtime_duration", "ms", &|m| {
        m.runtime_duration_ms
    });
    gauge("thaw.invocation.max_memory_used", "MBy", &|m| {
        m.max_memory_used_mb
    });
    gauge("thaw.invocation.memory_size", "MBy", &|m| m.memory_size_mb);
    gauge("thaw.init.duration", "ms", &|m| m.init_duration_ms);
    gauge("thaw.extension.init.duration", "ms", &|m| {
        m.extension_init.as_ref().map(|i| i.total_ms)
    });
    metrics.extend(phase_metric(invocations));
    metrics.extend(invocation_count(invocations));

    json!({
        "resourceMetrics": [{
            "resource": {"attributes": resource.attributes()},
            "scopeMetrics": [{
                "scope": {"name": "thaw", "version": env!("CARGO_PKG_VERSION")},
                "metrics": metrics,
            }],
        }],
    })
}

fn invocation_attributes(m: &InvocationMetrics) -> Vec<Value> {
    let mut attrs = vec![
        string_attr("faas.invocation_id", &m.request_id),
        bool_attr("faas.coldstart", m.cold),
    ];
    if let Some(status) = &m.status {
        attrs.push(string_attr("thaw.status", status));
    }
    if let Some(kind) = &m.initialization_type {
        attrs.push(string_attr("thaw.init_type", kind));
    }
    attrs
}

/// The extension's init phases (cold invocations only), one point per phase.
fn phase_metric(invocations: &[InvocationMetrics]) -> Option<Value> {
    let points: Vec<Value> = invocations
        .iter()
        .filter_map(|m| Some((m, m.extension_init.as_ref()?)))
        .flat_map(|(m, init)| {
            init.phases.iter().map(move |p| {
                json!({
                    "timeUnixNano": m.time_unix_nanos.to_string(),
                    "asDouble": p.delta_ms(),
                    "attributes": [
                        string_attr("thaw.phase", p.name),
                        string_attr("faas.invocation_id", &m.request_id),
                    ],
                })
            })
        })
        .collect();
    (!points.is_empty()).then(|| {
        json!({"name": "thaw.extension.init.phase", "unit": "ms", "gauge": {"dataPoints": points}})
    })
}

/// Invocations in this batch, cold and warm, as a delta sum.
fn invocation_count(invocations: &[InvocationMetrics]) -> Option<Value> {
    let start = invocations.iter().map(|m| m.time_unix_nanos).min()?;
    let end = invocations.iter().map(|m| m.time_unix_nanos).max()?;
    let points: Vec<Value> = [true, false]
        .into_iter()
        .filter_map(|cold| {
            let n = invocations.iter().filter(|m| m.cold == cold).count();
            (n > 0).then(|| {
                json!({
                    "startTimeUnixNano": start.to_string(),
                    "timeUnixNano": end.to_string(),
                    "asInt": n.to_string(),
                    "attributes": [bool_attr("faas.coldstart", cold)],
                })
            })
        })
        .collect();
    Some(json!({
        "name": "thaw.invocations",
        "unit": "{invocation}",
        "sum": {
            "dataPoints": points,
            // AGGREGATION_TEMPORALITY_DELTA: each request counts only its own invocations.
            "aggregationTemporality": 1,
            "isMonotonic": true,
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoints::Phase;
    use crate::extension::metrics::ExtensionInit;
    use std::sync::Arc;
    use std::time::Duration;

    fn invocation(id: &str, cold: bool, t: u64) -> InvocationMetrics {
        InvocationMetrics {
            request_id: id.into(),
            status: Some("success".into()),
            cold,
            initialization_type: cold.then(|| "on-demand".to_owned()),
            init_duration_ms: cold.then_some(30.0),
            duration_ms: 12.5,
            billed_duration_ms: Some(13.0),
            memory_size_mb: Some(128.0),
            max_memory_used_mb: Some(21.0),
            runtime_duration_ms: None,
            time_unix_nanos: t,
            extension_init: cold.then(|| {
                Arc::new(ExtensionInit::from_phases(&[Phase {
                    name: "register",
                    delta: Duration::from_micros(1500),
                    cumulative: Duration::from_micros(2500),
                }]))
            }),
        }
    }

    fn resource() -> Resource {
        Resource::from_lookup(|name| match name {
            "AWS_LAMBDA_FUNCTION_NAME" => Some("orders".into()),
            "AWS_REGION" => Some("eu-west-1".into()),
            _ => None,
        })
    }

    fn metric<'a>(body: &'a Value, name: &str) -> &'a Value {
        body["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]
            .as_array()
            .expect("metrics")
            .iter()
            .find(|m| m["name"] == name)
            .unwrap_or_else(|| panic!("no metric {name} in {body:#}"))
    }

    fn attr<'a>(attrs: &'a Value, key: &str) -> &'a Value {
        attrs
            .as_array()
            .expect("attributes")
            .iter()
            .find(|a| a["key"] == key)
            .map_or(&Value::Null, |a| &a["value"])
    }

    #[test]
    fn a_batch_has_the_resource_the_scope_and_a_point_per_invocation() {
        let body = metrics_request(
            &resource(),
            &[invocation("a", true, 1_000), invocation("b", false, 2_000)],
        );
        let rm = &body["resourceMetrics"][0];
        let resource_attrs = &rm["resource"]["attributes"];
        assert_eq!(
            attr(resource_attrs, "service.name")["stringValue"],
            "orders"
        );
        assert_eq!(attr(resource_attrs, "faas.name")["stringValue"], "orders");
        assert_eq!(
            attr(resource_attrs, "cloud.region")["stringValue"],
            "eu-west-1"
        );
        assert_eq!(attr(resource_attrs, "cloud.provider")["stringValue"], "aws");
        assert_eq!(*attr(resource_attrs, "faas.version"), Value::Null);
        assert_eq!(rm["scopeMetrics"][0]["scope"]["name"], "thaw");

        let duration = metric(&body, "thaw.invocation.duration");
        assert_eq!(duration["unit"], "ms");
        let points = duration["gauge"]["dataPoints"].as_array().expect("points");
        assert_eq!(points.len(), 2);
        assert_eq!(points[0]["asDouble"], 12.5);
        assert_eq!(points[0]["timeUnixNano"], "1000");
        assert_eq!(
            attr(&points[0]["attributes"], "faas.invocation_id")["stringValue"],
            "a"
        );
        assert_eq!(
            attr(&points[0]["attributes"], "faas.coldstart")["boolValue"],
            true
        );
        assert_eq!(
            attr(&points[1]["attributes"], "faas.coldstart")["boolValue"],
            false
        );

        let init = metric(&body, "thaw.init.duration");
        let points = init["gauge"]["dataPoints"].as_array().expect("points");
        assert_eq!(points.len(), 1, "init only on the cold one");
        assert_eq!(points[0]["asDouble"], 30.0);

        assert_eq!(
            metric(&body, "thaw.invocation.max_memory_used")["unit"],
            "MBy"
        );
        let ext = metric(&body, "thaw.extension.init.duration");
        assert_eq!(ext["gauge"]["dataPoints"][0]["asDouble"], 2.5);
        let phase = metric(&body, "thaw.extension.init.phase");
        let point = &phase["gauge"]["dataPoints"][0];
        assert_eq!(point["asDouble"], 1.5);
        assert_eq!(
            attr(&point["attributes"], "thaw.phase")["stringValue"],
            "register"
        );

        let count = &metric(&body, "thaw.invocations")["sum"];
        assert_eq!(count["aggregationTemporality"], 1);
        assert_eq!(count["isMonotonic"], true);
        let points = count["dataPoints"].as_array().expect("points");
        assert_eq!(points.len(), 2);
        for (point, cold) in points.iter().zip([true, false]) {
            assert_eq!(point["asInt"], "1");
            assert_eq!(point["startTimeUnixNano"], "1000");
            assert_eq!(point["timeUnixNano"], "2000");
            assert_eq!(
                attr(&point["attributes"], "faas.coldstart")["boolValue"],
                cold
            );
        }
    }

    #[test]
    fn metrics_without_values_are_left_out() {
        let body = metrics_request(&resource(), &[invocation("b", false, 5)]);
        let names: Vec<&str> = body["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]
            .as_array()
            .expect("metrics")
            .iter()
            .filter_map(|m| m["name"].as_str())
            .collect();
        assert_eq!(
            names,
            [
                "thaw.invocation.duration",
                "thaw.invocation.billed_duration",
                "thaw.invocation.max_memory_used",
                "thaw.invocation.memory_size",
                "thaw.invocations",
            ]
        );
    }

    #[test]
    fn an_empty_batch_has_no_metrics() {
        let body = metrics_request(&resource(), &[]);
        assert_eq!(
            body["resourceMetrics"][0]["scopeMetrics"][0]["metrics"],
            json!([])
        );
    }
}
