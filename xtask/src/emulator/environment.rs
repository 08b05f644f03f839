//! One emulated execution environment, start to finish: the API server, the extensions
//! (each must register), the runtime (INIT ends when all wait for events), invocations,
//! and Lambda's shutdown. Smoke runs, `xtask emulate`, tests and benchmarks share it.

use super::sandbox::{self, Exit, Launcher, Proc};
use super::state::Outcome;
use super::{FunctionInfo, Server};
use anyhow::Result;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// What to run and how.
#[derive(Debug, Clone)]
pub struct Spec {
    pub launcher: Launcher,
    pub function: PathBuf,
    pub extensions: Vec<PathBuf>,
    pub memory_mb: u32,
    /// Per-invocation deadline.
    pub timeout: Duration,
    /// How long INIT may take (registration, then the runtime's first `/next`).
    pub init_timeout: Duration,
    /// Variables on top of Lambda's own.
    pub extra_env: Vec<(String, String)>,
    /// Echo every output line to stderr, prefixed with the process name.
    pub echo: bool,
}

pub struct Environment {
    pub server: Server,
    /// Locked only to read output or to shut down, so invocations can run meanwhile.
    pub extensions: Mutex<Vec<Proc>>,
    pub runtime: Mutex<Proc>,
    pub spec: Spec,
    /// From the first process start to the end of INIT.
    pub init_elapsed: Duration,
}

/// How shutdown went.
#[derive(Debug)]
pub struct Shutdown {
    pub runtime: Option<Exit>,
    pub extensions: Vec<(String, Exit)>,
    pub elapsed: Duration,
}

impl Environment {
    pub async fn start(spec: Spec) -> Result<Self> {
        let info = FunctionInfo {
            name: "thaw-emulated".into(),
            version: "$LATEST".into(),
            handler: "bootstrap".into(),
        };
        let server = Server::start(info, spec.memory_mb).await?;
        let mut env = sandbox::lambda_env(&server, spec.memory_mb, spec.timeout);
        env.extend(spec.extra_env.iter().cloned());
        let started = Instant::now();
        let extensions = sandbox::start_extensions(
            &server,
            &spec.launcher,
            &spec.extensions,
            &env,
            spec.init_timeout,
            spec.echo,
        )
        .await?;
        let mut runtime = Proc::spawn(
            "runtime",
            spec.launcher.command(&spec.function),
            &env,
            spec.echo,
        )?;
        server.state.update(|s| s.pids.extend(runtime.pid()));
        sandbox::wait_runtime_ready(&server, &mut runtime, spec.init_timeout).await?;
        Ok(Self {
            server,
            extensions: Mutex::new(extensions),
            runtime: Mutex::new(runtime),
            spec,
            init_elapsed: started.elapsed(),
        })
    }

    pub async fn invoke(&self, payload: Vec<u8>) -> Outcome {
        self.server.invoke(payload, self.spec.timeout).await
    }

    pub async fn shutdown(&self) -> Shutdown {
        let started = Instant::now();
        let mut runtime = self.runtime.lock().await;
        let mut procs = self.extensions.lock().await;
        let (runtime, exits) =
            sandbox::shutdown(&self.server, Some(&mut runtime), &mut procs).await;
        let extensions = procs.iter().map(|p| p.name.clone()).zip(exits).collect();
        Shutdown {
            runtime,
            extensions,
            elapsed: started.elapsed(),
        }
    }
}
