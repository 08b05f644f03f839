//! The workspace as xtask sees it: its directories and which binaries are functions or
//! extensions (read from Cargo metadata, so adding `src/bin/NAME.rs` adds a function).

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};

/// The package that holds the Lambda-side binaries.
pub const LAMBDA_PACKAGE: &str = "thaw";

#[derive(Debug, Clone)]
pub struct Workspace {
    pub root: PathBuf,
    pub target_dir: PathBuf,
    pub bins: Bins,
}

/// The Lambda-side binaries, split by role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bins {
    pub functions: Vec<String>,
    pub extensions: Vec<String>,
}

impl Bins {
    pub fn all(&self) -> impl Iterator<Item = &String> {
        self.functions.iter().chain(&self.extensions)
    }
}

impl Workspace {
    /// The workspace containing the current directory.
    pub fn locate() -> Result<Self> {
        let metadata = cargo_metadata::MetadataCommand::new()
            .no_deps()
            .exec()
            .context("reading `cargo metadata` (is this inside the thaw checkout?)")?;
        let package = metadata
            .packages
            .iter()
            .find(|p| p.name.as_str() == LAMBDA_PACKAGE)
            .with_context(|| format!("the workspace has no package {LAMBDA_PACKAGE:?}"))?;
        let bin_names = package
            .targets
            .iter()
            .filter(|t| t.is_bin())
            .map(|t| t.name.clone())
            .collect();
        let bins = split_bins(bin_names, &package.metadata)?;
        Ok(Self {
            root: metadata.workspace_root.into_std_path_buf(),
            target_dir: metadata.target_directory.into_std_path_buf(),
            bins,
        })
    }

    /// `target/thaw`: everything xtask produces.
    pub fn thaw_dir(&self) -> PathBuf {
        self.target_dir.join("thaw")
    }

    /// Binaries of one target, as `xtask build` leaves them.
    pub fn bins_dir(&self, key: &str) -> PathBuf {
        self.thaw_dir().join(key)
    }

    pub fn dist_dir(&self) -> PathBuf {
        self.thaw_dir().join("dist")
    }

    /// Caches of zig and cargo-zigbuild (`XDG_CACHE_HOME`), kept with the build tree.
    pub fn tool_cache_dir(&self) -> PathBuf {
        self.thaw_dir().join("cache")
    }
}

/// Splits binaries by `[package.metadata.thaw] extensions`; every other binary is a function.
pub fn split_bins(mut names: Vec<String>, metadata: &serde_json::Value) -> Result<Bins> {
    let declared: Vec<String> = match metadata.pointer("/thaw/extensions") {
        None => Vec::new(),
        Some(v) => serde_json::from_value(v.clone())
            .context("[package.metadata.thaw] extensions must be a list of binary names")?,
    };
    for ext in &declared {
        if !names.contains(ext) {
            bail!("[package.metadata.thaw] names extension {ext:?}, but there is no such binary");
        }
    }
    names.sort();
    let (extensions, functions) = names.into_iter().partition(|n| declared.contains(n));
    Ok(Bins {
        functions,
        extensions,
    })
}

/// The cargo home whose registry sources may leak into binaries' panic messages.
pub fn cargo_home() -> Result<PathBuf> {
    if let Some(home) = std::env::var_os("CARGO_HOME") {
        return Ok(PathBuf::from(home));
    }
    let home = std::env::var_os("HOME").context("neither CARGO_HOME nor HOME is set")?;
    Ok(Path::new(&home).join(".cargo"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_come_from_metadata_and_the_rest_are_functions() {
        let names = vec!["webhook".into(), "thaw-extension".into(), "hello".into()];
        let meta = serde_json::json!({"thaw": {"extensions": ["thaw-extension"]}});
        let bins = split_bins(names, &meta).expect("valid");
        assert_eq!(bins.functions, ["hello", "webhook"]);
        assert_eq!(bins.extensions, ["thaw-extension"]);
    }

    #[test]
    fn a_declared_extension_without_a_binary_is_an_error() {
        let meta = serde_json::json!({"thaw": {"extensions": ["ghost"]}});
        let err = split_bins(vec!["hello".into()], &meta).expect_err("missing");
        assert!(err.to_string().contains("ghost"));
    }

    #[test]
    fn the_real_workspace_discovers_hello_and_the_extension() {
        let ws = Workspace::locate().expect("workspace");
        assert!(ws.bins.functions.contains(&"hello".to_owned()));
        assert_eq!(ws.bins.extensions, ["thaw-extension"]);
    }
}
