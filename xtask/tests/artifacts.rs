//! Independent tools agree with thaw about the built artifacts: skopeo (which recomputes
//! digests on copy) and umoci accept the OCI images, `unzip -Z` sees an executable
//! bootstrap, and `xtask verify` passes the real dist and fails a tampered one.
//! They need `cargo xtask dist` first, so they are ignored by a plain `cargo test`;
//! `cargo xtask test` runs them.

use std::process::{Command, Output};

mod common;
use common::{dist, workspace};

fn table() -> toml::Table {
    let text = std::fs::read_to_string(workspace().join("nix/targets.toml")).expect("table");
    toml::from_str(&text).expect("toml")
}

/// `(key, oci_arch)` of every musl target (those with images).
fn musl_keys() -> Vec<(String, String)> {
    let t = table();
    t["target"]
        .as_table()
        .expect("targets")
        .iter()
        .filter(|(_, v)| v["libc"].as_str() == Some("musl"))
        .map(|(k, v)| {
            (
                k.clone(),
                v["oci_arch"].as_str().expect("oci_arch").to_owned(),
            )
        })
        .collect()
}

fn all_keys() -> Vec<String> {
    table()["target"]
        .as_table()
        .expect("targets")
        .keys()
        .cloned()
        .collect()
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} (run `cargo xtask setup`)"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
#[ignore = "needs `cargo xtask dist`; run by `cargo xtask test`"]
fn skopeo_copies_every_image_recomputing_digests_and_sees_the_architecture() {
    let dist = dist();
    let scratch = tempfile::tempdir().expect("tmp");
    for (key, arch) in musl_keys() {
        for variant in ["image-hello", "image-hello-with-extension"] {
            let archive = dist.join(format!("{variant}-{key}.tar"));
            let dest = scratch.path().join(format!("{variant}-{key}"));
            run(Command::new("skopeo")
                .args(["copy", "--quiet"])
                .arg(format!("oci-archive:{}", archive.display()))
                .arg(format!("dir:{}", dest.display())));
            assert!(dest.join("manifest.json").exists());
            for source in [
                format!("oci-archive:{}", archive.display()),
                format!("oci:{}", dist.join(format!("{variant}-{key}")).display()),
            ] {
                let out = run(Command::new("skopeo").args(["inspect", "--config", &source]));
                let config: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
                assert_eq!(config["architecture"], arch.as_str(), "{source}");
                assert_eq!(config["os"], "linux");
            }
        }
    }
}

#[test]
#[ignore = "needs `cargo xtask dist`; run by `cargo xtask test`"]
fn umoci_unpacks_the_images_with_the_bootstrap_and_the_extension() {
    use std::os::unix::fs::PermissionsExt;
    let dist = dist();
    let scratch = tempfile::tempdir().expect("tmp");
    for (key, _) in musl_keys() {
        let layout = dist.join(format!("image-hello-with-extension-{key}"));
        let bundle = scratch.path().join(&key);
        run(Command::new("umoci")
            .args(["unpack", "--rootless", "--image"])
            .arg(format!("{}:latest", layout.display()))
            .arg(&bundle));
        for file in [
            "rootfs/var/runtime/bootstrap",
            "rootfs/opt/extensions/thaw-extension",
        ] {
            let mode = std::fs::metadata(bundle.join(file))
                .expect(file)
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o755, "{key} {file}");
        }
    }
}

#[test]
#[ignore = "needs `cargo xtask dist`; run by `cargo xtask test`"]
fn unzip_sees_an_executable_bootstrap_and_extension() {
    let dist = dist();
    for key in all_keys() {
        let out = run(Command::new("unzip")
            .arg("-Z")
            .arg(dist.join(format!("hello-{key}.zip"))));
        let listing = String::from_utf8_lossy(&out.stdout);
        let line = listing
            .lines()
            .find(|l| l.ends_with(" bootstrap"))
            .expect("bootstrap listed");
        assert!(line.starts_with("-rwxr-xr-x"), "{key}: {line}");
        assert!(
            line.contains("80-Jan-01 00:00") || line.contains("1980"),
            "{key}: {line}"
        );
        let out = run(Command::new("unzip")
            .arg("-Z")
            .arg(dist.join(format!("thaw-extension-{key}.zip"))));
        let listing = String::from_utf8_lossy(&out.stdout);
        assert!(
            listing
                .lines()
                .any(|l| l.starts_with("drwxr-xr-x") && l.ends_with(" extensions/")),
            "{listing}"
        );
        assert!(
            listing
                .lines()
                .any(|l| l.starts_with("-rwxr-xr-x") && l.ends_with(" extensions/thaw-extension")),
            "{listing}"
        );
    }
}

#[test]
#[ignore = "needs `cargo xtask dist`; run by `cargo xtask test`"]
fn sha256sums_matches_every_file_it_lists() {
    let dist = dist();
    let out = run(Command::new("sha256sum")
        .arg("--check")
        .arg("--strict")
        .arg("SHA256SUMS")
        .current_dir(&dist));
    let checked = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.ends_with(": OK"))
        .count();
    assert!(
        checked >= all_keys().len() * 2,
        "only {checked} files checked"
    );
}

#[test]
#[ignore = "needs `cargo xtask dist`; run by `cargo xtask test`"]
fn xtask_verify_passes_the_dist_and_fails_a_tampered_zip_naming_file_and_rule() {
    let xtask = env!("CARGO_BIN_EXE_xtask");
    let dist = dist();
    let out = run(Command::new(xtask)
        .arg("verify")
        .arg(&dist)
        .current_dir(workspace()));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(", 0 failed"), "{text}");
    // The same bootstrap, repacked with mode 0644 and a 2020 timestamp.
    let key = all_keys().into_iter().next().expect("a key");
    let original = dist.join(format!("hello-{key}.zip"));
    let mut archive =
        zip::ZipArchive::new(std::fs::File::open(&original).expect("open")).expect("zip");
    let mut bootstrap = Vec::new();
    std::io::Read::read_to_end(
        &mut archive.by_name("bootstrap").expect("bootstrap"),
        &mut bootstrap,
    )
    .expect("read");
    let scratch = tempfile::tempdir().expect("tmp");
    let bad = scratch.path().join(format!("hello-{key}.zip"));
    let mut w = zip::ZipWriter::new(std::fs::File::create(&bad).expect("create"));
    let time = zip::DateTime::from_date_and_time(2020, 1, 1, 0, 0, 0).expect("time");
    w.start_file(
        "bootstrap",
        zip::write::SimpleFileOptions::default()
            .unix_permissions(0o644)
            .last_modified_time(time),
    )
    .expect("start");
    std::io::Write::write_all(&mut w, &bootstrap).expect("write");
    w.finish().expect("finish");
    let out = Command::new(xtask)
        .arg("verify")
        .arg(&bad)
        .current_dir(workspace())
        .output()
        .expect("run");
    assert!(
        !out.status.success(),
        "a tampered ZIP must fail verification"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("hello-{key}.zip: [zip-mode]")),
        "{text}"
    );
    assert!(
        text.contains(&format!("hello-{key}.zip: [zip-timestamp]")),
        "{text}"
    );
}
