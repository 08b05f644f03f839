//! The verifier's rules, each broken on purpose: a crafted input must fail exactly the rule
//! it breaks, and the same input built correctly must pass that rule.

use super::{Findings, Scope, elf, oci, zip_rules};
use crate::package::oci::{BOOTSTRAP_PATH, ImageSpec, layout};
use crate::package::tar_layer::TarEntry;
use crate::package::zip_archive::{self, Entry};
use crate::targets::{Keyed, Table};
use crate::workspace::Bins;
use std::path::{Path, PathBuf};
use std::process::Command;

fn table() -> Table {
    Table::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("..")).expect("table")
}

fn bins() -> Bins {
    Bins {
        functions: vec!["hello".into()],
        extensions: vec!["thaw-extension".into()],
    }
}

fn key<'a>(table: &'a Table, key: &str) -> Keyed<'a> {
    table.select(key).expect("key")[0]
}

/// The host's gnu key (the C compiler here builds for the host).
fn host_gnu(table: &Table) -> Keyed<'_> {
    *table
        .all()
        .iter()
        .find(|k| k.target.arch == std::env::consts::ARCH && k.target.loader.is_some())
        .expect("a gnu target for this host")
}

/// Compiles a tiny C program with `flags` using the host C compiler.
fn cc(dir: &Path, name: &str, flags: &[&str]) -> PathBuf {
    let src = dir.join("main.c");
    std::fs::write(
        &src,
        "extern int printf(const char*, ...);\nint main(void){printf(\"x\");return 0;}\n",
    )
    .expect("write source");
    let out = dir.join(name);
    let status = Command::new("cc")
        .args(["-O1", "-o"])
        .arg(&out)
        .arg(&src)
        .args(flags)
        .status()
        .expect("run cc");
    assert!(status.success(), "cc {flags:?} failed");
    out
}

fn check_elf(table: &Table, keyed: Keyed<'_>, path: &Path) -> Findings {
    let bytes = std::fs::read(path).expect("read elf");
    elf::verify(table, keyed, &path.display().to_string(), &bytes)
}

/// Builds with `bad` and with `good` flags: only the bad build breaks `rule`, and the
/// failure names the file.
fn differential(rule: &str, bad: &[&str], good: &[&str]) {
    let table = table();
    let keyed = host_gnu(&table);
    let dir = tempfile::tempdir().expect("tmp");
    let bad_bin = cc(dir.path(), "bad", bad);
    let good_bin = cc(dir.path(), "good", good);
    let bad = check_elf(&table, keyed, &bad_bin);
    let good = check_elf(&table, keyed, &good_bin);
    let failure = bad
        .failures
        .iter()
        .find(|f| f.rule == rule)
        .unwrap_or_else(|| panic!("{rule} not reported: {:?}", bad.failures));
    assert!(failure.to_string().contains("bad"), "{failure}");
    assert!(
        !good.has(rule),
        "{rule} wrongly reported: {:?}",
        good.failures
    );
}

const EAGER: &[&str] = &["-fPIE", "-pie", "-Wl,-z,now", "-Wl,-z,relro", "-s"];

#[test]
fn lazy_binding_is_rejected() {
    differential("bind-now", &["-fPIE", "-pie", "-Wl,-z,lazy", "-s"], EAGER);
}

#[test]
fn missing_relro_is_rejected() {
    differential("relro", &["-fPIE", "-pie", "-Wl,-z,norelro", "-s"], EAGER);
}

#[test]
fn a_nix_store_loader_is_rejected_twice() {
    let nix = "-Wl,--dynamic-linker=/nix/store/0000000000000000000000000000000a-glibc/lib/ld.so";
    let bad = [EAGER, &[nix]].concat();
    differential("interpreter", &bad, EAGER);
    differential("no-nix-store", &bad, EAGER);
}

#[test]
fn non_pie_executables_are_rejected() {
    differential("pie", &["-no-pie", "-Wl,-z,now", "-s"], EAGER);
}

#[test]
fn rpath_and_runpath_are_rejected() {
    differential(
        "no-rpath",
        &[EAGER, &["-Wl,-rpath,/opt/lib", "-Wl,--disable-new-dtags"]].concat(),
        EAGER,
    );
    differential(
        "no-rpath",
        &[EAGER, &["-Wl,-rpath,/opt/lib", "-Wl,--enable-new-dtags"]].concat(),
        EAGER,
    );
}

#[test]
fn unstripped_binaries_are_rejected() {
    differential("stripped", &["-fPIE", "-pie", "-Wl,-z,now"], EAGER);
}

#[test]
fn foreign_shared_libraries_are_rejected() {
    let table = table();
    let dir = tempfile::tempdir().expect("tmp");
    let lib = dir.path().join("libextra.so");
    std::fs::write(dir.path().join("extra.c"), "int extra(void){return 1;}\n").expect("write");
    let ok = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&lib)
        .arg(dir.path().join("extra.c"))
        .status()
        .expect("cc");
    assert!(ok.success());
    let link = format!("-L{}", dir.path().display());
    let bin = cc(
        dir.path(),
        "needs-extra",
        &[EAGER, &[&link, "-Wl,--no-as-needed", "-lextra"]].concat(),
    );
    let findings = check_elf(&table, host_gnu(&table), &bin);
    let needed = findings
        .failures
        .iter()
        .find(|f| f.rule == "needed")
        .expect("needed reported");
    assert!(needed.detail.contains("libextra.so"), "{needed}");
}

#[test]
fn a_glibc_symbol_above_the_ceiling_is_rejected() {
    // Debian 12's own toolchain links against glibc 2.36: main's start routine alone
    // needs GLIBC_2.34, above Lambda's 2.26 floor (which zig's `.2.26` targets keep).
    let table = table();
    let dir = tempfile::tempdir().expect("tmp");
    let bin = cc(dir.path(), "new-glibc", EAGER);
    let findings = check_elf(&table, host_gnu(&table), &bin);
    let f = findings
        .failures
        .iter()
        .find(|f| f.rule == "glibc-ceiling")
        .expect("ceiling reported");
    assert!(
        f.detail.contains("GLIBC_2.3") && f.detail.contains("2.26"),
        "{f}"
    );
}

#[test]
fn wrong_machine_and_musl_rules_are_rejected() {
    let table = table();
    let dir = tempfile::tempdir().expect("tmp");
    let bin = cc(dir.path(), "host", EAGER);
    let foreign = table
        .all()
        .into_iter()
        .find(|k| k.target.arch != std::env::consts::ARCH)
        .expect("a foreign target");
    assert!(check_elf(&table, foreign, &bin).has("elf-machine"));
    let musl = table
        .all()
        .into_iter()
        .find(|k| k.target.arch == std::env::consts::ARCH && k.target.loader.is_none())
        .expect("a host musl target");
    let f = check_elf(&table, musl, &bin);
    assert!(
        f.has("no-interpreter") && f.has("no-needed"),
        "{:?}",
        f.failures
    );
    assert!(!f.has("elf-machine"));
}

#[test]
fn a_binary_without_a_dependency_list_is_rejected() {
    let table = table();
    let dir = tempfile::tempdir().expect("tmp");
    let bin = cc(dir.path(), "plain", EAGER);
    let f = check_elf(&table, host_gnu(&table), &bin);
    assert!(f.has("dependency-list"), "{:?}", f.failures);
}

// ---- ZIP rules

/// The archive's own findings: the ELF rules of the (fake) binaries inside are left out.
fn archive_only(mut f: Findings) -> Findings {
    f.failures.retain(|x| !x.file.contains('!'));
    f
}

fn check_zip(table: &Table, name: &str, bytes: &[u8]) -> Findings {
    let bins = bins();
    let scope = Scope {
        table,
        bins: &bins,
        target: None,
    };
    let path = PathBuf::from(name);
    let f = zip_rules::verify(
        &scope,
        scope.target_of(&path).expect("target"),
        &path,
        bytes,
    );
    assert!(
        f.has("elf-parse"),
        "the binaries inside are checked too: {:?}",
        f.failures
    );
    archive_only(f)
}

fn custom_zip(entries: &[(&str, u32, zip::DateTime, bool)]) -> Vec<u8> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, mode, time, extra) in entries {
        let options = zip::write::SimpleFileOptions::default()
            .unix_permissions(*mode)
            .last_modified_time(*time);
        let mut options = options.into_full_options();
        if *extra {
            options = options
                .with_extended_timestamp(Some(0), None, None)
                .expect("extra");
        }
        zip.start_file(*name, options).expect("start");
        zip.write_all(b"not an elf").expect("write");
    }
    zip.finish().expect("finish").into_inner()
}

#[test]
fn our_zips_pass_the_zip_rules() {
    let table = table();
    let z =
        zip_archive::write(vec![Entry::executable("bootstrap", b"x".to_vec())], 9).expect("zip");
    let f = check_zip(&table, "hello-arm64.zip", &z);
    assert!(f.failures.is_empty(), "{:?}", f.failures);
    let layer = zip_archive::write(
        vec![
            Entry::executable("extensions/thaw-extension", b"x".to_vec()),
            Entry::dir("extensions"),
        ],
        9,
    )
    .expect("zip");
    let f = check_zip(&table, "thaw-extension-x86_64-musl.zip", &layer);
    assert!(f.failures.is_empty(), "{:?}", f.failures);
}

#[test]
fn a_0644_bootstrap_is_rejected() {
    let z = custom_zip(&[("bootstrap", 0o644, zip::DateTime::default(), false)]);
    let f = check_zip(&table(), "hello-x86_64.zip", &z);
    let mode = f
        .failures
        .iter()
        .find(|x| x.rule == "zip-mode")
        .expect("mode reported");
    assert!(
        mode.to_string()
            .starts_with("hello-x86_64.zip: [zip-mode] bootstrap: mode 100644"),
        "{mode}"
    );
    assert_eq!(f.failures.len(), 1, "{:?}", f.failures);
}

#[test]
fn a_wrong_timestamp_is_rejected() {
    let t = zip::DateTime::from_date_and_time(2024, 5, 6, 7, 8, 10).expect("date");
    let z = custom_zip(&[("bootstrap", 0o755, t, false)]);
    let f = check_zip(&table(), "hello-x86_64.zip", &z);
    assert!(f.has("zip-timestamp"), "{:?}", f.failures);
    assert_eq!(f.failures.len(), 1, "{:?}", f.failures);
}

#[test]
fn extra_fields_are_rejected() {
    let z = custom_zip(&[("bootstrap", 0o755, zip::DateTime::default(), true)]);
    let f = check_zip(&table(), "hello-x86_64.zip", &z);
    assert!(f.has("zip-no-extra"), "{:?}", f.failures);
}

#[test]
fn wrong_entries_and_oversize_are_rejected() {
    let table = table();
    let z = custom_zip(&[
        ("bootstrap", 0o755, zip::DateTime::default(), false),
        ("extra.txt", 0o755, zip::DateTime::default(), false),
    ]);
    assert!(check_zip(&table, "hello-x86_64.zip", &z).has("zip-entries"));
    // A layer ZIP must have the extensions/ directory entry.
    let z = custom_zip(&[(
        "extensions/thaw-extension",
        0o755,
        zip::DateTime::default(),
        false,
    )]);
    assert!(check_zip(&table, "thaw-extension-arm64.zip", &z).has("zip-entries"));
    let mut small = table.clone();
    small.shared.budgets.function_zip_bytes = 10;
    let z = custom_zip(&[("bootstrap", 0o755, zip::DateTime::default(), false)]);
    assert!(check_zip(&small, "hello-x86_64.zip", &z).has("zip-size"));
}

// ---- OCI rules

fn image(oci_arch: &str) -> oci::Files {
    let spec = ImageSpec {
        oci_arch,
        layers: vec![vec![
            TarEntry::dir("var"),
            TarEntry::dir("var/runtime"),
            TarEntry::file(BOOTSTRAP_PATH, 0o755, b"not an elf".to_vec()),
        ]],
        epoch: 315_532_800,
        gzip_level: 9,
    };
    layout(&spec).expect("layout")
}

fn check_oci(table: &Table, key_name: &str, files: &oci::Files) -> Findings {
    let bins = bins();
    let scope = Scope {
        table,
        bins: &bins,
        target: None,
    };
    let f = oci::verify(
        &scope,
        key(table, key_name),
        "image-hello-arm64-musl",
        files,
    );
    archive_only(f)
}

fn json_of(files: &oci::Files, path: &str) -> serde_json::Value {
    serde_json::from_slice(&files[path]).expect("json")
}

fn blob_path(digest: &str) -> String {
    format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"))
}

/// Rewrites the config with `edit`, then re-seals manifest and index so that only the
/// edited content is wrong.
fn edit_config(files: &mut oci::Files, edit: impl FnOnce(&mut serde_json::Value)) {
    use crate::package::oci::digest;
    let mut index = json_of(files, "index.json");
    let mpath = blob_path(index["manifests"][0]["digest"].as_str().expect("digest"));
    let mut manifest: serde_json::Value = serde_json::from_slice(&files[&mpath]).expect("manifest");
    let cpath = blob_path(manifest["config"]["digest"].as_str().expect("digest"));
    let mut config: serde_json::Value = serde_json::from_slice(&files[&cpath]).expect("config");
    edit(&mut config);
    let config = serde_json::to_vec(&config).expect("json");
    manifest["config"]["digest"] = digest(&config).into();
    manifest["config"]["size"] = config.len().into();
    files.insert(blob_path(&digest(&config)), config);
    let manifest = serde_json::to_vec(&manifest).expect("json");
    index["manifests"][0]["digest"] = digest(&manifest).into();
    index["manifests"][0]["size"] = manifest.len().into();
    files.insert(blob_path(&digest(&manifest)), manifest);
    files.insert(
        "index.json".into(),
        serde_json::to_vec(&index).expect("json"),
    );
}

#[test]
fn our_images_pass_the_oci_rules() {
    let f = check_oci(&table(), "arm64-musl", &image("arm64"));
    assert!(f.failures.is_empty(), "{:?}", f.failures);
}

#[test]
fn a_wrong_digest_is_rejected() {
    let mut files = image("arm64");
    let layer = files
        .keys()
        .find(|k| k.starts_with("blobs/"))
        .expect("blob")
        .clone();
    files.get_mut(&layer).expect("blob").push(0);
    let f = check_oci(&table(), "arm64-musl", &files);
    assert!(f.has("oci-digest"), "{:?}", f.failures);
}

#[test]
fn a_wrong_diff_id_is_rejected() {
    let mut files = image("arm64");
    edit_config(&mut files, |c| {
        c["rootfs"]["diff_ids"][0] = format!("sha256:{}", "0".repeat(64)).into();
    });
    let f = check_oci(&table(), "arm64-musl", &files);
    assert!(f.has("oci-diff-id"), "{:?}", f.failures);
    assert!(
        !f.has("oci-digest"),
        "only the diff_id is wrong: {:?}",
        f.failures
    );
}

#[test]
fn a_wrong_architecture_is_rejected() {
    let mut files = image("arm64");
    edit_config(&mut files, |c| c["architecture"] = "amd64".into());
    let f = check_oci(&table(), "arm64-musl", &files);
    let a = f
        .failures
        .iter()
        .find(|x| x.rule == "oci-architecture")
        .expect("arch reported");
    assert!(
        a.detail.contains("amd64") && a.detail.contains("arm64"),
        "{a}"
    );
    assert!(!f.has("oci-digest"));
}

#[test]
fn multi_manifest_indexes_are_rejected() {
    let mut files = image("arm64");
    let mut index = json_of(&files, "index.json");
    let first = index["manifests"][0].clone();
    index["manifests"] = serde_json::json!([first.clone(), first]);
    files.insert(
        "index.json".into(),
        serde_json::to_vec(&index).expect("json"),
    );
    assert!(check_oci(&table(), "arm64-musl", &files).has("oci-single-manifest"));
}
