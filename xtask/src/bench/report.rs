//! The Markdown report: per measurement a table of variants with min / p50 / p90 and the
//! ratio of p50 to the naive build's, sizes, the extension's phases, and the goals.

use super::stats::{Summary, summarize};
use std::fmt::Write;

/// Everything measured for one variant on one target.
#[derive(Debug, Clone, Default)]
pub struct VariantResult {
    pub name: String,
    pub what: String,
    pub function_alone_ms: Vec<f64>,
    pub extension_alone_ms: Vec<f64>,
    pub together_function_ms: Vec<f64>,
    pub together_extension_ms: Vec<f64>,
    pub function_rss_kb: Vec<f64>,
    pub extension_rss_kb: Vec<f64>,
    /// The extension's own init phases of each run (name, delta ms).
    pub phases: Vec<Vec<(String, f64)>>,
    pub sizes: Sizes,
    pub facts: Facts,
}

/// What a variant's binaries say of themselves, so each variant is seen to differ as meant.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// The allocator report of `THAW_PRINT_ALLOCATOR=1` (e.g. `narenas=1`).
    pub allocator: String,
    /// The function binary binds eagerly (BIND_NOW); `None` for static binaries.
    pub bind_now: Option<bool>,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Sizes {
    pub function_bin: u64,
    pub extension_bin: u64,
    pub function_zip: u64,
    pub layer_zip: u64,
}

/// A goal of the benchmark: `value` must be at most `limit`.
pub struct Goal {
    pub what: String,
    pub value: Option<f64>,
    pub limit: f64,
    pub unit: &'static str,
}

/// The p50 of each phase, in first-seen order.
pub fn phase_p50(runs: &[Vec<(String, f64)>]) -> Vec<(String, f64)> {
    let mut names: Vec<String> = Vec::new();
    for run in runs {
        for (name, _) in run {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
    }
    names
        .into_iter()
        .filter_map(|name| {
            let values: Vec<f64> = runs
                .iter()
                .flat_map(|r| r.iter().filter(|(n, _)| *n == name).map(|(_, v)| *v))
                .collect();
            summarize(&values).map(|s| (name, s.p50))
        })
        .collect()
}

fn row(out: &mut String, name: &str, s: Option<Summary>, base: Option<Summary>, scale: f64) {
    match s {
        Some(s) => {
            let ratio = base
                .filter(|b| b.p50 > 0.0)
                .map_or("—".to_owned(), |b| format!("{:.2}×", s.p50 / b.p50));
            let _ = writeln!(
                out,
                "| {name} | {} | {:.3} | {:.3} | {:.3} | {ratio} |",
                s.n,
                s.min / scale,
                s.p50 / scale,
                s.p90 / scale
            );
        }
        None => {
            let _ = writeln!(out, "| {name} | 0 | — | — | — | — |");
        }
    }
}

fn table(
    out: &mut String,
    title: &str,
    unit: &str,
    results: &[VariantResult],
    pick: fn(&VariantResult) -> &[f64],
    scale: f64,
) {
    let base = results
        .iter()
        .find(|r| r.name == "naive")
        .and_then(|r| summarize(pick(r)));
    let _ = writeln!(
        out,
        "\n### {title}\n\n| variant | runs | min {unit} | p50 {unit} | p90 {unit} | p50 ÷ naive |\n|---|---|---|---|---|---|"
    );
    for r in results {
        row(out, &r.name, summarize(pick(r)), base, scale);
    }
}

pub fn markdown(
    key: &str,
    how: &str,
    runs: usize,
    floor_ms: &[f64],
    results: &[VariantResult],
    goals: &[Goal],
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## Target `{key}` ({how}), {runs} cold starts per variant, variants interleaved"
    );
    let _ = writeln!(out, "\n| variant | what |\n|---|---|");
    for r in results {
        let _ = writeln!(out, "| {} | {} |", r.name, r.what);
    }
    if let Some(f) = summarize(floor_ms) {
        let _ = writeln!(
            out,
            "\n### Harness floor\n\nexec → first `/next` of `xtask/floor-probe`, a program that only asks for its first event: \
             min {:.3} / p50 {:.3} / p90 {:.3} ms over {} runs. Everything below includes it.",
            f.min, f.p50, f.p90, f.n
        );
    }
    table(
        &mut out,
        "`hello` alone: exec → runtime's first `/next`",
        "ms",
        results,
        |r| &r.function_alone_ms,
        1.0,
    );
    table(
        &mut out,
        "`thaw-extension` alone: exec → first `/event/next` (register + subscribe included)",
        "ms",
        results,
        |r| &r.extension_alone_ms,
        1.0,
    );
    table(
        &mut out,
        "Together — `hello`: exec → first `/next`",
        "ms",
        results,
        |r| &r.together_function_ms,
        1.0,
    );
    table(
        &mut out,
        "Together — `thaw-extension`: exec → first `/event/next`",
        "ms",
        results,
        |r| &r.together_extension_ms,
        1.0,
    );
    table(
        &mut out,
        "RSS after init — `hello`",
        "MB",
        results,
        |r| &r.function_rss_kb,
        1024.0,
    );
    table(
        &mut out,
        "RSS after init — `thaw-extension`",
        "MB",
        results,
        |r| &r.extension_rss_kb,
        1024.0,
    );
    let naive = results.iter().find(|r| r.name == "naive").map(|r| r.sizes);
    let _ = writeln!(
        out,
        "\n### Sizes (bytes) and what the binaries say\n\n| variant | hello | thaw-extension | hello ZIP | layer ZIP | hello ZIP ÷ naive | allocator | BIND_NOW |\n|---|---|---|---|---|---|---|---|"
    );
    for r in results {
        let s = r.sizes;
        let ratio = naive
            .filter(|n| n.function_zip > 0)
            .map_or("—".to_owned(), |n| {
                format!("{:.2}×", s.function_zip as f64 / n.function_zip as f64)
            });
        let bind_now = match r.facts.bind_now {
            Some(true) => "yes",
            Some(false) => "no",
            None => "static",
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {ratio} | {} | {bind_now} |",
            r.name, s.function_bin, s.extension_bin, s.function_zip, s.layer_zip, r.facts.allocator
        );
    }
    if let Some(thaw) = results.iter().find(|r| r.name == super::variants::SHIPPING) {
        let phases = phase_p50(&thaw.phases);
        if !phases.is_empty() {
            let _ = writeln!(
                out,
                "\n### `thaw-extension` init phases (thaw, p50 of each phase's own duration)\n\n| phase | ms |\n|---|---|"
            );
            for (name, ms) in &phases {
                let _ = writeln!(out, "| {name} | {ms:.3} |");
            }
        }
    }
    let _ = writeln!(
        out,
        "\n### Goals\n\n| goal | measured | limit | met |\n|---|---|---|---|"
    );
    for g in goals {
        let (measured, met) = match g.value {
            Some(v) => (
                format!("{v:.3} {}", g.unit),
                if v <= g.limit { "yes" } else { "**no**" },
            ),
            None => ("not measured".to_owned(), "**no**"),
        };
        let _ = writeln!(
            out,
            "| {} | {measured} | {} {} | {met} |",
            g.what, g.limit, g.unit
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_show_ratios_against_naive_and_goals_are_judged() {
        let naive = VariantResult {
            name: "naive".into(),
            function_alone_ms: vec![4.0, 4.0],
            ..Default::default()
        };
        let thaw = VariantResult {
            name: "thaw".into(),
            function_alone_ms: vec![1.0, 1.0],
            ..Default::default()
        };
        let goals = [
            Goal {
                what: "hello init".into(),
                value: Some(1.0),
                limit: 1.0,
                unit: "ms",
            },
            Goal {
                what: "too big".into(),
                value: Some(3.0),
                limit: 2.0,
                unit: "MB",
            },
        ];
        let md = markdown("x86_64", "native", 2, &[0.5, 0.7], &[naive, thaw], &goals);
        assert!(
            md.contains("| thaw | 2 | 1.000 | 1.000 | 1.000 | 0.25× |"),
            "{md}"
        );
        assert!(
            md.contains("| hello init | 1.000 ms | 1 ms | yes |"),
            "{md}"
        );
        assert!(
            md.contains("| too big | 3.000 MB | 2 MB | **no** |"),
            "{md}"
        );
    }

    #[test]
    fn phase_medians_keep_first_seen_order() {
        let runs = vec![
            vec![("register".to_owned(), 1.0), ("subscribe".to_owned(), 3.0)],
            vec![("register".to_owned(), 2.0), ("subscribe".to_owned(), 1.0)],
            vec![("register".to_owned(), 3.0), ("subscribe".to_owned(), 2.0)],
        ];
        assert_eq!(
            phase_p50(&runs),
            [("register".to_owned(), 2.0), ("subscribe".to_owned(), 2.0)]
        );
    }
}
