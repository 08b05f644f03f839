//! `xtask repro`: two clean builds of the same sources in two different directories must
//! produce identical artifacts (identical `SHA256SUMS`).

use crate::build;
use crate::package::{self, SUMS_FILE};
use crate::targets::{Keyed, Table};
use crate::tools;
use crate::workspace::Workspace;
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Copies the tracked and untracked-but-not-ignored files of `ws` to `to`.
fn copy_sources(ws: &Workspace, to: &Path) -> Result<()> {
    let out = tools::output(Command::new("git").current_dir(&ws.root).args([
        "ls-files",
        "-z",
        "--cached",
        "--others",
        "--exclude-standard",
    ]))?;
    for rel in out.stdout.split(|b| *b == 0).filter(|p| !p.is_empty()) {
        let rel = Path::new(std::str::from_utf8(rel).context("a non-UTF-8 path")?);
        let from = ws.root.join(rel);
        if !from.is_file() {
            continue; // deleted in the work tree
        }
        let dest = to.join(rel);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(&from, &dest).with_context(|| format!("copying {}", rel.display()))?;
    }
    Ok(())
}

/// Builds and packages `selected` in a fresh copy at `dir`; returns its SHA256SUMS.
fn clean_build(
    ws: &Workspace,
    table: &Table,
    selected: &[Keyed<'_>],
    dir: &Path,
) -> Result<String> {
    copy_sources(ws, dir)?;
    let copy = Workspace {
        root: dir.to_path_buf(),
        target_dir: dir.join("target"),
        bins: ws.bins.clone(),
    };
    build::build(&copy, table, selected)?;
    let root = copy.thaw_dir();
    let dir_of = |key: &str| root.join(key);
    package::package(table, &copy.bins, selected, &dir_of, &copy.dist_dir())?;
    std::fs::read_to_string(copy.dist_dir().join(SUMS_FILE)).context("reading SHA256SUMS")
}

/// Returns the SHA256SUMS both clean builds agree on.
pub fn repro(ws: &Workspace, table: &Table, selected: &[Keyed<'_>], keep: bool) -> Result<String> {
    let base = tempfile::Builder::new().prefix("thaw-repro-").tempdir()?;
    // Different names and depths, so any leaked path would differ.
    let dirs: [PathBuf; 2] = [
        base.path().join("first"),
        base.path().join("second-build/src"),
    ];
    let mut sums = Vec::new();
    for (i, dir) in dirs.iter().enumerate() {
        eprintln!("repro: clean build {} of 2 in {}", i + 1, dir.display());
        std::fs::create_dir_all(dir)?;
        sums.push(clean_build(ws, table, selected, dir)?);
    }
    if keep {
        eprintln!("repro: keeping {}", base.keep().display());
    }
    if sums[0] != sums[1] {
        let differing: Vec<&str> = sums[0]
            .lines()
            .zip(sums[1].lines())
            .filter(|(a, b)| a != b)
            .map(|(a, _)| a.split_whitespace().last().unwrap_or(a))
            .collect();
        bail!(
            "the two clean builds differ in {differing:?}\nfirst:\n{}\nsecond:\n{}",
            sums[0],
            sums[1]
        );
    }
    print!("{}", sums[0]);
    println!(
        "ok   repro: {} artifacts identical across two clean builds ({})",
        sums[0].lines().count(),
        selected
            .iter()
            .map(|k| k.key)
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(sums.swap_remove(0))
}

/// Lines of `clean` (SHA256SUMS of clean builds) that `built` (of the same files, built
/// with cached dependencies) disagrees with.
pub fn differences(clean: &str, built: &str) -> Vec<String> {
    clean
        .lines()
        .filter(|line| !built.lines().any(|b| b == *line))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_lists_lines_the_cached_build_lacks() {
        let clean = "aa  a.zip\nbb  b.zip\n";
        assert!(differences(clean, "bb  b.zip\naa  a.zip\ncc  c.zip\n").is_empty());
        assert_eq!(differences(clean, "aa  a.zip\nbx  b.zip\n"), ["bb  b.zip"]);
    }
}
