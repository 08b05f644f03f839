//! `xtask verify`: checks built binaries and archives against the rules of DESIGN's Verify
//! section. Every failure names the file and the rule; any failure makes the run fail.

pub mod elf;
pub mod oci;
pub mod zip_rules;

#[cfg(test)]
mod tests;

use crate::targets::{Keyed, Table};
use crate::workspace::Bins;
use anyhow::{Context, Result, bail};
use std::fmt;
use std::path::{Path, PathBuf};

/// One broken rule in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub file: String,
    pub rule: &'static str,
    pub detail: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: [{}] {}", self.file, self.rule, self.detail)
    }
}

/// Failures found in one file (or inside it: a ZIP's bootstrap, an image's layers).
#[derive(Debug, Default)]
pub struct Findings {
    pub failures: Vec<Failure>,
    /// How many rules were checked, failed or not.
    pub checked: usize,
}

impl Findings {
    /// Records the outcome of `rule` on `file`: `Err(detail)` is a failure.
    pub fn rule(&mut self, file: &str, rule: &'static str, outcome: Result<(), String>) {
        self.checked += 1;
        if let Err(detail) = outcome {
            self.failures.push(Failure {
                file: file.to_owned(),
                rule,
                detail,
            });
        }
    }

    pub fn merge(&mut self, other: Findings) {
        self.checked += other.checked;
        self.failures.extend(other.failures);
    }

    #[cfg(test)]
    pub fn has(&self, rule: &str) -> bool {
        self.failures.iter().any(|f| f.rule == rule)
    }
}

/// What verification needs besides the files: the table, the binaries' roles, and the
/// target when it cannot be read off a file's name.
pub struct Scope<'a> {
    pub table: &'a Table,
    pub bins: &'a Bins,
    pub target: Option<Keyed<'a>>,
}

impl Scope<'_> {
    /// The target of `path`: the one given, else the key its name ends with
    /// (`hello-arm64-musl.zip`, `image-hello-x86_64-musl/`) or its directory's name
    /// (`target/thaw/arm64/hello`).
    pub fn target_of(&self, path: &Path) -> Result<Keyed<'_>> {
        if let Some(k) = self.target {
            return Ok(k);
        }
        let mut keys: Vec<Keyed<'_>> = self.table.all();
        keys.sort_by_key(|k| std::cmp::Reverse(k.key.len()));
        let stem = artifact_stem(path);
        if let Some(k) = keys.iter().find(|k| stem.ends_with(&format!("-{}", k.key))) {
            return Ok(*k);
        }
        let parent = path
            .parent()
            .and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some(k) = keys.iter().find(|k| k.key == parent) {
            return Ok(*k);
        }
        bail!(
            "{}: cannot tell its target from its name; pass --target KEY",
            path.display()
        )
    }
}

/// An artifact's file name without its archive extension (`hello-arm64.zip` → `hello-arm64`).
pub fn artifact_stem(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    name.trim_end_matches(".zip")
        .trim_end_matches(".tar")
        .to_owned()
}

/// The files `paths` stand for: a directory that is an OCI layout stands for itself, any
/// other directory for what it contains.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for path in paths {
        let meta =
            std::fs::metadata(path).with_context(|| format!("{}: cannot read", path.display()))?;
        if meta.is_dir() && !path.join("oci-layout").exists() {
            let mut children: Vec<PathBuf> = std::fs::read_dir(path)?
                .map(|e| e.map(|e| e.path()))
                .collect::<std::io::Result<_>>()?;
            children.sort();
            out.extend(expand(&children)?);
        } else {
            out.push(path.clone());
        }
    }
    Ok(out)
}

/// Verifies one path (ELF, ZIP, OCI layout directory or oci-archive tar).
pub fn verify_path(ctx: &Scope<'_>, path: &Path) -> Result<Option<Findings>> {
    let shown = path.display().to_string();
    if path.is_dir() {
        let files = oci::read_layout_dir(path)?;
        return Ok(Some(oci::verify(ctx, ctx.target_of(path)?, &shown, &files)));
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    if name.as_deref() == Some(crate::package::SUMS_FILE) {
        return Ok(None);
    }
    let bytes = std::fs::read(path).with_context(|| format!("reading {shown}"))?;
    if bytes.starts_with(b"\x7fELF") {
        return Ok(Some(elf::verify(
            ctx.table,
            ctx.target_of(path)?,
            &shown,
            &bytes,
        )));
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return Ok(Some(zip_rules::verify(
            ctx,
            ctx.target_of(path)?,
            path,
            &bytes,
        )));
    }
    if path.extension().is_some_and(|e| e == "tar") {
        let files = oci::read_layout_tar(&bytes).with_context(|| format!("reading {shown}"))?;
        return Ok(Some(oci::verify(ctx, ctx.target_of(path)?, &shown, &files)));
    }
    bail!("{shown}: not an ELF binary, ZIP, OCI layout or oci-archive")
}

/// Verifies every path, printing a line per file; fails if any rule failed.
pub fn run(ctx: &Scope<'_>, paths: &[PathBuf]) -> Result<()> {
    let files = expand(paths)?;
    if files.is_empty() {
        bail!("nothing to verify in {paths:?}");
    }
    let mut all = Findings::default();
    for path in &files {
        let Some(findings) = verify_path(ctx, path)? else {
            continue;
        };
        let status = if findings.failures.is_empty() {
            "ok  "
        } else {
            "FAIL"
        };
        println!("{status} {} ({} rules)", path.display(), findings.checked);
        for failure in &findings.failures {
            println!("     {failure}");
        }
        all.merge(findings);
    }
    println!(
        "verify: {} files, {} rules checked, {} failed",
        files.len(),
        all.checked,
        all.failures.len()
    );
    if !all.failures.is_empty() {
        bail!("verification failed: {} rule(s) broken", all.failures.len());
    }
    Ok(())
}
