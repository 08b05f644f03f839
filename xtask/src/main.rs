//! thaw's host tool. Every step of the build, for this machine and for the Nix flake alike:
//! `setup`, `build`, `package`, `verify`, `dist` (all three), `smoke`, `sigill`, `repro`, `test`.

mod atomic;
mod bench;
mod build;
mod build_env;
#[cfg(test)]
mod e2e_tests;
mod emulate;
mod emulator;
mod package;
mod repro;
mod setup;
mod sigill;
mod smoke;
mod targets;
#[cfg(test)]
mod test_http;
mod test_suite;
mod timefmt;
mod tools;
mod verify;
mod workspace;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use targets::Table;
use workspace::Workspace;

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "thaw: reproducible Rust builds for AWS Lambda"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Install what building and testing need and is missing (Rust targets, zig,
    /// cargo-zigbuild, cargo-auditable, qemu-user, skopeo, umoci, unzip, nix).
    Setup,
    /// Cross-build the Lambda binaries into target/thaw/KEY/.
    Build {
        /// A key of nix/targets.toml, several separated by commas, or `all`.
        #[arg(long, default_value = "all")]
        target: String,
    },
    /// Print a target's build environment as JSON (what the Nix builds must match).
    BuildEnv {
        #[arg(long)]
        target: String,
    },
    /// Package built binaries: function ZIPs, layer ZIPs, OCI images, SHA256SUMS.
    Package {
        #[arg(long, default_value = "all")]
        target: String,
        /// Directory holding one directory of binaries per key (default target/thaw);
        /// with a single --target, use --bins for that target's directory itself.
        #[arg(long)]
        bins_root: Option<PathBuf>,
        /// The binaries of the one selected target.
        #[arg(long, conflicts_with = "bins_root")]
        bins: Option<PathBuf>,
        /// Output directory, replaced as a whole (default target/thaw/dist).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Verify binaries, ZIPs and OCI images (default: target/thaw/dist).
    Verify {
        /// The target of every path, when their names do not tell.
        #[arg(long)]
        target: Option<String>,
        paths: Vec<PathBuf>,
    },
    /// build + package + verify: the release set in target/thaw/dist.
    Dist {
        #[arg(long, default_value = "all")]
        target: String,
    },
    /// Run the built binaries against the local Lambda emulator (native and qemu).
    Smoke {
        #[arg(long, default_value = "all")]
        target: String,
        /// The binaries of the one selected target (default target/thaw/KEY).
        #[arg(long)]
        bins: Option<PathBuf>,
        /// -L directory for glibc binaries under qemu (default: the table's).
        #[arg(long)]
        qemu_sysroot: Option<PathBuf>,
    },
    /// The ISA negative control: code for a newer CPU must die with SIGILL under qemu.
    Sigill {
        #[arg(long, default_value = "all")]
        target: String,
        #[arg(long)]
        qemu_sysroot: Option<PathBuf>,
    },
    /// Two clean builds in different directories must give identical SHA256SUMS.
    Repro {
        #[arg(long, default_value = "all")]
        target: String,
        /// Keep the two build directories for inspection.
        #[arg(long)]
        keep: bool,
    },
    /// A local Lambda: run a function ZIP (or binary) with extension layers and invoke
    /// it over HTTP like Lambda's runtime interface emulator.
    Emulate {
        /// Function ZIP, directory holding `bootstrap`, or the binary itself.
        #[arg(long)]
        function: PathBuf,
        /// Layer ZIP or directory (its `extensions/` are started); repeatable.
        #[arg(long)]
        layer: Vec<PathBuf>,
        /// Port of the invoke endpoint on 127.0.0.1 (0 picks a free one).
        #[arg(long, default_value_t = 9000)]
        port: u16,
        /// Memory size in MB (AWS_LAMBDA_FUNCTION_MEMORY_SIZE).
        #[arg(long, default_value_t = 128)]
        memory: u32,
        /// Invocation timeout in seconds.
        #[arg(long, default_value_t = 3)]
        timeout: u64,
        /// Extra environment for the function and extensions, KEY=VALUE; repeatable.
        #[arg(long = "env", value_parser = emulate::parse_env)]
        env: Vec<(String, String)>,
        /// Shut down after this many invocations instead of waiting for Ctrl-C.
        #[arg(long)]
        invocations: Option<u64>,
        #[arg(long)]
        qemu_sysroot: Option<PathBuf>,
    },
    /// Cold starts of the shipping build against a naive one and one variant per choice:
    /// target/thaw/bench/report.md and chart.svg.
    Bench {
        /// Cold starts per variant and scenario.
        #[arg(long, default_value_t = 20)]
        runs: usize,
        /// Target keys to measure (timings under qemu are not comparable to native ones).
        #[arg(long, default_value = "x86_64")]
        targets: String,
        /// Variants besides thaw and naive (default: every [bench.variant] of the table).
        #[arg(long, value_delimiter = ',')]
        variants: Option<Vec<String>>,
        /// Measure the binaries built before; do not build.
        #[arg(long)]
        no_build: bool,
        /// Skip the criterion benchmark of the extension's hot path.
        #[arg(long)]
        no_hot_path: bool,
    },
    /// The whole test suite (what CI runs): lints, builds, verify, smoke, tests, repro.
    Test {
        /// Check reproducibility for every target, not one gnu and one musl.
        #[arg(long)]
        full_repro: bool,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let ws = Workspace::locate()?;
    let table = Table::load(&ws.root)?;
    match cli.command {
        Command::Setup => setup::setup(&table),
        Command::Build { target } => {
            build::build(&ws, &table, &table.select(&target)?)?;
            Ok(())
        }
        Command::BuildEnv { target } => {
            let keyed = table.select(&target)?;
            let [keyed] = keyed.as_slice() else {
                anyhow::bail!("build-env takes exactly one target");
            };
            let env = build_env::BuildEnv::new(&table, *keyed);
            println!("{}", serde_json::to_string_pretty(&env)?);
            Ok(())
        }
        Command::Package {
            target,
            bins_root,
            bins,
            out,
        } => {
            let selected = table.select(&target)?;
            if bins.is_some() && selected.len() != 1 {
                anyhow::bail!("--bins names one target's binaries: select one --target");
            }
            let root = bins_root.unwrap_or_else(|| ws.thaw_dir());
            let dir_of = |key: &str| bins.clone().unwrap_or_else(|| root.join(key));
            let out = out.unwrap_or_else(|| ws.dist_dir());
            let written = package::package(&table, &ws.bins, &selected, &dir_of, &out)?;
            eprintln!(
                "packaged {} artifacts into {}",
                written.len(),
                out.display()
            );
            Ok(())
        }
        Command::Verify { target, paths } => {
            let target = target.map(|t| table.select(&t)).transpose()?;
            let one = match target.as_deref() {
                Some([one]) => Some(*one),
                Some(_) => anyhow::bail!("--target takes exactly one key"),
                None => None,
            };
            let paths = if paths.is_empty() {
                vec![ws.dist_dir()]
            } else {
                paths
            };
            let ctx = verify::Scope {
                table: &table,
                bins: &ws.bins,
                target: one,
            };
            verify::run(&ctx, &paths)
        }
        Command::Dist { target } => {
            let selected = table.select(&target)?;
            build::build(&ws, &table, &selected)?;
            let root = ws.thaw_dir();
            let dir_of = |key: &str| root.join(key);
            package::package(&table, &ws.bins, &selected, &dir_of, &ws.dist_dir())
                .context("packaging")?;
            let ctx = verify::Scope {
                table: &table,
                bins: &ws.bins,
                target: None,
            };
            verify::run(&ctx, &[ws.dist_dir()])
        }
        Command::Smoke {
            target,
            bins,
            qemu_sysroot,
        } => {
            let selected = table.select(&target)?;
            if bins.is_some() && selected.len() != 1 {
                anyhow::bail!("--bins names one target's binaries: select one --target");
            }
            let rt = tokio::runtime::Runtime::new()?;
            for keyed in selected {
                let dir = bins.clone().unwrap_or_else(|| ws.bins_dir(keyed.key));
                rt.block_on(smoke::smoke(keyed, &ws.bins, &dir, qemu_sysroot.as_deref()))?;
            }
            Ok(())
        }
        Command::Sigill {
            target,
            qemu_sysroot,
        } => {
            for keyed in table.select(&target)? {
                let built = ws.bins_dir(keyed.key);
                let built = built.exists().then_some(built);
                sigill::sigill(
                    &ws,
                    &table,
                    keyed,
                    qemu_sysroot.as_deref(),
                    built.as_deref(),
                )?;
            }
            Ok(())
        }
        Command::Emulate {
            function,
            layer,
            port,
            memory,
            timeout,
            env,
            invocations,
            qemu_sysroot,
        } => {
            let options = emulate::Options {
                function,
                layers: layer,
                port,
                memory_mb: memory,
                timeout: std::time::Duration::from_secs(timeout),
                env,
                invocations,
                qemu_sysroot,
            };
            tokio::runtime::Runtime::new()?.block_on(emulate::emulate(&table, options))
        }
        Command::Bench {
            runs,
            targets,
            variants,
            no_build,
            no_hot_path,
        } => bench::run(
            &ws,
            &table,
            &bench::Options {
                runs,
                targets,
                variants,
                no_build,
                no_hot_path,
            },
        ),
        Command::Repro { target, keep } => {
            repro::repro(&ws, &table, &table.select(&target)?, keep).map(drop)
        }
        Command::Test { full_repro } => {
            test_suite::run(&ws, &table, &test_suite::Options { full_repro })
        }
    }
}
