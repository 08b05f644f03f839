//! The processes of one emulated execution environment: extensions first (each must
//! register), then the runtime; SHUTDOWN to extensions, SIGTERM to the runtime, a 2 s
//! budget, then SIGKILL. Output is captured line by line.

use super::Server;
use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long the last output of an exited process may take to be read.
const OUTPUT_DRAIN: Duration = Duration::from_millis(500);

/// Lambda's budget between SHUTDOWN and SIGKILL.
pub const SHUTDOWN_BUDGET: Duration = Duration::from_secs(2);

/// How to start a binary: directly, or through an emulator such as qemu-user.
#[derive(Debug, Clone)]
pub struct Launcher {
    pub prefix: Vec<String>,
}

impl Launcher {
    pub fn native() -> Self {
        Self { prefix: Vec::new() }
    }

    pub fn command(&self, binary: &std::path::Path) -> Command {
        let mut cmd = match self.prefix.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(binary);
                c
            }
            None => Command::new(binary),
        };
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }
}

/// Lambda's environment for a function with `memory_mb` and `timeout`.
pub fn lambda_env(server: &Server, memory_mb: u32, timeout: Duration) -> Vec<(String, String)> {
    [
        ("AWS_LAMBDA_RUNTIME_API", server.addr.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", "thaw-emulated".into()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory_mb.to_string()),
        ("AWS_LAMBDA_FUNCTION_TIMEOUT", timeout.as_secs().to_string()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            "/aws/lambda/thaw-emulated".into(),
        ),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "emulated".into()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_DEFAULT_REGION", "us-east-1".into()),
        ("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023".into()),
        ("_HANDLER", "bootstrap".into()),
        ("LAMBDA_TASK_ROOT", "/var/task".into()),
        ("LAMBDA_RUNTIME_DIR", "/var/runtime".into()),
        ("TZ", ":UTC".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// A started process with its captured output.
pub struct Proc {
    pub name: String,
    /// Just before the process was spawned: the start of its cold start.
    pub spawned_at: Instant,
    /// The tasks copying stdout and stderr into `output`.
    readers: Vec<tokio::task::JoinHandle<()>>,
    child: Child,
    pub output: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    pub fn spawn(
        name: &str,
        mut cmd: Command,
        env: &[(String, String)],
        echo: bool,
    ) -> Result<Self> {
        cmd.env_clear().envs(env.iter().map(|(k, v)| (k, v)));
        let spawned_at = Instant::now();
        let mut child = cmd.spawn().with_context(|| format!("starting {name}"))?;
        let output = Arc::new(Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let output = output.clone();
            let prefix = echo.then(|| name.to_owned());
            readers.push(tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(prefix) = &prefix {
                        eprintln!("[{prefix}] {line}");
                    }
                    output.lock().unwrap_or_else(|p| p.into_inner()).push(line);
                }
            }));
        }
        Ok(Self {
            name: name.to_owned(),
            spawned_at,
            readers,
            child,
            output,
        })
    }

    pub fn lines(&self) -> Vec<String> {
        self.output
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Still running?
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits up to `budget` for the process to exit by itself, then kills it.
    /// Waits up to `budget` for the process to exit by itself, then kills it; either way
    /// its output is complete when this returns.
    pub async fn finish(&mut self, budget: Duration) -> Exit {
        let exit = match tokio::time::timeout(budget, self.child.wait()).await {
            Ok(Ok(status)) => Exit::Exited(status),
            _ => {
                let _ = self.child.kill().await;
                Exit::Killed
            }
        };
        // The pipes close with the process (children holding them open are not waited for).
        for reader in self.readers.drain(..) {
            let _ = tokio::time::timeout(OUTPUT_DRAIN, reader).await;
        }
        exit
    }
}

/// How a process ended at shutdown.
#[derive(Debug)]
pub enum Exit {
    Exited(std::process::ExitStatus),
    Killed,
}

/// Starts `extensions` and waits until each has registered (within `init_timeout`).
pub async fn start_extensions(
    server: &Server,
    launcher: &Launcher,
    extensions: &[PathBuf],
    env: &[(String, String)],
    init_timeout: Duration,
    echo: bool,
) -> Result<Vec<Proc>> {
    server.state.start_init();
    let mut procs = Vec::new();
    for path in extensions {
        let name = path
            .file_name()
            .map_or_else(|| "extension".into(), |n| n.to_string_lossy().into_owned());
        let proc = Proc::spawn(&name, launcher.command(path), env, echo)?;
        server.state.update(|s| s.pids.extend(proc.pid()));
        procs.push(proc);
    }
    let started = Instant::now();
    loop {
        let registered = server.state.lock().extensions.len();
        if registered >= procs.len() {
            return Ok(procs);
        }
        for p in &mut procs {
            if !p.running() {
                bail!(
                    "extension {} exited before registering: {:?}",
                    p.name,
                    p.lines()
                );
            }
        }
        if started.elapsed() > init_timeout {
            bail!(
                "only {registered} of {} extensions registered within {init_timeout:?}",
                procs.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits until the runtime has asked for its first invocation.
pub async fn wait_runtime_ready(
    server: &Server,
    runtime: &mut Proc,
    timeout: Duration,
) -> Result<()> {
    let started = Instant::now();
    while !server.state.lock().runtime_ready {
        if !runtime.running() {
            bail!(
                "the runtime {} exited during init: {:?}",
                runtime.name,
                runtime.lines()
            );
        }
        if started.elapsed() > timeout {
            bail!("the runtime did not call /next within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok(())
}

/// Lambda's shutdown: SHUTDOWN to extensions, SIGTERM to the runtime, then the budget.
pub async fn shutdown(
    server: &Server,
    runtime: Option<&mut Proc>,
    extensions: &mut [Proc],
) -> (Option<Exit>, Vec<Exit>) {
    let deadline = super::state::now_ms() + SHUTDOWN_BUDGET.as_millis() as u64;
    server.state.shutdown_extensions("spindown", deadline);
    let started = Instant::now();
    let mut runtime_exit = None;
    if let Some(runtime) = runtime {
        if let Some(pid) = runtime.pid() {
            // kill(1) rather than libc::kill keeps this crate free of unsafe code.
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        runtime_exit = Some(runtime.finish(SHUTDOWN_BUDGET).await);
    }
    let mut exits = Vec::new();
    for ext in extensions.iter_mut() {
        let left = SHUTDOWN_BUDGET.saturating_sub(started.elapsed());
        exits.push(ext.finish(left).await);
    }
    (runtime_exit, exits)
}
