//! `xtask bench`: N cold starts per variant through the emulator, variants interleaved
//! (A B A B …), against a naive build; a Markdown report and an SVG chart.

mod chart;
mod floor;
mod hot_path;
mod measure;
mod report;
mod stats;
mod variants;

use crate::build;
use crate::emulator::sandbox::Launcher;
use crate::package::zip_archive::{self, Entry};
use crate::smoke;
use crate::targets::{BenchVariant, Keyed, Table};
use crate::workspace::Workspace;
use crate::{atomic, package};
use anyhow::{Context, Result};
use measure::Scenario;
use report::{Facts, Goal, Sizes, VariantResult};
use std::time::Instant;

pub struct Options {
    pub runs: usize,
    pub targets: String,
    /// Variant names to run besides `thaw` and `naive` (default: all of the table's).
    pub variants: Option<Vec<String>>,
    /// Use binaries built before instead of building.
    pub no_build: bool,
    /// Leave out the criterion benchmark of the extension's hot path.
    pub no_hot_path: bool,
}

/// Invocations per batch in `benches/hot_path.rs`.
const HOT_PATH_INVOCATIONS: u64 = 300;

/// The goals of issue 5, checked on the first target's results.
const HELLO_INIT_MS: f64 = 1.0;
const HELLO_INIT_VS_NAIVE: f64 = 0.5;
const EXT_INIT_MS: f64 = 3.0;
const EXT_INIT_VS_NAIVE: f64 = 0.3;
const EXT_RSS_MB: f64 = 6.0;
const HELLO_ZIP_KB: f64 = 600.0;
const LAYER_ZIP_MB: f64 = 2.0;

/// The extension's init phases from its cold EMF line: `extension_phases: [{name, ms}]`.
pub fn phases_of(lines: &[String]) -> Vec<(String, f64)> {
    lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|v| v["extension_phases"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|p| Some((p["name"].as_str()?.to_owned(), p["ms"].as_f64()?)))
        .collect()
}

fn selected_variants<'a>(
    table: &'a Table,
    wanted: Option<&[String]>,
) -> Result<Vec<(String, Option<&'a BenchVariant>)>> {
    let mut out = vec![(variants::SHIPPING.to_owned(), None)];
    for (name, variant) in &table.bench.variants {
        let keep = name == "naive" || wanted.is_none_or(|w| w.contains(name));
        if keep {
            out.push((name.clone(), Some(variant)));
        }
    }
    if let Some(wanted) = wanted {
        for w in wanted {
            anyhow::ensure!(
                table.bench.variants.contains_key(w),
                "unknown bench variant {w:?}: the table has {}",
                table
                    .bench
                    .variants
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    Ok(out)
}

fn sizes(dir: &std::path::Path, ws: &Workspace) -> Result<Sizes> {
    let read = |name: &str| {
        std::fs::read(dir.join(name))
            .with_context(|| format!("reading {}", dir.join(name).display()))
    };
    let function = read("hello")?;
    let extension_name = ws.bins.extensions.first().context("no extension")?;
    let extension = read(extension_name)?;
    let function_zip = zip_archive::write(
        vec![Entry::executable(package::BOOTSTRAP, function.clone())],
        9,
    )?;
    let layer_zip = zip_archive::write(
        vec![
            Entry::dir("extensions"),
            Entry::executable(&format!("extensions/{extension_name}"), extension.clone()),
        ],
        9,
    )?;
    Ok(Sizes {
        function_bin: function.len() as u64,
        extension_bin: extension.len() as u64,
        function_zip: function_zip.len() as u64,
        layer_zip: layer_zip.len() as u64,
    })
}

/// The allocator report and eager binding of the binaries in `dir`, run with `launcher`.
fn facts(dir: &std::path::Path, launcher: &Launcher) -> Result<Facts> {
    let hello = dir.join("hello");
    let (program, args) = match launcher.prefix.split_first() {
        Some((p, rest)) => (std::path::PathBuf::from(p), rest.to_vec()),
        None => (hello.clone(), Vec::new()),
    };
    let mut cmd = std::process::Command::new(program);
    cmd.args(args);
    if !launcher.prefix.is_empty() {
        cmd.arg(&hello);
    }
    let out = cmd
        .env("THAW_PRINT_ALLOCATOR", "1")
        .output()
        .context("running hello for its allocator report")?;
    let bytes = std::fs::read(&hello)?;
    let elf = goblin::elf::Elf::parse(&bytes).context("hello is not ELF")?;
    Ok(Facts {
        allocator: String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        bind_now: elf
            .interpreter
            .is_some()
            .then(|| crate::verify::elf::binds_now(&elf)),
    })
}

pub fn run(ws: &Workspace, table: &Table, options: &Options) -> Result<()> {
    let keys = table.select(&options.targets)?;
    let chosen = selected_variants(table, options.variants.as_deref())?;
    if !options.no_build {
        build::build(ws, table, &keys)?;
        let builds: Vec<_> = chosen
            .iter()
            .filter_map(|(n, v)| v.filter(|v| v.build).map(|v| (n, v)))
            .collect();
        for keyed in &keys {
            for (i, (name, variant)) in builds.iter().enumerate() {
                eprintln!(
                    "bench: [{}/{}] building variant {name} for {}",
                    i + 1,
                    builds.len(),
                    keyed.key
                );
                variants::build_variant(ws, table, name, variant, *keyed)?;
            }
        }
    }
    let rt = tokio::runtime::Runtime::new()?;
    let mut markdown = String::from(
        "# thaw cold-start benchmark\n\nMade by `cargo xtask bench`; ratios are of medians measured in the same interleaved run.\n",
    );
    let mut svg = None;
    for (k, keyed) in keys.iter().enumerate() {
        eprintln!("bench: building the floor probe for {}", keyed.key);
        let probe = floor::build(ws, table, *keyed)?;
        let (results, floor_ms, how) =
            rt.block_on(measure_target(ws, *keyed, &chosen, options.runs, &probe))?;
        let goals = goals(&results, &floor_ms);
        markdown.push('\n');
        markdown.push_str(&report::markdown(
            keyed.key,
            &how,
            options.runs,
            &floor_ms,
            &results,
            &goals,
        ));
        if k == 0 {
            let series: Vec<chart::Series<'_>> = results
                .iter()
                .map(|r| chart::Series {
                    name: &r.name,
                    function_ms: &r.together_function_ms,
                    extension_ms: &r.together_extension_ms,
                })
                .collect();
            let phases = results
                .iter()
                .find(|r| r.name == variants::SHIPPING)
                .map(|r| report::phase_p50(&r.phases))
                .unwrap_or_default();
            let title = format!("cold starts on {} ({how}), extension + hello", keyed.key);
            svg = Some(chart::svg(&title, &series, &phases)?);
        }
    }
    if !options.no_hot_path {
        eprintln!("bench: the extension's hot path (criterion)");
        markdown.push_str(&hot_path::markdown(
            &hot_path::run(ws)?,
            HOT_PATH_INVOCATIONS,
        ));
    }
    let out = ws.thaw_dir().join("bench");
    std::fs::create_dir_all(&out)?;
    if let Some(svg) = svg {
        atomic::write_file(&out.join("chart.svg"), svg.as_bytes())?;
    }
    atomic::write_file(&out.join("report.md"), markdown.as_bytes())?;
    println!("{markdown}");
    eprintln!(
        "bench: wrote {} and {}",
        out.join("report.md").display(),
        out.join("chart.svg").display()
    );
    Ok(())
}

async fn measure_target(
    ws: &Workspace,
    keyed: Keyed<'_>,
    chosen: &[(String, Option<&BenchVariant>)],
    runs: usize,
    probe: &std::path::Path,
) -> Result<(Vec<VariantResult>, Vec<f64>, String)> {
    let native = keyed.target.arch == std::env::consts::ARCH;
    let (how, launcher) = if native {
        ("native".to_owned(), Launcher::native())
    } else {
        let launcher = smoke::qemu(keyed.target, &keyed.target.qemu_cpu, None)?;
        (
            format!("under {} -cpu {}", keyed.target.qemu, keyed.target.qemu_cpu),
            launcher,
        )
    };
    let mut results: Vec<VariantResult> = Vec::new();
    for (name, variant) in chosen {
        let dir = variants::bins_dir(ws, name, *variant, keyed.key);
        results.push(VariantResult {
            name: name.clone(),
            what: variant.map_or_else(|| "the shipping build".to_owned(), |v| v.what.clone()),
            sizes: sizes(&dir, ws)?,
            facts: facts(&dir, &launcher)?,
            ..Default::default()
        });
    }
    let mut floor_ms = Vec::new();
    let started = Instant::now();
    for run in 0..runs {
        eprintln!(
            "bench: {} run {}/{} ({:.0} s)",
            keyed.key,
            run + 1,
            runs,
            started.elapsed().as_secs_f64()
        );
        floor_ms.push(floor::cold_start(&launcher, probe).await?);
        for (i, (name, variant)) in chosen.iter().enumerate() {
            let dir = variants::bins_dir(ws, name, *variant, keyed.key);
            let env: Vec<(String, String)> = variant
                .map(|v| v.run_env.clone().into_iter().collect())
                .unwrap_or_default();
            let r = &mut results[i];
            for scenario in [Scenario::Function, Scenario::Extension, Scenario::Together] {
                let s = measure::cold_start(scenario, &launcher, &dir, &ws.bins, &env)
                    .await
                    .with_context(|| format!("variant {name}, {scenario:?}"))?;
                match scenario {
                    Scenario::Function => {
                        r.function_alone_ms.extend(s.function_ready_ms);
                        r.function_rss_kb
                            .extend(s.function_rss_kb.map(|k| k as f64));
                    }
                    Scenario::Extension => {
                        r.extension_alone_ms.extend(s.extension_ready_ms);
                        r.extension_rss_kb
                            .extend(s.extension_rss_kb.map(|k| k as f64));
                    }
                    Scenario::Together => {
                        r.together_function_ms.extend(s.function_ready_ms);
                        r.together_extension_ms.extend(s.extension_ready_ms);
                        r.phases.push(phases_of(&s.extension_output));
                    }
                }
            }
        }
    }
    Ok((results, floor_ms, how))
}

fn goals(results: &[VariantResult], floor_ms: &[f64]) -> Vec<Goal> {
    let p50 = |name: &str, pick: fn(&VariantResult) -> &[f64]| {
        results
            .iter()
            .find(|r| r.name == name)
            .and_then(|r| stats::summarize(pick(r)))
            .map(|s| s.p50)
    };
    let ratio =
        |a: Option<f64>, b: Option<f64>| a.zip(b).filter(|(_, b)| *b > 0.0).map(|(a, b)| a / b);
    let thaw = variants::SHIPPING;
    let hello = p50(thaw, |r| &r.function_alone_ms);
    let ext = p50(thaw, |r| &r.extension_alone_ms);
    let sizes = results.iter().find(|r| r.name == thaw).map(|r| r.sizes);
    vec![
        Goal {
            what: "hello init (p50)".into(),
            value: hello,
            limit: HELLO_INIT_MS,
            unit: "ms",
        },
        Goal {
            what: "hello init beyond the harness floor (p50 − floor p50)".into(),
            value: hello
                .zip(stats::summarize(floor_ms))
                .map(|(h, f)| h - f.p50),
            limit: HELLO_INIT_MS,
            unit: "ms",
        },
        Goal {
            what: "hello init ÷ naive".into(),
            value: ratio(hello, p50("naive", |r| &r.function_alone_ms)),
            limit: HELLO_INIT_VS_NAIVE,
            unit: "×",
        },
        Goal {
            what: "extension init (p50)".into(),
            value: ext,
            limit: EXT_INIT_MS,
            unit: "ms",
        },
        Goal {
            what: "extension init ÷ naive".into(),
            value: ratio(ext, p50("naive", |r| &r.extension_alone_ms)),
            limit: EXT_INIT_VS_NAIVE,
            unit: "×",
        },
        Goal {
            what: "extension RSS after init (p50)".into(),
            value: p50(thaw, |r| &r.extension_rss_kb).map(|kb| kb / 1024.0),
            limit: EXT_RSS_MB,
            unit: "MB",
        },
        Goal {
            what: "hello ZIP".into(),
            value: sizes.map(|s| s.function_zip as f64 / 1000.0),
            limit: HELLO_ZIP_KB,
            unit: "KB",
        },
        Goal {
            what: "extension layer ZIP".into(),
            value: sizes.map(|s| s.layer_zip as f64 / 1_000_000.0),
            limit: LAYER_ZIP_MB,
            unit: "MB",
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_come_from_the_cold_emf_line() {
        let lines = vec![
            "thaw-extension: starting".to_owned(),
            r#"{"_aws":{},"cold":true,"extension_phases":[{"name":"register","ms":0.5,"at_ms":0.9},{"name":"ready","ms":0.25,"at_ms":1.15}]}"#.to_owned(),
        ];
        assert_eq!(
            phases_of(&lines),
            [("register".to_owned(), 0.5), ("ready".to_owned(), 0.25)]
        );
        assert!(phases_of(&["{}".to_owned()]).is_empty());
    }
}
