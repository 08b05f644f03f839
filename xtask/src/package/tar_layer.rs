//! Deterministic tar building (OCI layers and the oci-archive): sorted entries, uid/gid 0,
//! no user names, one fixed mtime, fixed modes; and gzip without name or mtime.

use anyhow::{Context, Result};
use flate2::{Compression, GzBuilder};
use std::io::Write;

/// A tar entry: a directory (no contents) or a regular file.
#[derive(Debug, Clone)]
pub struct TarEntry {
    pub path: String,
    pub mode: u32,
    pub contents: Option<Vec<u8>>,
}

impl TarEntry {
    pub fn dir(path: &str) -> Self {
        Self {
            path: format!("{}/", path.trim_end_matches('/')),
            mode: 0o755,
            contents: None,
        }
    }

    pub fn file(path: &str, mode: u32, contents: Vec<u8>) -> Self {
        Self {
            path: path.to_owned(),
            mode,
            contents: Some(contents),
        }
    }
}

/// Every directory leading to `path` (`a/b/c` → `a/`, `a/b/`), for complete layers.
pub fn parents(path: &str) -> Vec<TarEntry> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    (1..parts.len())
        .map(|n| TarEntry::dir(&parts[..n].join("/")))
        .collect()
}

/// An uncompressed tar of `entries`, sorted by path, with `mtime` on every entry.
pub fn tar(mut entries: Vec<TarEntry>, mtime: u64) -> Result<Vec<u8>> {
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    entries.dedup_by(|a, b| a.path == b.path);
    let mut builder = tar::Builder::new(Vec::new());
    for entry in &entries {
        let mut header = tar::Header::new_ustar();
        header.set_mode(entry.mode);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(mtime);
        header.set_username("").context("tar user name")?;
        header.set_groupname("").context("tar group name")?;
        let data: &[u8] = match &entry.contents {
            None => {
                header.set_entry_type(tar::EntryType::Directory);
                &[]
            }
            Some(bytes) => {
                header.set_entry_type(tar::EntryType::Regular);
                bytes
            }
        };
        header.set_size(data.len() as u64);
        builder
            .append_data(&mut header, &entry.path, data)
            .with_context(|| format!("adding {} to a tar", entry.path))?;
    }
    builder.into_inner().context("finishing a tar")
}

/// gzip with no file name, mtime 0 and a fixed level, so equal input gives equal bytes.
pub fn gzip(bytes: &[u8], level: u32) -> Result<Vec<u8>> {
    let mut encoder = GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), Compression::new(level));
    encoder.write_all(bytes).context("gzip")?;
    encoder.finish().context("finishing gzip")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_lists_each_leading_directory() {
        let dirs: Vec<_> = parents("opt/extensions/x")
            .into_iter()
            .map(|e| e.path)
            .collect();
        assert_eq!(dirs, ["opt/", "opt/extensions/"]);
    }

    #[test]
    fn entry_order_and_duplicates_do_not_change_the_bytes() {
        let a = TarEntry::file("b/f", 0o644, b"x".to_vec());
        let b = TarEntry::dir("b");
        let one = tar(vec![a.clone(), b.clone()], 315532800).expect("tar");
        let two = tar(vec![b.clone(), a, b], 315532800).expect("tar");
        assert_eq!(one, two);
        let mut archive = tar::Archive::new(one.as_slice());
        for entry in archive.entries().expect("entries") {
            let entry = entry.expect("entry");
            let h = entry.header();
            assert_eq!((h.uid().expect("uid"), h.gid().expect("gid")), (0, 0));
            assert_eq!(h.mtime().expect("mtime"), 315532800);
        }
    }

    #[test]
    fn gzip_header_has_no_name_and_no_mtime() {
        let gz = gzip(b"hello", 9).expect("gzip");
        assert_eq!(&gz[..3], &[0x1f, 0x8b, 8]);
        assert_eq!(gz[3], 0, "FLG: no name, no comment, no extra");
        assert_eq!(&gz[4..8], &[0, 0, 0, 0], "MTIME is zero");
        assert_eq!(gzip(b"hello", 9).expect("gzip"), gz);
    }
}
