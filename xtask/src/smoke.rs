//! `xtask smoke`: runs every built binary for real against the emulator — natively when the
//! host can, and under qemu-user with the table's CPU model — and checks that each function
//! answers an invocation and the extension registers and exits on SHUTDOWN.

use crate::emulator::environment::{Environment, Spec};
use crate::emulator::sandbox::{Exit, Launcher};
use crate::emulator::state::Outcome;
use crate::targets::{Keyed, Libc, Target};
use crate::tools;
use crate::workspace::Bins;
use anyhow::{Context, Result, bail, ensure};
use std::path::Path;
use std::time::{Duration, Instant};

/// Generous: qemu's user-mode emulation of a cold start takes far longer than Lambda's.
const INIT_TIMEOUT: Duration = Duration::from_secs(60);
const INVOKE_TIMEOUT: Duration = Duration::from_secs(60);
const MEMORY_MB: u32 = 1024;
/// The function that must answer with a greeting, not only with a status.
const GREETER: &str = "hello";

/// Ways to run `target`'s binaries on this host: natively when the architecture matches and
/// the host has the binary's loader (a Nix build sandbox has none), and always under qemu with
/// the table's CPU model.
pub fn launchers(target: &Target, sysroot: Option<&Path>) -> Result<Vec<(String, Launcher)>> {
    let mut out = Vec::new();
    let loader_present = target
        .loader
        .as_deref()
        .is_none_or(|l| Path::new(l).exists());
    if target.arch == std::env::consts::ARCH && loader_present {
        out.push(("native".to_owned(), Launcher::native()));
    }
    out.push((
        format!("{} -cpu {}", target.qemu, target.qemu_cpu),
        qemu(target, &target.qemu_cpu, sysroot)?,
    ));
    Ok(out)
}

/// `qemu-ARCH -cpu CPU [-L sysroot]`: glibc binaries of a foreign architecture need the
/// target's loader and libc from a sysroot; a sysroot given explicitly is used for glibc
/// binaries of the host's architecture too (where the host has no such loader).
pub fn qemu(target: &Target, cpu: &str, sysroot: Option<&Path>) -> Result<Launcher> {
    let program = tools::require(&target.qemu, "cargo xtask setup")?;
    let mut prefix = vec![
        program.to_string_lossy().into_owned(),
        "-cpu".into(),
        cpu.to_owned(),
    ];
    let foreign = target.arch != std::env::consts::ARCH;
    if target.libc == Libc::Gnu && (foreign || sysroot.is_some()) {
        let root = sysroot
            .map(Path::to_path_buf)
            .or_else(|| target.qemu_sysroot.as_ref().map(Into::into))
            .context("a glibc target on a foreign host needs a qemu sysroot")?;
        ensure!(
            root.exists(),
            "qemu sysroot {} is missing: run `cargo xtask setup`",
            root.display()
        );
        prefix.extend(["-L".to_owned(), root.to_string_lossy().into_owned()]);
    }
    Ok(Launcher { prefix })
}

/// The event every function gets: a Function URL request.
pub fn smoke_event() -> serde_json::Value {
    serde_json::json!({
        "version": "2.0",
        "rawPath": "/smoke",
        "rawQueryString": "name=smoke",
        "headers": {"content-type": "application/json"},
        "queryStringParameters": {"name": "smoke"},
        "requestContext": {"http": {"method": "GET", "path": "/smoke"}, "requestId": "smoke-1"},
        "body": null,
        "isBase64Encoded": false
    })
}

pub async fn smoke(
    keyed: Keyed<'_>,
    bins: &Bins,
    dir: &Path,
    sysroot: Option<&Path>,
) -> Result<()> {
    let extensions: Vec<_> = bins.extensions.iter().map(|e| dir.join(e)).collect();
    for (how, launcher) in launchers(keyed.target, sysroot)? {
        for function in &bins.functions {
            let started = Instant::now();
            let report = run_one(
                &launcher,
                &dir.join(function),
                &extensions,
                function == GREETER,
            )
            .await
            .with_context(|| format!("smoke {} {function} ({how})", keyed.key))?;
            println!(
                "ok   smoke {} {function} + {} ({how}): {report} [{:.1} s]",
                keyed.key,
                bins.extensions.join(", "),
                started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}

async fn run_one(
    launcher: &Launcher,
    function: &Path,
    extensions: &[std::path::PathBuf],
    greets: bool,
) -> Result<String> {
    ensure!(
        function.exists(),
        "{} is missing: run `cargo xtask build`",
        function.display()
    );
    let env = Environment::start(Spec {
        launcher: launcher.clone(),
        function: function.to_path_buf(),
        extensions: extensions.to_vec(),
        memory_mb: MEMORY_MB,
        timeout: INVOKE_TIMEOUT,
        init_timeout: INIT_TIMEOUT,
        extra_env: Vec::new(),
        echo: false,
    })
    .await?;
    let payload = serde_json::to_vec(&smoke_event())?;
    let outcome = env.invoke(payload).await;
    let shutdown = env.shutdown().await;
    let response = match outcome {
        Outcome::Response(body) => body,
        other => bail!(
            "invocation failed: {other:?}; output {:?}",
            env.runtime.lock().await.lines()
        ),
    };
    let response: serde_json::Value =
        serde_json::from_slice(&response).context("the function's response is not JSON")?;
    let status = response["statusCode"]
        .as_u64()
        .context("the response has no statusCode")?;
    if greets {
        ensure!(status == 200, "status {status}: {response}");
        let body: serde_json::Value =
            serde_json::from_str(response["body"].as_str().unwrap_or_default())
                .context("the response body is not JSON")?;
        ensure!(
            body["message"] == "hello, smoke",
            "unexpected greeting: {body}"
        );
    }
    for (ext, (_, exit)) in env.extensions.lock().await.iter().zip(&shutdown.extensions) {
        match exit {
            Exit::Exited(status) if status.success() => {}
            other => bail!(
                "extension {} did not exit cleanly on SHUTDOWN: {other:?}; output {:?}",
                ext.name,
                ext.lines()
            ),
        }
        ensure!(
            ext.lines().iter().any(|l| l.contains("shutdown")),
            "extension {} exited without reporting the shutdown: {:?}",
            ext.name,
            ext.lines()
        );
    }
    // The runtime is SIGTERMed: lambda_runtime need not catch it, so its exit is not judged.
    let registered: Vec<String> = env
        .server
        .state
        .lock()
        .extensions
        .iter()
        .map(|e| e.name.clone())
        .collect();
    ensure!(
        registered.len() == extensions.len(),
        "registered {registered:?}, started {extensions:?}"
    );
    Ok(format!(
        "status {status}; registered {registered:?}, exited on SHUTDOWN"
    ))
}
