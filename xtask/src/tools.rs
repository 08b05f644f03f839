//! External tools: finding them (a missing one is one clear message with the fix) and
//! running them (a failure names the command).

use anyhow::{Context, Result, bail};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `name` on PATH, or an error telling how to get it.
pub fn require(name: &str, fix: &str) -> Result<PathBuf> {
    find_on_path(name).with_context(|| format!("`{name}` is not installed: run `{fix}`"))
}

pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// zig is on PATH, or importable as PyPI's `ziglang` (cargo-zigbuild finds either).
pub fn zig_available() -> bool {
    find_on_path("zig").is_some()
        || Command::new("python3")
            .args(["-c", "import ziglang"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
}

/// Runs `cmd` with inherited output; a non-zero exit is an error naming the command.
pub fn run(cmd: &mut Command) -> Result<()> {
    let shown = describe(cmd);
    let status = cmd
        .status()
        .with_context(|| format!("starting `{shown}`"))?;
    if !status.success() {
        bail!("`{shown}` failed ({status})");
    }
    Ok(())
}

/// Runs `cmd` capturing output; a non-zero exit is an error carrying its stderr.
pub fn output(cmd: &mut Command) -> Result<Output> {
    let shown = describe(cmd);
    let out = cmd
        .output()
        .with_context(|| format!("starting `{shown}`"))?;
    if !out.status.success() {
        bail!(
            "`{shown}` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out)
}

pub fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(OsStr::to_string_lossy)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_tool_names_itself_and_the_fix() {
        let err = require("thaw-no-such-tool", "cargo xtask setup").expect_err("missing");
        assert_eq!(
            err.to_string(),
            "`thaw-no-such-tool` is not installed: run `cargo xtask setup`"
        );
        assert!(require("sh", "apt-get install dash").is_ok());
    }

    #[test]
    fn failing_commands_are_named_with_their_stderr() {
        let err =
            output(Command::new("sh").args(["-c", "echo broken >&2; exit 3"])).expect_err("fails");
        let text = err.to_string();
        assert!(text.contains("sh -c") && text.contains("broken"), "{text}");
    }
}
