//! Writes that never leave a half-written result: build beside the destination, then rename.

use anyhow::{Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` through a temporary file in the same directory.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = parent(path)?;
    let mut tmp = tempfile::NamedTempFile::new_in(&dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    tmp.write_all(bytes)
        .with_context(|| format!("writing {}", path.display()))?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .with_context(|| format!("renaming into {}", path.display()))?;
    Ok(())
}

/// Copies `from` to `to` atomically, keeping the executable bit.
pub fn copy_file(from: &Path, to: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let bytes = std::fs::read(from).with_context(|| format!("reading {}", from.display()))?;
    write_file(to, &bytes)?;
    let mode = std::fs::metadata(from)?.permissions().mode() & 0o777;
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

/// Builds a directory with `fill` in a temporary sibling, then swaps it in for `path`.
pub fn write_dir(path: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let dir = parent(path)?;
    let tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempdir_in(&dir)
        .with_context(|| format!("creating a temporary directory in {}", dir.display()))?;
    fill(tmp.path())?;
    if path.exists() {
        std::fs::remove_dir_all(path).with_context(|| format!("replacing {}", path.display()))?;
    }
    let kept = tmp.keep();
    std::fs::rename(&kept, path).with_context(|| format!("renaming into {}", path.display()))?;
    Ok(())
}

fn parent(path: &Path) -> Result<PathBuf> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_file_replaces_whole_and_leaves_no_temporaries() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("out.bin");
        write_file(&path, b"first").expect("write");
        write_file(&path, b"second").expect("rewrite");
        assert_eq!(std::fs::read(&path).expect("read"), b"second");
        assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 1);
    }

    #[test]
    fn a_failing_directory_fill_keeps_the_old_directory() {
        let dir = tempfile::tempdir().expect("tmp");
        let out = dir.path().join("layout");
        write_dir(&out, |d| Ok(std::fs::write(d.join("a"), "old")?)).expect("first");
        let failed = write_dir(&out, |d| {
            std::fs::write(d.join("a"), "new")?;
            anyhow::bail!("fill failed")
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read_to_string(out.join("a")).expect("read"), "old");
        let leftovers = std::fs::read_dir(dir.path()).expect("ls").count();
        assert_eq!(
            leftovers, 1,
            "the failed temporary directory was cleaned up"
        );
    }
}
