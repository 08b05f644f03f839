//! OCI rules: a valid image layout with one manifest (Lambda rejects multi-arch indexes),
//! every digest, size and diff_id recomputed, media types, the target's architecture,
//! deterministic world-readable layers, and an entrypoint binary that passes the ELF rules.

use super::{Findings, Scope, elf};
use crate::package::oci::{
    LAYOUT_VERSION, MEDIA_CONFIG, MEDIA_INDEX, MEDIA_LAYER, MEDIA_MANIFEST, digest,
};
use crate::targets::Keyed;
use anyhow::{Context as _, Result};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

pub type Files = BTreeMap<String, Vec<u8>>;

pub fn read_layout_dir(dir: &Path) -> Result<Files> {
    let mut files = Files::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir)?.to_string_lossy().into_owned();
                files.insert(rel, std::fs::read(&path)?);
            }
        }
    }
    Ok(files)
}

pub fn read_layout_tar(bytes: &[u8]) -> Result<Files> {
    let mut files = Files::new();
    let mut archive = tar::Archive::new(bytes);
    for entry in archive.entries()? {
        let mut entry = entry?;
        if entry.header().entry_type().is_file() {
            let path = entry
                .path()?
                .to_string_lossy()
                .trim_start_matches("./")
                .to_owned();
            let mut data = Vec::new();
            entry.read_to_end(&mut data)?;
            files.insert(path, data);
        }
    }
    Ok(files)
}

pub fn verify(ctx: &Scope<'_>, keyed: Keyed<'_>, file: &str, files: &Files) -> Findings {
    let mut f = Findings::default();
    if let Err(detail) = check(ctx, keyed, file, files, &mut f) {
        f.rule(file, "oci-layout", Err(detail));
    }
    f
}

fn json(files: &Files, path: &str) -> Result<Value, String> {
    let bytes = files
        .get(path)
        .ok_or_else(|| format!("{path} is missing"))?;
    serde_json::from_slice(bytes).map_err(|e| format!("{path} is not JSON: {e}"))
}

/// Follows a descriptor to its blob, checking media type, digest and size on the way.
fn resolve<'a>(
    files: &'a Files,
    f: &mut Findings,
    file: &str,
    what: &str,
    descriptor: &Value,
    media_type: &str,
) -> Result<&'a [u8], String> {
    f.rule(file, "oci-media-type", {
        match descriptor["mediaType"].as_str() {
            Some(m) if m == media_type => Ok(()),
            other => Err(format!(
                "{what}: media type {other:?}, expected {media_type}"
            )),
        }
    });
    let named = descriptor["digest"]
        .as_str()
        .ok_or_else(|| format!("{what}: descriptor has no digest"))?;
    let hex = named
        .strip_prefix("sha256:")
        .ok_or_else(|| format!("{what}: digest {named} is not sha256"))?;
    let blob = files
        .get(&format!("blobs/sha256/{hex}"))
        .ok_or_else(|| format!("{what}: blob {named} is missing"))?;
    f.rule(file, "oci-digest", {
        let actual = digest(blob);
        if actual == named {
            Ok(())
        } else {
            Err(format!(
                "{what}: descriptor says {named}, content hashes to {actual}"
            ))
        }
    });
    f.rule(file, "oci-size", {
        match descriptor["size"].as_u64() {
            Some(s) if s == blob.len() as u64 => Ok(()),
            other => Err(format!(
                "{what}: descriptor size {other:?}, blob has {}",
                blob.len()
            )),
        }
    });
    Ok(blob)
}

fn check(
    ctx: &Scope<'_>,
    keyed: Keyed<'_>,
    file: &str,
    files: &Files,
    f: &mut Findings,
) -> Result<(), String> {
    let layout = json(files, "oci-layout")?;
    f.rule(file, "oci-layout", {
        match layout["imageLayoutVersion"].as_str() {
            Some(LAYOUT_VERSION) => Ok(()),
            other => Err(format!(
                "imageLayoutVersion {other:?}, expected {LAYOUT_VERSION}"
            )),
        }
    });
    for (path, blob) in files.iter().filter(|(p, _)| p.starts_with("blobs/")) {
        f.rule(file, "oci-digest", {
            let named = format!("sha256:{}", path.trim_start_matches("blobs/sha256/"));
            let actual = digest(blob);
            if named == actual {
                Ok(())
            } else {
                Err(format!("blob {path} hashes to {actual}"))
            }
        });
    }
    let index = json(files, "index.json")?;
    f.rule(
        file,
        "oci-media-type",
        match index["mediaType"].as_str() {
            Some(MEDIA_INDEX) => Ok(()),
            other => Err(format!(
                "index.json media type {other:?}, expected {MEDIA_INDEX}"
            )),
        },
    );
    let manifests = index["manifests"].as_array().cloned().unwrap_or_default();
    f.rule(file, "oci-single-manifest", {
        if manifests.len() == 1 {
            Ok(())
        } else {
            Err(format!(
                "index.json lists {} manifests; Lambda needs exactly one",
                manifests.len()
            ))
        }
    });
    let descriptor = manifests.first().ok_or("index.json lists no manifest")?;
    let oci_arch = keyed.target.oci_arch.as_str();
    if let Some(platform_arch) = descriptor["platform"]["architecture"].as_str() {
        f.rule(file, "oci-architecture", {
            if platform_arch == oci_arch {
                Ok(())
            } else {
                Err(format!(
                    "index.json platform {platform_arch}, target {} is {oci_arch}",
                    keyed.key
                ))
            }
        });
    }
    let manifest_bytes = resolve(files, f, file, "manifest", descriptor, MEDIA_MANIFEST)?;
    let manifest: Value =
        serde_json::from_slice(manifest_bytes).map_err(|e| format!("manifest: {e}"))?;
    let config_bytes = resolve(files, f, file, "config", &manifest["config"], MEDIA_CONFIG)?;
    let config: Value = serde_json::from_slice(config_bytes).map_err(|e| format!("config: {e}"))?;
    f.rule(file, "oci-architecture", {
        match (config["architecture"].as_str(), config["os"].as_str()) {
            (Some(a), Some("linux")) if a == oci_arch => Ok(()),
            (a, os) => Err(format!(
                "config says {a:?}/{os:?}, target {} needs {oci_arch}/linux",
                keyed.key
            )),
        }
    });
    let layers = manifest["layers"].as_array().cloned().unwrap_or_default();
    let diff_ids = config["rootfs"]["diff_ids"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    f.rule(file, "oci-diff-id", {
        if layers.len() == diff_ids.len() {
            Ok(())
        } else {
            Err(format!(
                "{} layers but {} diff_ids",
                layers.len(),
                diff_ids.len()
            ))
        }
    });
    let mut tree: BTreeMap<String, (u32, Vec<u8>)> = BTreeMap::new();
    for (i, layer) in layers.iter().enumerate() {
        let gz = resolve(files, f, file, &format!("layer {i}"), layer, MEDIA_LAYER)?;
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(gz)
            .read_to_end(&mut tar)
            .map_err(|e| format!("layer {i} does not gunzip: {e}"))?;
        f.rule(file, "oci-diff-id", {
            let actual = digest(&tar);
            match diff_ids.get(i).and_then(Value::as_str) {
                Some(d) if d == actual => Ok(()),
                other => Err(format!(
                    "layer {i}: config diff_id {other:?}, uncompressed layer hashes to {actual}"
                )),
            }
        });
        layer_entries(ctx, file, i, &tar, f, &mut tree)?;
    }
    let entrypoint = config["config"]["Entrypoint"][0]
        .as_str()
        .unwrap_or_default();
    let entry_path = entrypoint.trim_start_matches('/');
    f.rule(
        file,
        "oci-entrypoint",
        match tree.get(entry_path) {
            Some((mode, _)) if mode & 0o755 == 0o755 => Ok(()),
            Some((mode, _)) => Err(format!(
                "entrypoint {entrypoint} has mode {mode:o}, not executable by all"
            )),
            None => Err(format!(
                "entrypoint {entrypoint:?} is not a file in any layer"
            )),
        },
    );
    // The entrypoint and every extension are programs Lambda starts: ELF rules apply.
    let extensions = format!("{}/", crate::package::oci::EXTENSIONS_DIR);
    for (path, (_, contents)) in &tree {
        if path == entry_path || path.starts_with(&extensions) {
            f.merge(elf::verify(
                ctx.table,
                keyed,
                &format!("{file}!/{path}"),
                contents,
            ));
        }
    }
    Ok(())
}

/// Checks one layer's entries (owner, time, world-readable modes), collecting its files.
fn layer_entries(
    ctx: &Scope<'_>,
    file: &str,
    i: usize,
    tar_bytes: &[u8],
    f: &mut Findings,
    tree: &mut BTreeMap<String, (u32, Vec<u8>)>,
) -> Result<(), String> {
    let epoch = ctx.table.shared.archive_epoch.max(0) as u64;
    let mut archive = tar::Archive::new(tar_bytes);
    let entries = archive.entries().map_err(|e| format!("layer {i}: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("layer {i}: {e}"))?;
        let h = entry.header();
        let path = entry
            .path()
            .map_err(|e| e.to_string())?
            .to_string_lossy()
            .into_owned();
        let mode = h.mode().unwrap_or(0);
        let is_dir = h.entry_type().is_dir();
        let (uid, gid, mtime) = (
            h.uid().unwrap_or(u64::MAX),
            h.gid().unwrap_or(u64::MAX),
            h.mtime().unwrap_or(0),
        );
        f.rule(file, "oci-layer-metadata", {
            if (uid, gid, mtime) == (0, 0, epoch) {
                Ok(())
            } else {
                Err(format!(
                    "layer {i} {path}: uid {uid} gid {gid} mtime {mtime}, expected 0 0 {epoch}"
                ))
            }
        });
        let need = if is_dir { 0o005 } else { 0o004 };
        f.rule(file, "oci-world-readable", {
            if mode & need == need {
                Ok(())
            } else {
                Err(format!(
                    "layer {i} {path}: mode {mode:o}; Lambda runs as a non-root user"
                ))
            }
        });
        if h.entry_type().is_file() {
            let mut contents = Vec::new();
            entry
                .read_to_end(&mut contents)
                .map_err(|e| format!("layer {i} {path}: {e}"))?;
            tree.insert(path.trim_start_matches("./").to_owned(), (mode, contents));
        }
    }
    Ok(())
}
