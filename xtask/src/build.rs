//! `xtask build`: cross builds with cargo-zigbuild, binaries copied to `target/thaw/KEY/`.

use crate::build_env::{self, BuildEnv, Remaps};
use crate::targets::{Keyed, Table};
use crate::tools;
use crate::workspace::{self, LAMBDA_PACKAGE, Workspace};
use anyhow::{Context, Result};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// Builds every selected target in `ws`, showing progress; returns seconds per target.
pub fn build(ws: &Workspace, table: &Table, selected: &[Keyed<'_>]) -> Result<Vec<(String, f64)>> {
    check_tools()?;
    let mut timings = Vec::new();
    for (i, keyed) in selected.iter().enumerate() {
        eprintln!(
            "[{}/{}] building {} ({}) …",
            i + 1,
            selected.len(),
            keyed.key,
            keyed.target.zig_target
        );
        let started = Instant::now();
        build_one(ws, table, *keyed)?;
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "[{}/{}] {} built in {secs:.0} s",
            i + 1,
            selected.len(),
            keyed.key
        );
        timings.push((keyed.key.to_owned(), secs));
    }
    Ok(timings)
}

fn check_tools() -> Result<()> {
    tools::require("cargo-zigbuild", "cargo xtask setup")?;
    tools::require("cargo-auditable", "cargo xtask setup")?;
    if !tools::zig_available() {
        anyhow::bail!(
            "zig is not installed (neither `zig` on PATH nor python's `ziglang`): run `cargo xtask setup`"
        );
    }
    Ok(())
}

fn build_one(ws: &Workspace, table: &Table, keyed: Keyed<'_>) -> Result<()> {
    let env = BuildEnv::new(table, keyed);
    let mut cmd = zigbuild(ws, table, &env, &ws.target_dir)?;
    cmd.args(env.cargo_args(LAMBDA_PACKAGE));
    tools::run(&mut cmd).with_context(|| format!("building target {}", keyed.key))?;
    collect(ws, &env, keyed.key)
}

/// `cargo auditable zigbuild` with `env` (plus path remaps) into `target_dir`; the caller
/// adds cargo's arguments. Flags from the caller's environment are removed: they would
/// change the output unseen.
pub fn zigbuild(
    ws: &Workspace,
    table: &Table,
    env: &BuildEnv,
    target_dir: &Path,
) -> Result<Command> {
    let remaps = Remaps {
        workspace: ws.root.clone(),
        cargo_home: workspace::cargo_home()?,
        target_dir: target_dir.to_path_buf(),
    };
    let mut rustflags = env.rustflags.clone();
    rustflags.extend(remaps.rustflags(table));
    let cache = ws.tool_cache_dir();
    std::fs::create_dir_all(&cache).with_context(|| format!("creating {}", cache.display()))?;
    let mut cmd = Command::new("cargo");
    cmd.current_dir(&ws.root)
        .args(["auditable", "zigbuild"])
        .env(
            "CARGO_ENCODED_RUSTFLAGS",
            rustflags.join(build_env::ENCODED_SEPARATOR),
        )
        .env("CARGO_TARGET_DIR", target_dir)
        .env("XDG_CACHE_HOME", &cache)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .envs(&env.vars);
    Ok(cmd)
}

/// Copies the release binaries of one target to `target/thaw/KEY/`.
fn collect(ws: &Workspace, env: &BuildEnv, key: &str) -> Result<()> {
    let from = ws.target_dir.join(&env.rust_target).join("release");
    let to = ws.bins_dir(key);
    std::fs::create_dir_all(&to).with_context(|| format!("creating {}", to.display()))?;
    for bin in ws.bins.all() {
        copy_bin(&from.join(bin), &to.join(bin))?;
    }
    Ok(())
}

pub fn copy_bin(from: &Path, to: &Path) -> Result<()> {
    crate::atomic::copy_file(from, to)
        .with_context(|| format!("collecting the built binary {}", from.display()))
}
