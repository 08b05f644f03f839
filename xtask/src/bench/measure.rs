//! One cold start through the emulator, timed from each process's spawn to its first call
//! for work: the runtime's first `/next`, the extension's first `/event/next`.

use crate::emulator::sandbox::{self, Launcher, Proc};
use crate::emulator::state::Outcome;
use crate::emulator::{FunctionInfo, Server, state::ms};
use crate::workspace::Bins;
use anyhow::{Context, Result, bail};
use std::path::Path;
use std::time::{Duration, Instant};

const MEMORY_MB: u32 = 1024;
const TIMEOUT: Duration = Duration::from_secs(30);

/// What runs in one cold start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// The function alone.
    Function,
    /// The extension alone (no runtime: only its own INIT is timed).
    Extension,
    /// Both, as on Lambda: extension first, then the function, then one invocation.
    Together,
}

/// Measurements of one cold start.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    pub function_ready_ms: Option<f64>,
    pub extension_ready_ms: Option<f64>,
    pub function_rss_kb: Option<u64>,
    pub extension_rss_kb: Option<u64>,
    /// Output lines of the extension (its metrics carry its own init phases).
    pub extension_output: Vec<String>,
}

fn rss_kb(proc: &Proc) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", proc.pid()?)).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) -> Result<()> {
    let started = Instant::now();
    while !done() {
        if started.elapsed() > TIMEOUT {
            bail!("{what} did not happen within {TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
    Ok(())
}

pub async fn cold_start(
    scenario: Scenario,
    launcher: &Launcher,
    dir: &Path,
    bins: &Bins,
    run_env: &[(String, String)],
) -> Result<Sample> {
    let info = FunctionInfo {
        name: "thaw-bench".into(),
        version: "$LATEST".into(),
        handler: "bootstrap".into(),
    };
    let server = Server::start(info, MEMORY_MB).await?;
    let mut env = sandbox::lambda_env(&server, MEMORY_MB, TIMEOUT);
    env.extend(run_env.iter().cloned());
    let function = bins
        .functions
        .iter()
        .find(|f| *f == "hello")
        .context("no hello function")?;
    let extensions: Vec<_> = match scenario {
        Scenario::Function => Vec::new(),
        Scenario::Extension | Scenario::Together => {
            bins.extensions.iter().map(|e| dir.join(e)).collect()
        }
    };
    server.state.start_init();
    let mut exts =
        sandbox::start_extensions(&server, launcher, &extensions, &env, TIMEOUT, false).await?;
    let mut sample = Sample::default();
    if let Some(ext) = exts.first() {
        wait_until("the extension's first /event/next", || {
            server.state.lock().extensions.iter().all(|e| e.ready)
        })
        .await?;
        let ready = server
            .state
            .lock()
            .extensions
            .iter()
            .filter_map(|e| e.ready_at)
            .min();
        sample.extension_ready_ms = ready.map(|r| ms(r - ext.spawned_at));
        sample.extension_rss_kb = rss_kb(ext);
    }
    let mut runtime = None;
    if scenario != Scenario::Extension {
        let mut proc = Proc::spawn(
            "runtime",
            launcher.command(&dir.join(function)),
            &env,
            false,
        )?;
        server.state.update(|s| s.pids.extend(proc.pid()));
        sandbox::wait_runtime_ready(&server, &mut proc, TIMEOUT).await?;
        let ready = server
            .state
            .lock()
            .init
            .runtime_ready
            .context("runtime ready")?;
        sample.function_ready_ms = Some(ms(ready - proc.spawned_at));
        // The runtime has asked for work: its init is over, so is its memory growth.
        sample.function_rss_kb = rss_kb(&proc);
        runtime = Some(proc);
    }
    if scenario == Scenario::Together {
        match server.invoke(b"{}".to_vec(), TIMEOUT).await {
            Outcome::Response(_) => {}
            other => bail!("the cold invocation failed: {other:?}"),
        }
    }
    let (_, exits) = sandbox::shutdown(&server, runtime.as_mut(), &mut exts).await;
    for (ext, exit) in exts.iter().zip(exits) {
        if !matches!(exit, sandbox::Exit::Exited(s) if s.success()) {
            bail!("extension {} did not exit cleanly: {exit:?}", ext.name);
        }
    }
    sample.extension_output = exts.iter().flat_map(Proc::lines).collect();
    Ok(sample)
}
