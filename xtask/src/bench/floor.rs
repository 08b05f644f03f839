//! The harness floor: exec → first `/next` of `xtask/floor-probe`, a program that does nothing
//! else. A function's own init is what it takes beyond this.

use crate::build::zigbuild;
use crate::build_env::BuildEnv;
use crate::emulator::sandbox::{self, Launcher, Proc};
use crate::emulator::state::ms;
use crate::emulator::{FunctionInfo, Server};
use crate::targets::{Keyed, Table};
use crate::tools;
use crate::workspace::Workspace;
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::time::Duration;

const MANIFEST: &str = "xtask/floor-probe/Cargo.toml";
const BIN: &str = "floor-probe";
const TIMEOUT: Duration = Duration::from_secs(30);

/// Builds the probe for `keyed` with the table's flags; returns the binary.
pub fn build(ws: &Workspace, table: &Table, keyed: Keyed<'_>) -> Result<PathBuf> {
    let env = BuildEnv::new(table, keyed);
    let target_dir = ws.thaw_dir().join("bench/target/floor-probe");
    let mut cmd = zigbuild(ws, table, &env, &target_dir)?;
    cmd.args([
        "--quiet",
        "--release",
        "--manifest-path",
        MANIFEST,
        "--target",
        &env.zig_target,
    ]);
    tools::run(&mut cmd).with_context(|| format!("building the floor probe for {}", keyed.key))?;
    Ok(target_dir.join(&env.rust_target).join("release").join(BIN))
}

/// One cold start of the probe: ms from spawn to its `/next`.
pub async fn cold_start(launcher: &Launcher, probe: &std::path::Path) -> Result<f64> {
    let info = FunctionInfo {
        name: "floor".into(),
        version: "$LATEST".into(),
        handler: "bootstrap".into(),
    };
    let server = Server::start(info, 1024).await?;
    let env = sandbox::lambda_env(&server, 1024, TIMEOUT);
    let mut proc = Proc::spawn("floor-probe", launcher.command(probe), &env, false)?;
    sandbox::wait_runtime_ready(&server, &mut proc, TIMEOUT).await?;
    let ready = server
        .state
        .lock()
        .init
        .runtime_ready
        .context("probe ready")?;
    let elapsed = ms(ready - proc.spawned_at);
    proc.finish(Duration::ZERO).await;
    Ok(elapsed)
}
