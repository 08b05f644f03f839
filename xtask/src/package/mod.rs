//! `xtask package`: function ZIPs, extension layer ZIPs, OCI images (musl) and `SHA256SUMS`.

pub mod oci;
pub mod tar_layer;
pub mod zip_archive;

use crate::atomic;
use crate::targets::{Keyed, Libc, Table};
use crate::workspace::Bins;
use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;
use tar_layer::TarEntry;
use zip_archive::Entry;

/// Name of the checksum file in every output directory.
pub const SUMS_FILE: &str = "SHA256SUMS";
/// The one entry of a function ZIP: Lambda's custom runtimes start `bootstrap`.
pub const BOOTSTRAP: &str = "bootstrap";

pub fn function_zip_name(function: &str, key: &str) -> String {
    format!("{function}-{key}.zip")
}

pub fn image_name(function: &str, with_extension: bool, key: &str) -> String {
    let variant = if with_extension {
        "-with-extension"
    } else {
        ""
    };
    format!("image-{function}{variant}-{key}")
}

/// Writes every artifact of the `selected` targets into `out`, replacing it as a whole
/// (nothing stale survives, nothing half-written appears). Binaries are read from
/// `bins_root/KEY/NAME`. Returns the names of the files written.
pub fn package(
    table: &Table,
    bins: &Bins,
    selected: &[Keyed<'_>],
    bins_dir_of: &dyn Fn(&str) -> std::path::PathBuf,
    out: &Path,
) -> Result<Vec<String>> {
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut layouts: BTreeMap<String, BTreeMap<String, Vec<u8>>> = BTreeMap::new();
    for (i, keyed) in selected.iter().enumerate() {
        eprintln!("[{}/{}] packaging {}", i + 1, selected.len(), keyed.key);
        let dir = bins_dir_of(keyed.key);
        let read = |name: &str| -> Result<Vec<u8>> {
            let path = dir.join(name);
            std::fs::read(&path).with_context(|| {
                format!(
                    "reading {} (build it first: `cargo xtask build --target {}`)",
                    path.display(),
                    keyed.key
                )
            })
        };
        target_artifacts(table, bins, *keyed, &read, &mut files, &mut layouts)?;
    }
    let sums = sha256sums(&files);
    files.insert(SUMS_FILE.into(), sums.into_bytes());
    atomic::write_dir(out, |tmp| {
        for (name, bytes) in &files {
            std::fs::write(tmp.join(name), bytes).with_context(|| format!("writing {name}"))?;
        }
        for (name, layout) in &layouts {
            for (path, bytes) in layout {
                let file = tmp.join(name).join(path);
                if let Some(parent) = file.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(&file, bytes).with_context(|| format!("writing {name}/{path}"))?;
            }
        }
        Ok(())
    })
    .with_context(|| format!("writing the artifacts to {}", out.display()))?;
    Ok(files.into_keys().chain(layouts.into_keys()).collect())
}

fn target_artifacts(
    table: &Table,
    bins: &Bins,
    keyed: Keyed<'_>,
    read: &dyn Fn(&str) -> Result<Vec<u8>>,
    files: &mut BTreeMap<String, Vec<u8>>,
    layouts: &mut BTreeMap<String, BTreeMap<String, Vec<u8>>>,
) -> Result<()> {
    let level = table.shared.gzip_level;
    let epoch = table.shared.archive_epoch;
    for function in &bins.functions {
        let zip = zip_archive::write(vec![Entry::executable(BOOTSTRAP, read(function)?)], level)?;
        files.insert(function_zip_name(function, keyed.key), zip);
    }
    let mut extension_layer = Vec::new();
    for extension in &bins.extensions {
        let contents = read(extension)?;
        let ext_dir = oci::EXTENSIONS_DIR.trim_start_matches("opt/");
        let zip = zip_archive::write(
            vec![
                Entry::dir(ext_dir),
                Entry::executable(&format!("{ext_dir}/{extension}"), contents.clone()),
            ],
            level,
        )?;
        files.insert(function_zip_name(extension, keyed.key), zip);
        let path = format!("{}/{extension}", oci::EXTENSIONS_DIR);
        extension_layer.extend(tar_layer::parents(&path));
        extension_layer.push(TarEntry::file(&path, 0o755, contents));
    }
    if keyed.target.libc != Libc::Musl {
        return Ok(()); // a glibc binary would need a libc in the image
    }
    for function in &bins.functions {
        let mut function_layer = tar_layer::parents(oci::BOOTSTRAP_PATH);
        function_layer.push(TarEntry::file(oci::BOOTSTRAP_PATH, 0o755, read(function)?));
        let working = oci::WORKING_DIR.trim_start_matches('/');
        function_layer.extend(tar_layer::parents(&format!("{working}/x")));
        for with_extension in [false, true] {
            let mut layers = vec![function_layer.clone()];
            if with_extension {
                layers.push(extension_layer.clone());
            }
            let spec = oci::ImageSpec {
                oci_arch: &keyed.target.oci_arch,
                layers,
                epoch,
                gzip_level: level,
            };
            let layout = oci::layout(&spec)?;
            let name = image_name(function, with_extension, keyed.key);
            files.insert(format!("{name}.tar"), oci::archive(&layout, epoch)?);
            layouts.insert(name, layout);
        }
    }
    Ok(())
}

/// `sha256sum`-compatible lines for `files`, sorted by name.
pub fn sha256sums(files: &BTreeMap<String, Vec<u8>>) -> String {
    files
        .iter()
        .filter(|(name, _)| name.as_str() != SUMS_FILE)
        .map(|(name, bytes)| format!("{}  {name}\n", hex::encode(Sha256::digest(bytes))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_are_sorted_sha256sum_lines() {
        let files = BTreeMap::from([
            ("b.zip".to_owned(), b"b".to_vec()),
            ("a.zip".to_owned(), b"".to_vec()),
        ]);
        let sums = sha256sums(&files);
        assert_eq!(
            sums,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  a.zip\n\
             3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d  b.zip\n"
        );
    }
}
