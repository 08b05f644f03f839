//! `xtask emulate`: a local Lambda for a function ZIP (or binary) and extension layers.
//! Invoke it like Lambda's runtime interface emulator:
//! `curl -d '{}' http://127.0.0.1:9000/2015-03-31/functions/function/invocations`.

use crate::emulator::environment::{Environment, Spec};
use crate::emulator::invoke::{self, INVOKE_PATH};
use crate::emulator::sandbox::Launcher;
use crate::smoke;
use crate::targets::{Keyed, Libc, Table};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub struct Options {
    pub function: PathBuf,
    pub layers: Vec<PathBuf>,
    pub port: u16,
    pub memory_mb: u32,
    pub timeout: Duration,
    pub env: Vec<(String, String)>,
    /// Stop after this many invocations (default: run until Ctrl-C or SIGTERM).
    pub invocations: Option<u64>,
    pub qemu_sysroot: Option<PathBuf>,
}

/// `KEY=VALUE` → a pair.
pub fn parse_env(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("{text:?} is not KEY=VALUE"))
}

/// A ZIP is unpacked into `into`; a directory or a file is used where it is.
fn unpack(path: &Path, into: &Path) -> Result<PathBuf> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let mut magic = [0u8; 4];
    if meta.is_file() {
        use std::io::Read;
        let _ = std::fs::File::open(path)?.read(&mut magic)?;
    }
    if &magic != b"PK\x03\x04" {
        return Ok(path.to_path_buf());
    }
    std::fs::create_dir_all(into)?;
    let file = std::fs::File::open(path)?;
    zip::ZipArchive::new(file)
        .and_then(|mut z| z.extract(into))
        .with_context(|| format!("unpacking {}", path.display()))?;
    Ok(into.to_path_buf())
}

/// The target a binary was built for, from its ELF header (machine, loader or none).
pub fn target_of_binary<'a>(table: &'a Table, binary: &Path) -> Result<Keyed<'a>> {
    let bytes = std::fs::read(binary).with_context(|| format!("reading {}", binary.display()))?;
    let elf = goblin::elf::Elf::parse(&bytes)
        .with_context(|| format!("{} is not an ELF binary", binary.display()))?;
    let libc = if elf.interpreter.is_some() {
        Libc::Gnu
    } else {
        Libc::Musl
    };
    table
        .all()
        .into_iter()
        .find(|k| k.target.elf_machine == elf.header.e_machine && k.target.libc == libc)
        .with_context(|| {
            format!(
                "{}: no target in the table has machine {}",
                binary.display(),
                elf.header.e_machine
            )
        })
}

fn launcher_for(table: &Table, binary: &Path, sysroot: Option<&Path>) -> Result<Launcher> {
    let keyed = target_of_binary(table, binary)?;
    if keyed.target.arch == std::env::consts::ARCH {
        return Ok(Launcher::native());
    }
    smoke::qemu(keyed.target, &keyed.target.qemu_cpu, sysroot)
}

/// Everything in the layers' `extensions/` directories, as Lambda finds them in /opt.
fn extensions_of(layers: &[PathBuf], scratch: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for (i, layer) in layers.iter().enumerate() {
        let opt = unpack(layer, &scratch.join(format!("opt-{i}")))?;
        if !opt.is_dir() {
            bail!(
                "layer {}: expected a ZIP or a directory holding extensions/",
                layer.display()
            );
        }
        let dir = opt.join("extensions");
        let entries = std::fs::read_dir(&dir)
            .with_context(|| format!("layer {}: no extensions/ directory", layer.display()))?;
        for entry in entries {
            let path = entry?.path();
            if path.is_file() {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

pub async fn emulate(table: &Table, options: Options) -> Result<()> {
    let scratch = tempfile::Builder::new().prefix("thaw-emulate-").tempdir()?;
    let task = unpack(&options.function, &scratch.path().join("task"))?;
    let function = if task.is_dir() {
        task.join("bootstrap")
    } else {
        task
    };
    let extensions = extensions_of(&options.layers, scratch.path())?;
    let launcher = launcher_for(table, &function, options.qemu_sysroot.as_deref())?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", options.port))
        .await
        .with_context(|| format!("binding 127.0.0.1:{}", options.port))?;
    let addr = listener.local_addr()?;
    let spec = Spec {
        launcher,
        function,
        extensions,
        memory_mb: options.memory_mb,
        timeout: options.timeout,
        init_timeout: Duration::from_secs(60),
        extra_env: options.env,
        echo: true,
    };
    let env = Arc::new(Environment::start(spec).await?);
    eprintln!(
        "emulate: INIT done in {:.1} ms; invoke with\n  curl -d '{{}}' http://{addr}{INVOKE_PATH}",
        env.init_elapsed.as_secs_f64() * 1000.0
    );
    println!("listening on http://{addr}{INVOKE_PATH}");
    let count = Arc::new(AtomicU64::new(0));
    let answered = Arc::new(tokio::sync::Notify::new());
    let server = tokio::spawn(invoke::serve(
        listener,
        env.clone(),
        count.clone(),
        answered.clone(),
    ));
    let enough = async {
        let Some(limit) = options.invocations else {
            return std::future::pending().await;
        };
        loop {
            let notified = answered.notified();
            if count.load(Ordering::SeqCst) >= limit {
                return;
            }
            notified.await;
        }
    };
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => eprintln!("emulate: interrupted"),
        _ = term.recv() => eprintln!("emulate: terminated"),
        () = enough => {}
    }
    server.abort();
    let shutdown = env.shutdown().await;
    let subs = env.server.state.lock().subscriptions.clone();
    for sub in subs {
        eprintln!(
            "emulate: telemetry to {} ({}): {} batches, {} events, {} failed deliveries",
            sub.extension_id,
            sub.uri,
            sub.delivered_batches,
            sub.delivered_events,
            sub.failed_deliveries
        );
    }
    eprintln!(
        "emulate: shutdown in {:.0} ms; runtime {:?}; extensions {:?}; {} invocations",
        shutdown.elapsed.as_secs_f64() * 1000.0,
        shutdown.runtime,
        shutdown.extensions,
        count.load(Ordering::SeqCst)
    );
    Ok(())
}
