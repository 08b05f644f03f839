//! `xtask sigill`: the negative control of the smoke runs. A probe built for a newer CPU than
//! the emulated one must die with SIGILL, and the same probe built with the table's CPU must
//! run — so a wrong `target-cpu` in the table would surface in a test, not on Lambda.

use crate::build_env::BuildEnv;
use crate::emulator::sandbox::Launcher;
use crate::smoke;
use crate::targets::{Keyed, Table};
use crate::tools;
use crate::workspace::Workspace;
use anyhow::{Context, Result, bail};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const PROBE_MANIFEST: &str = "xtask/sigill-probe/Cargo.toml";
const PROBE_BIN: &str = "sigill-probe";
const SIGILL: i32 = 4;

/// Builds the probe for `keyed` with `target_cpu`; returns the binary.
fn build_probe(
    ws: &Workspace,
    table: &Table,
    keyed: Keyed<'_>,
    target_cpu: &str,
) -> Result<PathBuf> {
    let mut target = keyed.target.clone();
    target.target_cpu = target_cpu.to_owned();
    let env = BuildEnv::new(
        table,
        Keyed {
            key: keyed.key,
            target: &target,
        },
    );
    let target_dir = ws.thaw_dir().join("sigill-probe").join(target_cpu);
    let mut cmd = Command::new("cargo");
    cmd.current_dir(&ws.root)
        .args([
            "zigbuild",
            "--quiet",
            "--release",
            "--manifest-path",
            PROBE_MANIFEST,
        ])
        .args(["--target", &env.zig_target])
        .env("CARGO_ENCODED_RUSTFLAGS", env.encoded_rustflags())
        .env("CARGO_TARGET_DIR", &target_dir)
        .env("XDG_CACHE_HOME", ws.tool_cache_dir())
        .env_remove("RUSTFLAGS");
    tools::run(&mut cmd)
        .with_context(|| format!("building the probe for {} with {target_cpu}", keyed.key))?;
    Ok(target_dir
        .join(&env.rust_target)
        .join("release")
        .join(PROBE_BIN))
}

fn run_probe(launcher: &Launcher, probe: &Path) -> Result<std::process::ExitStatus> {
    let (program, args) = launcher.prefix.split_first().context("a qemu launcher")?;
    Command::new(program)
        .args(args)
        .arg(probe)
        .output()
        .map(|o| o.status)
        .with_context(|| format!("running {}", probe.display()))
}

pub fn sigill(
    ws: &Workspace,
    table: &Table,
    keyed: Keyed<'_>,
    sysroot: Option<&Path>,
    built: Option<&Path>,
) -> Result<()> {
    let t = keyed.target;
    let control = &t.sigill_probe;
    // Positive: the table's CPU on the table's emulated CPU runs.
    let fits = build_probe(ws, table, keyed, &t.target_cpu)?;
    let launcher = smoke::qemu(t, &t.qemu_cpu, sysroot)?;
    let status = run_probe(&launcher, &fits)?;
    if !status.success() {
        bail!(
            "{}: the probe built for {} fails under {} -cpu {}: {status}",
            keyed.key,
            t.target_cpu,
            t.qemu,
            t.qemu_cpu
        );
    }
    // Negative: code for a newer CPU than the emulated one must trap.
    let too_new = build_probe(ws, table, keyed, &control.target_cpu)?;
    let launcher = smoke::qemu(t, &control.qemu_cpu, sysroot)?;
    let status = run_probe(&launcher, &too_new)?;
    if status.signal() != Some(SIGILL) {
        bail!(
            "{}: a probe built for {} under {} -cpu {} ended with {status}, not SIGILL: the smoke runs would miss an ISA mistake",
            keyed.key,
            control.target_cpu,
            t.qemu,
            control.qemu_cpu
        );
    }
    // Where the control CPU is the table's own, the shipped binaries must trap as well.
    if let Some(dir) = built.filter(|_| control.target_cpu == t.target_cpu) {
        for bin in ws.bins.all() {
            let status = run_probe(&launcher, &dir.join(bin))?;
            if status.signal() != Some(SIGILL) {
                bail!(
                    "{}: the built {bin} ended with {status} under {} -cpu {}, not SIGILL",
                    keyed.key,
                    t.qemu,
                    control.qemu_cpu
                );
            }
            println!(
                "ok   sigill {}: the built {bin} dies with SIGILL on -cpu {}",
                keyed.key, control.qemu_cpu
            );
        }
    }
    println!(
        "ok   sigill {}: {} runs on -cpu {}; {} dies with SIGILL on -cpu {}",
        keyed.key, t.target_cpu, t.qemu_cpu, control.target_cpu, control.qemu_cpu
    );
    Ok(())
}
