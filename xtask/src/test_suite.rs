//! `xtask test`: the whole test suite, the one command CI runs. Lints, the release build of
//! every target, packaging and verification, smoke runs and the SIGILL control, the Rust
//! tests (including those that inspect the built artifacts), and the reproducibility check.

use crate::targets::{Libc, Table};
use crate::tools;
use crate::workspace::Workspace;
use crate::{build, package, repro, sigill, smoke, verify};
use anyhow::{Context, Result};
use std::process::Command;
use std::time::Instant;

/// Packages outside the workspace that the suite still formats-checks.
const PROBES: &[&str] = &[
    "xtask/sigill-probe/Cargo.toml",
    "xtask/floor-probe/Cargo.toml",
];

pub struct Options {
    /// Repeat the reproducibility check for every target, not one gnu and one musl.
    pub full_repro: bool,
}

fn step(n: usize, total: usize, what: &str) -> Instant {
    eprintln!("\n=== [{n}/{total}] {what}");
    Instant::now()
}

pub fn run(ws: &Workspace, table: &Table, options: &Options) -> Result<()> {
    let total = 8;
    let all = table.all();
    let t = step(1, total, "cargo fmt --check");
    tools::run(
        Command::new("cargo")
            .current_dir(&ws.root)
            .args(["fmt", "--all", "--check"]),
    )
    .context("formatting differs: run `cargo fmt --all`")?;
    // The probes are packages of their own, outside the workspace `cargo fmt` covers.
    for probe in PROBES {
        tools::run(Command::new("cargo").current_dir(&ws.root).args([
            "fmt",
            "--check",
            "--manifest-path",
            probe,
        ]))
        .with_context(|| format!("formatting differs: run `cargo fmt --manifest-path {probe}`"))?;
    }
    eprintln!("    {:.0} s", t.elapsed().as_secs_f64());

    let workflows = ws.root.join(".github/workflows");
    if workflows.is_dir() {
        let t = step(1, total, "actionlint on .github/workflows");
        tools::require("actionlint", "cargo xtask setup")?;
        tools::run(Command::new("actionlint").current_dir(&ws.root))?;
        eprintln!("    {:.0} s", t.elapsed().as_secs_f64());
    }

    let t = step(2, total, "cargo clippy -D warnings");
    tools::run(Command::new("cargo").current_dir(&ws.root).args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--quiet",
        "--",
        "-D",
        "warnings",
    ]))?;
    eprintln!("    {:.0} s", t.elapsed().as_secs_f64());

    let t = step(3, total, "release build of every target");
    build::build(ws, table, &all)?;
    eprintln!("    {:.0} s", t.elapsed().as_secs_f64());

    let t = step(4, total, "package + verify");
    let root = ws.thaw_dir();
    let dir_of = |key: &str| root.join(key);
    package::package(table, &ws.bins, &all, &dir_of, &ws.dist_dir())?;
    let scope = verify::Scope {
        table,
        bins: &ws.bins,
        target: None,
    };
    verify::run(&scope, &[ws.dist_dir()])?;
    eprintln!("    {:.0} s", t.elapsed().as_secs_f64());

    let t = step(5, total, "smoke runs (native and qemu)");
    let rt = tokio::runtime::Runtime::new()?;
    for keyed in &all {
        rt.block_on(smoke::smoke(
            *keyed,
            &ws.bins,
            &ws.bins_dir(keyed.key),
            None,
        ))?;
    }
    eprintln!("    {:.0} s", t.elapsed().as_secs_f64());

    let t = step(6, total, "SIGILL negative controls");
    for keyed in &all {
        let built = ws.bins_dir(keyed.key);
        sigill::sigill(ws, table, *keyed, None, Some(&built))?;
    }
    eprintln!("    {:.0} s", t.elapsed().as_secs_f64());

    let t = step(7, total, "cargo test (unit, integration, artifact tests)");
    tools::run(
        Command::new("cargo")
            .current_dir(&ws.root)
            .args(["test", "--workspace", "--", "--include-ignored"])
            .env("THAW_DIST", ws.dist_dir()),
    )?;
    eprintln!("    {:.0} s", t.elapsed().as_secs_f64());

    let t = step(8, total, "reproducibility: two clean builds");
    let picked: Vec<_> = if options.full_repro {
        all.clone()
    } else {
        // One glibc and one musl target, of different architectures.
        let gnu = all
            .iter()
            .find(|k| k.target.libc == Libc::Gnu && k.target.arch == std::env::consts::ARCH);
        let musl = all
            .iter()
            .find(|k| k.target.libc == Libc::Musl && k.target.arch != std::env::consts::ARCH);
        gnu.into_iter().chain(musl).copied().collect()
    };
    let clean = repro::repro(ws, table, &picked, false)?;
    // The dist of step 4 was built with the cached target dir: it must equal the clean builds.
    let built = std::fs::read_to_string(ws.dist_dir().join(package::SUMS_FILE))?;
    let differing = repro::differences(&clean, &built);
    anyhow::ensure!(
        differing.is_empty(),
        "the cached build differs from the clean ones: {differing:?}"
    );
    eprintln!("    {:.0} s", t.elapsed().as_secs_f64());
    eprintln!("\nxtask test: all {total} steps passed");
    Ok(())
}
