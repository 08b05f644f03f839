//! Runs the criterion benchmark of the extension's hot path (`benches/hot_path.rs`) and
//! reads its estimates back for the report.

use crate::tools;
use crate::workspace::{LAMBDA_PACKAGE, Workspace};
use anyhow::{Context, Result};
use std::fmt::Write;
use std::process::Command;

const BENCH: &str = "hot_path";
/// Criterion's group name (its directory under target/criterion, spaces as underscores).
const GROUP_DIR: &str = "telemetry batch";

/// (benchmark, mean ns per batch, throughput elements per batch).
pub fn run(ws: &Workspace) -> Result<Vec<(String, f64)>> {
    tools::run(
        Command::new("cargo")
            .current_dir(&ws.root)
            .args([
                "bench",
                "--quiet",
                "--package",
                LAMBDA_PACKAGE,
                "--bench",
                BENCH,
                "--",
            ])
            .args(["--warm-up-time", "1", "--measurement-time", "3"]),
    )
    .context("running the hot-path criterion benchmark")?;
    let group = ws
        .target_dir
        .join("criterion")
        .join(GROUP_DIR.replace(' ', "_"));
    let group = if group.exists() {
        group
    } else {
        ws.target_dir.join("criterion").join(GROUP_DIR)
    };
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&group)
        .with_context(|| format!("reading {}", group.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("new/estimates.json").exists())
        .collect();
    entries.sort();
    for dir in entries {
        let text = std::fs::read_to_string(dir.join("new/estimates.json"))?;
        let v: serde_json::Value = serde_json::from_str(&text)?;
        let mean = v["mean"]["point_estimate"]
            .as_f64()
            .context("criterion estimate")?;
        let bench = std::fs::read_to_string(dir.join("new/benchmark.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|b| b["function_id"].as_str().map(str::to_owned))
            .unwrap_or_else(|| {
                dir.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            });
        out.push((bench, mean));
    }
    Ok(out)
}

/// The report section: time per batch and per invocation.
pub fn markdown(results: &[(String, f64)], invocations: u64) -> String {
    let mut out = format!(
        "\n## Extension hot path (criterion, a batch of {invocations} invocations' telemetry)\n\n| step | per batch | per invocation |\n|---|---|---|\n"
    );
    for (name, ns) in results {
        let _ = writeln!(
            out,
            "| {name} | {:.1} µs | {:.2} µs |",
            ns / 1000.0,
            ns / 1000.0 / invocations as f64
        );
    }
    out
}
