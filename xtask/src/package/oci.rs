//! Single-architecture OCI images for Lambda: an image layout (`oci-layout`, `index.json`,
//! `blobs/sha256/…`) as a file map, written out as a directory and as an `oci-archive` tar.

use super::tar_layer::{self, TarEntry};
use anyhow::Result;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

pub const MEDIA_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MEDIA_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MEDIA_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const MEDIA_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const LAYOUT_VERSION: &str = "1.0.0";
/// Where the function's bootstrap sits in an image, as in Lambda's `provided` base images.
pub const BOOTSTRAP_PATH: &str = "var/runtime/bootstrap";
/// Lambda starts every executable in this directory as an extension.
pub const EXTENSIONS_DIR: &str = "opt/extensions";
pub const WORKING_DIR: &str = "/var/task";
/// The tag the image's manifest carries in `index.json`.
pub const REF_NAME: &str = "latest";

/// What goes into one image.
pub struct ImageSpec<'a> {
    pub oci_arch: &'a str,
    /// Each layer's entries, bottom first.
    pub layers: Vec<Vec<TarEntry>>,
    pub epoch: i64,
    pub gzip_level: u32,
}

/// `sha256:<hex>` of `bytes`.
pub fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The image layout's files, keyed by path relative to the layout root.
pub fn layout(spec: &ImageSpec<'_>) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut files = BTreeMap::new();
    let mut diff_ids = Vec::new();
    let mut layer_descriptors = Vec::new();
    for entries in &spec.layers {
        let tar = tar_layer::tar(entries.clone(), spec.epoch.max(0) as u64)?;
        let gz = tar_layer::gzip(&tar, spec.gzip_level)?;
        diff_ids.push(digest(&tar));
        layer_descriptors.push(descriptor(MEDIA_LAYER, &gz));
        add_blob(&mut files, gz);
    }
    let created = crate::timefmt::rfc3339_secs(spec.epoch);
    let config = json!({
        "created": created,
        "architecture": spec.oci_arch,
        "os": "linux",
        "config": {
            "Entrypoint": [format!("/{BOOTSTRAP_PATH}")],
            "WorkingDir": WORKING_DIR,
        },
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    });
    let config = serde_json::to_vec(&config)?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MEDIA_MANIFEST,
        "config": descriptor(MEDIA_CONFIG, &config),
        "layers": layer_descriptors,
    });
    let manifest = serde_json::to_vec(&manifest)?;
    let mut manifest_descriptor = descriptor(MEDIA_MANIFEST, &manifest);
    manifest_descriptor["platform"] = json!({"architecture": spec.oci_arch, "os": "linux"});
    manifest_descriptor["annotations"] = json!({"org.opencontainers.image.ref.name": REF_NAME});
    add_blob(&mut files, config);
    add_blob(&mut files, manifest);
    let index = json!({
        "schemaVersion": 2,
        "mediaType": MEDIA_INDEX,
        "manifests": [manifest_descriptor],
    });
    files.insert("index.json".into(), serde_json::to_vec(&index)?);
    files.insert(
        "oci-layout".into(),
        serde_json::to_vec(&json!({"imageLayoutVersion": LAYOUT_VERSION}))?,
    );
    Ok(files)
}

fn descriptor(media_type: &str, bytes: &[u8]) -> serde_json::Value {
    json!({"mediaType": media_type, "digest": digest(bytes), "size": bytes.len()})
}

fn add_blob(files: &mut BTreeMap<String, Vec<u8>>, bytes: Vec<u8>) {
    let hex = digest(&bytes).trim_start_matches("sha256:").to_owned();
    files.insert(format!("blobs/sha256/{hex}"), bytes);
}

/// The layout as one `oci-archive` tar (the layout's files at the tar's root).
pub fn archive(files: &BTreeMap<String, Vec<u8>>, epoch: i64) -> Result<Vec<u8>> {
    let mut entries = vec![TarEntry::dir("blobs"), TarEntry::dir("blobs/sha256")];
    entries.extend(
        files
            .iter()
            .map(|(path, bytes)| TarEntry::file(path, 0o644, bytes.clone())),
    );
    tar_layer::tar(entries, epoch.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_links_index_manifest_config_and_layers_by_digest() {
        let spec = ImageSpec {
            oci_arch: "arm64",
            layers: vec![vec![TarEntry::file(BOOTSTRAP_PATH, 0o755, b"bin".to_vec())]],
            epoch: 315_532_800,
            gzip_level: 9,
        };
        let files = layout(&spec).expect("layout");
        let blob = |d: &str| &files[&format!("blobs/sha256/{}", &d["sha256:".len()..])];
        let index: serde_json::Value = serde_json::from_slice(&files["index.json"]).expect("json");
        let m = &index["manifests"][0];
        let manifest: serde_json::Value =
            serde_json::from_slice(blob(m["digest"].as_str().expect("digest"))).expect("json");
        let config: serde_json::Value =
            serde_json::from_slice(blob(manifest["config"]["digest"].as_str().expect("digest")))
                .expect("json");
        assert_eq!(config["architecture"], "arm64");
        assert_eq!(config["os"], "linux");
        assert_eq!(config["config"]["Entrypoint"][0], "/var/runtime/bootstrap");
        assert_eq!(manifest["layers"].as_array().expect("layers").len(), 1);
        assert_eq!(layout(&spec).expect("again"), files, "deterministic");
    }
}
