//! Shared by the tests on built artifacts.

use std::path::{Path, PathBuf};

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The dist directory `cargo xtask dist` filled: `THAW_DIST`, else under the target dir.
pub fn dist() -> PathBuf {
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"));
    let dir = std::env::var_os("THAW_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir.join("thaw/dist"));
    assert!(
        dir.join("SHA256SUMS").exists(),
        "{} has no artifacts: run `cargo xtask dist` first",
        dir.display()
    );
    dir
}
