//! Evaluation tests of the flake. No machine that runs them can fetch nixpkgs, crane or
//! fenix, nor build with Nix, so the flake is evaluated with the test doubles under
//! `tests/nix/` (`--override-input`), which record what the flake asks of them, and the
//! tests check those records: output names, build environments (against
//! `xtask build-env`), the xtask invocations of artifacts and checks, the toolchain
//! assertion, `nix flake show` / `nix flake check --no-build`, and flake.lock against the
//! pins in `../shared/PINS.md`.
//!
//! Needs the `nix` CLI (Debian's `nix-bin` is enough: evaluation only, Nix >= 2.8). The
//! commands get `NIX_CONFIG` with the flakes feature and no registry or substituter, so
//! nothing touches the network. `THAW_NIX_STORE`, if set, is passed as `--store` (for a
//! user that cannot write /nix/store: e.g. `THAW_NIX_STORE=$HOME/.cache/thaw-nix`).

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The Linux build systems every output must exist for; darwin must evaluate too.
const LINUX_SYSTEMS: [&str; 2] = ["x86_64-linux", "aarch64-linux"];
const ALL_SYSTEMS: [&str; 3] = ["x86_64-linux", "aarch64-linux", "aarch64-darwin"];
/// The flake inputs and the directory of their test doubles (`rust-manifest` is written
/// by the fixture).
const FAKE_INPUTS: [(&str, &str); 4] = [
    ("nixpkgs", "fake-nixpkgs"),
    ("crane", "fake-crane"),
    ("fenix", "fake-fenix"),
    ("advisory-db", "fake-advisory-db"),
];
const UNIT_SEPARATOR: char = '\u{1f}';

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ has a parent")
        .to_path_buf()
}

// ---------------------------------------------------------------------------------------
// The target table and the binaries, read independently of the Nix code.

struct Table {
    raw: toml::Table,
}

impl Table {
    fn load() -> Self {
        let path = workspace_root().join("nix/targets.toml");
        let text = fs::read_to_string(&path).expect("nix/targets.toml is readable");
        Self {
            raw: text.parse().expect("nix/targets.toml is TOML"),
        }
    }

    fn targets(&self) -> &toml::Table {
        self.raw["target"].as_table().expect("[target.*] tables")
    }

    fn keys(&self) -> Vec<String> {
        self.targets().keys().cloned().collect()
    }

    fn field(&self, key: &str, field: &str) -> Option<String> {
        self.targets()[key]
            .get(field)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    }

    fn is_musl(&self, key: &str) -> bool {
        self.field(key, "libc").as_deref() == Some("musl")
    }
}

/// Functions and extensions of package `thaw`, as cargo itself sees them.
struct Bins {
    functions: Vec<String>,
    extensions: Vec<String>,
}

impl Bins {
    fn load() -> Self {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let output = Command::new(cargo)
            .args([
                "metadata",
                "--no-deps",
                "--format-version",
                "1",
                "--offline",
            ])
            .current_dir(workspace_root())
            .output()
            .expect("cargo metadata runs");
        assert!(output.status.success(), "cargo metadata failed: {output:?}");
        let metadata: Value =
            serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON");
        let package = metadata["packages"]
            .as_array()
            .expect("packages")
            .iter()
            .find(|p| p["name"] == "thaw")
            .expect("package thaw");
        let extensions: Vec<String> = package["metadata"]["thaw"]["extensions"]
            .as_array()
            .expect("[package.metadata.thaw] extensions")
            .iter()
            .map(|e| e.as_str().expect("extension name").to_owned())
            .collect();
        let mut functions: Vec<String> = package["targets"]
            .as_array()
            .expect("targets")
            .iter()
            .filter(|t| {
                t["kind"]
                    .as_array()
                    .is_some_and(|k| k.contains(&"bin".into()))
            })
            .map(|t| t["name"].as_str().expect("target name").to_owned())
            .filter(|name| !extensions.contains(name))
            .collect();
        functions.sort();
        assert!(!functions.is_empty(), "thaw has at least one function");
        Self {
            functions,
            extensions,
        }
    }

    fn all(&self) -> BTreeSet<String> {
        self.functions
            .iter()
            .chain(&self.extensions)
            .cloned()
            .collect()
    }
}

// ---------------------------------------------------------------------------------------
// Running nix against a copy of the workspace with the test doubles.

struct Fixture {
    flake: PathBuf,
    manifest: PathBuf,
    mismatched_manifest: PathBuf,
}

/// A channel manifest in rustup's format with what the fake fenix reads: the Rust
/// version, the host components, and rust-std for every target of the table. Like the
/// real 1.95.0 manifest, it has host tools for the Linux build systems only.
fn write_manifest(path: &Path, version: &str, table: &Table) -> Result<()> {
    let mut text = format!(
        "manifest-version = \"2\"\ndate = \"2026-04-16\"\n\n[pkg.rust]\nversion = \"{version} (0000000 2026-04-14)\"\n"
    );
    for component in ["cargo", "rustc", "rust-std", "rustfmt", "clippy"] {
        for system in LINUX_SYSTEMS {
            text.push_str(&format!(
                "\n[pkg.{component}.target.host-{system}]\navailable = true\n"
            ));
        }
    }
    for key in table.keys() {
        let triple = table.field(&key, "rust_target").context("rust_target")?;
        text.push_str(&format!(
            "\n[pkg.rust-std.target.{triple}]\navailable = true\n"
        ));
    }
    fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// Copies the workspace as a plain directory (tracked or not, so the tests see the
/// working tree), without build output and without flake.lock: every input is overridden,
/// and Nix 2.8 cannot parse the lock's `file` entry (its lock is tested on its own).
fn copy_tree(from: &Path, to: &Path, top: bool) -> Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if top
            && (["target", ".git", "flake.lock"].contains(&name.as_ref())
                || name.starts_with("result"))
        {
            continue;
        }
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_tree(&entry.path(), &to.join(&*name), false)?;
        } else if kind.is_file() {
            fs::copy(entry.path(), to.join(&*name))?;
        }
    }
    Ok(())
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("nix-eval");
        if base.exists() {
            fs::remove_dir_all(&base).expect("removing the previous fixture");
        }
        let flake = base.join("flake");
        copy_tree(&workspace_root(), &flake, true).expect("copying the workspace");
        let table = Table::load();
        let manifest = base.join("channel-rust.toml");
        let mismatched_manifest = base.join("channel-rust-mismatched.toml");
        write_manifest(&manifest, &toolchain_channel(), &table).expect("manifest");
        write_manifest(&mismatched_manifest, "1.94.1", &table).expect("manifest");
        let fixture = Fixture {
            flake,
            manifest,
            mismatched_manifest,
        };
        // Instantiating once copies the filtered sources into the store: Nix 2.8's
        // `flake check --no-build` is read-only and could not do it itself.
        fixture
            .eval("packages.x86_64-linux.default.drvPath", None)
            .expect("the flake evaluates with the test doubles");
        fixture
    })
}

fn toolchain_channel() -> String {
    let text = fs::read_to_string(workspace_root().join("rust-toolchain.toml"))
        .expect("rust-toolchain.toml");
    let parsed: toml::Table = text.parse().expect("rust-toolchain.toml is TOML");
    parsed["toolchain"]["channel"]
        .as_str()
        .expect("toolchain.channel")
        .to_owned()
}

fn nix_command() -> Command {
    let mut command = Command::new("nix");
    command.env(
        "NIX_CONFIG",
        "experimental-features = nix-command flakes\n\
         flake-registry =\n\
         substituters =\n\
         warn-dirty = false\n",
    );
    if let Ok(store) = std::env::var("THAW_NIX_STORE") {
        command.args(["--store", &store]);
    }
    command
}

fn run(mut command: Command) -> Result<Output> {
    let output = command
        .output()
        .context("running nix (is the `nix` CLI installed? Debian: apt-get install nix-bin)")?;
    Ok(output)
}

fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

impl Fixture {
    fn flake_ref(&self, attr: &str) -> String {
        format!("path:{}#{attr}", self.flake.display())
    }

    fn override_args(&self, manifest: &Path) -> Vec<String> {
        let fakes = workspace_root().join("tests/nix");
        let mut args = vec!["--no-write-lock-file".to_owned()];
        for (input, dir) in FAKE_INPUTS {
            args.extend([
                "--override-input".to_owned(),
                input.to_owned(),
                format!("path:{}", fakes.join(dir).display()),
            ]);
        }
        args.extend([
            "--override-input".to_owned(),
            "rust-manifest".to_owned(),
            format!("path:{}", manifest.display()),
        ]);
        args
    }

    fn eval_with(&self, attr: &str, apply: Option<&str>, manifest: &Path) -> Result<Output> {
        let mut command = nix_command();
        command
            .args(["eval", "--json", &self.flake_ref(attr)])
            .args(self.override_args(manifest));
        if let Some(apply) = apply {
            command.args(["--apply", apply]);
        }
        run(command)
    }

    /// `nix eval --json FLAKE#attr [--apply F]` with the test doubles.
    fn eval(&self, attr: &str, apply: Option<&str>) -> Result<Value> {
        let output = self.eval_with(attr, apply, &self.manifest)?;
        ensure!(
            output.status.success(),
            "nix eval {attr} failed:\n{}",
            stderr_of(&output)
        );
        serde_json::from_slice(&output.stdout).with_context(|| format!("JSON of {attr}"))
    }

    /// `nix flake SUBCOMMAND FLAKE ARGS` with the test doubles.
    fn flake(&self, subcommand: &str, args: &[&str]) -> Result<Output> {
        let mut command = nix_command();
        command
            .args([
                "flake",
                subcommand,
                &format!("path:{}", self.flake.display()),
            ])
            .args(args)
            .args(self.override_args(&self.manifest));
        run(command)
    }
}

fn str_of<'a>(value: &'a Value, what: &str) -> &'a str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{what} is a string, got {value}"))
}

fn names(value: &Value) -> BTreeSet<String> {
    value
        .as_array()
        .expect("a list of names")
        .iter()
        .map(|v| str_of(v, "a name").to_owned())
        .collect()
}

// ---------------------------------------------------------------------------------------
// Outputs.

fn expected_packages(table: &Table, bins: &Bins) -> BTreeSet<String> {
    let mut expected = BTreeSet::from(["default".to_owned()]);
    for key in table.keys() {
        expected.insert(format!("layer-{key}"));
        expected.insert(format!("bins-{key}"));
        for function in &bins.functions {
            expected.insert(format!("{function}-{key}"));
            if table.is_musl(&key) {
                expected.insert(format!("image-{function}-{key}"));
                expected.insert(format!("image-{function}-with-extension-{key}"));
            }
        }
    }
    expected
}

fn expected_checks(table: &Table) -> BTreeSet<String> {
    let mut expected: BTreeSet<String> = ["fmt", "clippy", "tests", "audit"]
        .map(str::to_owned)
        .into();
    for key in table.keys() {
        expected.insert(format!("verify-{key}"));
        expected.insert(format!("reproducible-{key}"));
        expected.insert(format!("smoke-{key}"));
    }
    expected
}

#[test]
fn every_output_exists_for_every_build_system() {
    let fixture = fixture();
    let table = Table::load();
    let bins = Bins::load();
    let mut outputs = serde_json::Map::new();
    for output in ["packages", "checks", "devShells", "formatter", "apps"] {
        let value = fixture
            .eval(
                output,
                Some(
                    "o: builtins.mapAttrs (_: perSystem: if perSystem ? type then \
                     [ perSystem.type ] else builtins.mapAttrs (_: v: if v ? type then \
                     [ v.type ] else builtins.attrNames v) perSystem) o",
                ),
            )
            .unwrap_or_else(|e| panic!("{output} evaluates: {e:#}"));
        outputs.insert(output.to_owned(), value);
    }
    let outputs = Value::Object(outputs);
    for system in ALL_SYSTEMS {
        let packages: BTreeSet<String> = outputs["packages"][system]
            .as_object()
            .unwrap_or_else(|| panic!("packages.{system}"))
            .keys()
            .cloned()
            .collect();
        assert_eq!(
            packages,
            expected_packages(&table, &bins),
            "packages.{system}"
        );
        let checks: BTreeSet<String> = outputs["checks"][system]
            .as_object()
            .unwrap_or_else(|| panic!("checks.{system}"))
            .keys()
            .cloned()
            .collect();
        assert_eq!(checks, expected_checks(&table), "checks.{system}");
        assert_eq!(
            outputs["formatter"][system],
            serde_json::json!(["derivation"]),
            "formatter.{system}"
        );
    }
    for system in LINUX_SYSTEMS {
        assert!(
            outputs["devShells"][system]["default"].is_array(),
            "devShells.{system}.default"
        );
        for app in ["emulate", "bench"] {
            assert_eq!(
                outputs["apps"][system][app],
                serde_json::json!(["app"]),
                "apps.{system}.{app}"
            );
            let program = fixture
                .eval(&format!("apps.{system}.{app}.program"), None)
                .expect("the app's program evaluates");
            let script = fixture
                .eval(
                    &format!("apps.{system}.{app}"),
                    Some("a: builtins.head (builtins.match \"/nix/store/[^-]*-(.*)\" a.program)"),
                )
                .expect("program name");
            assert_eq!(script, format!("thaw-{app}").as_str(), "{program}");
        }
    }
}

/// The manifest has no cargo for darwin: a darwin host gets the outputs of the Linux
/// system with its CPU (buildable with a Linux remote builder), no shell or apps.
#[test]
fn a_host_without_rust_host_tools_gets_the_linux_outputs_of_its_cpu() {
    let fixture = fixture();
    let drv_paths = "ps: builtins.mapAttrs (_: p: p.drvPath) ps";
    for output in ["packages", "checks"] {
        let darwin = fixture
            .eval(&format!("{output}.aarch64-darwin"), Some(drv_paths))
            .expect("darwin evaluates");
        let linux = fixture
            .eval(&format!("{output}.aarch64-linux"), Some(drv_paths))
            .expect("linux evaluates");
        assert_eq!(darwin, linux, "{output}.aarch64-darwin");
    }
    for output in ["devShells", "apps"] {
        let darwin = fixture
            .eval(
                &format!("{output}.aarch64-darwin"),
                Some("builtins.attrNames"),
            )
            .expect("darwin evaluates");
        assert_eq!(darwin, serde_json::json!([]), "{output}.aarch64-darwin");
    }
}

#[test]
fn flake_show_and_check_succeed() {
    let fixture = fixture();
    let show = fixture.flake("show", &[]).expect("nix flake show runs");
    assert!(
        show.status.success(),
        "nix flake show failed:\n{}",
        stderr_of(&show)
    );
    let check = fixture
        .flake("check", &["--no-build"])
        .expect("nix flake check runs");
    assert!(
        check.status.success(),
        "nix flake check --no-build failed:\n{}",
        stderr_of(&check)
    );
}

// ---------------------------------------------------------------------------------------
// Builds: parity with `xtask build-env`.

/// The fields of a crane derivation that make up a cross build's environment.
const ENV_APPLY: &str = "d: let pick = drv: { inherit (drv) name buildPhaseCargoCommand \
     CARGO_BUILD_TARGET JEMALLOC_SYS_WITH_MALLOC_CONF SOURCE_DATE_EPOCH THAW_TARGET \
     THAW_ZIG_TARGET THAW_RUSTFLAGS THAW_REMAP_WORKSPACE THAW_REMAP_CARGO_HOME \
     THAW_REMAP_TARGET_DIR strictDeps doCheck; \
     cargoVendorDir = drv.cargoVendorDir.outPath; \
     tools = map (t: t.name) drv.nativeBuildInputs; }; \
     in { final = pick d // { inherit (d) installPhaseCommand dontFixup; \
     out = d.outPath; }; deps = pick d.cargoArtifacts; }";

fn xtask_build_env(key: &str) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["build-env", "--target", key])
        .current_dir(workspace_root())
        .output()
        .expect("xtask runs");
    assert!(
        output.status.success(),
        "xtask build-env --target {key} failed: {}",
        stderr_of(&output)
    );
    serde_json::from_slice(&output.stdout).expect("xtask build-env prints JSON")
}

#[test]
fn every_build_environment_equals_xtask_build_env() {
    let fixture = fixture();
    let table = Table::load();
    for system in LINUX_SYSTEMS {
        for key in table.keys() {
            let what = format!("packages.{system}.bins-{key}");
            let drv = fixture
                .eval(&what, Some(ENV_APPLY))
                .expect("the build evaluates");
            let xtask = xtask_build_env(&key);
            assert_eq!(xtask["key"], key.as_str());
            for part in ["final", "deps"] {
                let env = &drv[part];
                let at = format!("{what} ({part})");
                // Every variable xtask sets, with xtask's value.
                let vars = xtask["vars"].as_object().expect("vars");
                assert!(!vars.is_empty(), "xtask build-env sets variables");
                for (name, value) in vars {
                    assert_eq!(&env[name], value, "{at}: {name}");
                }
                assert_eq!(env["CARGO_BUILD_TARGET"], xtask["rust_target"], "{at}");
                assert_eq!(env["THAW_TARGET"], key.as_str(), "{at}");
                assert_eq!(env["THAW_ZIG_TARGET"], xtask["zig_target"], "{at}");
                let rustflags: Vec<&str> = str_of(&env["THAW_RUSTFLAGS"], "THAW_RUSTFLAGS")
                    .split(UNIT_SEPARATOR)
                    .collect();
                let expected: Vec<&str> = xtask["rustflags"]
                    .as_array()
                    .expect("rustflags")
                    .iter()
                    .map(|f| str_of(f, "a rustflag"))
                    .collect();
                assert_eq!(rustflags, expected, "{at}: rustflags");
                let shared = table.raw["shared"].as_table().expect("[shared]");
                for (var, field) in [
                    ("THAW_REMAP_WORKSPACE", "remap_workspace"),
                    ("THAW_REMAP_CARGO_HOME", "remap_cargo_home"),
                    ("THAW_REMAP_TARGET_DIR", "remap_target_dir"),
                ] {
                    assert_eq!(env[var].as_str(), shared[field].as_str(), "{at}: {var}");
                }
                // The command is `cargo xtask build`'s, through cargo-auditable.
                let command = str_of(&env["buildPhaseCargoCommand"], "command");
                assert!(
                    command.contains(
                        "cargo auditable zigbuild --release --locked --package thaw --bins \
                         --target \"$THAW_ZIG_TARGET\""
                    ),
                    "{at}: {command}"
                );
                assert!(
                    command.contains("CARGO_ENCODED_RUSTFLAGS=\"$THAW_RUSTFLAGS\""),
                    "{at}: the table's flags are the encoded rustflags"
                );
                for remapped in [
                    "\"$PWD\" \"$THAW_REMAP_WORKSPACE\"",
                    "\"$CARGO_HOME\" \"$THAW_REMAP_CARGO_HOME\"",
                    "\"$THAW_REMAP_TARGET_DIR\"",
                    "\"$cargoVendorDir\"",
                ] {
                    assert!(command.contains(remapped), "{at}: remaps {remapped}");
                }
                assert!(
                    command.contains("XDG_CACHE_HOME=\"$TMPDIR"),
                    "{at}: caches in $TMPDIR"
                );
                assert_eq!(env["strictDeps"], true, "{at}: strictDeps");
                assert_eq!(env["doCheck"], false, "{at}: cross builds run no tests");
                let tools = names(&env["tools"]);
                for tool in ["zig-fake", "cargo-zigbuild-fake", "cargo-auditable-fake"] {
                    assert!(tools.contains(tool), "{at}: {tool} in {tools:?}");
                }
                assert!(tools.contains("rust-mixed"), "{at}: thaw's toolchain");
            }
            // What decides cargo's fingerprints is identical in both, so deps stay cached.
            let strip = |v: &Value| {
                let mut v = v.clone();
                let map = v.as_object_mut().expect("object");
                for volatile in ["name", "installPhaseCommand", "dontFixup", "out"] {
                    map.remove(volatile);
                }
                v
            };
            assert_eq!(
                strip(&drv["final"]),
                strip(&drv["deps"]),
                "{what}: deps-only and final builds differ"
            );
            // The glibc floor: gnu targets pin the table's ceiling in the zig target.
            let zig_target = str_of(&xtask["zig_target"], "zig_target");
            match table.field(&key, "glibc_ceiling") {
                Some(ceiling) => assert!(
                    zig_target.ends_with(&format!(".{ceiling}")),
                    "{key}: {zig_target} pins glibc {ceiling}"
                ),
                None => assert_eq!(
                    Some(zig_target.to_owned()),
                    table.field(&key, "rust_target"),
                    "{key}: musl builds need no floor"
                ),
            }
            let install = str_of(&drv["final"]["installPhaseCommand"], "install");
            for bin in Bins::load().all() {
                assert!(install.contains(&bin), "{what}: installs {bin}");
            }
            assert_eq!(drv["final"]["dontFixup"], true, "{what}: no fixup");
        }
    }
}

#[test]
fn the_toolchain_comes_from_the_manifest_with_every_target() {
    let fixture = fixture();
    let table = Table::load();
    let toolchain = fixture
        .eval(
            "packages.x86_64-linux.bins-arm64",
            Some(
                "d: let t = builtins.elemAt d.nativeBuildInputs \
                 (builtins.length d.nativeBuildInputs - 1); in \
                 map (p: { inherit (p) component target rustVersion; }) t.paths",
            ),
        )
        .expect("the toolchain evaluates");
    let components: BTreeSet<(String, String)> = toolchain
        .as_array()
        .expect("components")
        .iter()
        .map(|c| {
            assert!(
                str_of(&c["rustVersion"], "version").starts_with(&toolchain_channel()),
                "{c}"
            );
            (
                str_of(&c["component"], "component").to_owned(),
                str_of(&c["target"], "target").to_owned(),
            )
        })
        .collect();
    for component in ["cargo", "rustc", "rust-std", "rustfmt", "clippy"] {
        assert!(
            components.contains(&(component.to_owned(), "host-x86_64-linux".to_owned())),
            "{component} in {components:?}"
        );
    }
    for key in table.keys() {
        let triple = table.field(&key, "rust_target").expect("rust_target");
        assert!(
            components.contains(&("rust-std".to_owned(), triple.clone())),
            "rust-std for {triple} in {components:?}"
        );
    }
}

#[test]
fn the_toolchain_assertion_fires_on_a_mismatched_manifest() {
    let fixture = fixture();
    let output = fixture
        .eval_with(
            "packages.x86_64-linux.bins-arm64.drvPath",
            None,
            &fixture.mismatched_manifest,
        )
        .expect("nix eval runs");
    assert!(
        !output.status.success(),
        "a 1.94.1 manifest must not evaluate"
    );
    let stderr = stderr_of(&output);
    let channel = toolchain_channel();
    assert!(
        stderr.contains(&format!(
            "the rust-manifest flake input is Rust 1.94.1, but rust-toolchain.toml pins channel {channel}"
        )),
        "unclear message:\n{stderr}"
    );
}

// ---------------------------------------------------------------------------------------
// Artifacts and checks run xtask.

/// buildCommand of a runCommand derivation.
fn build_command(fixture: &Fixture, attr: &str) -> String {
    let value = fixture
        .eval(attr, Some("d: d.buildCommand"))
        .expect("buildCommand evaluates");
    str_of(&value, attr).to_owned()
}

#[test]
fn artifacts_and_checks_run_xtask_with_the_right_arguments() {
    let fixture = fixture();
    let table = Table::load();
    let bins = Bins::load();
    for system in LINUX_SYSTEMS {
        // xtask runs on the build platform: crane's native build of package xtask.
        let xtask = fixture
            .eval(
                &format!("packages.{system}.layer-arm64"),
                Some(
                    "d: { inherit (d.artifacts.xtask) fakeCraneFunction cargoExtraArgs \
                     system doCheck; out = d.artifacts.xtask.outPath; \
                     target = d.artifacts.xtask.CARGO_BUILD_TARGET or null; }",
                ),
            )
            .expect("xtask evaluates");
        assert_eq!(xtask["fakeCraneFunction"], "buildPackage", "{xtask}");
        assert_eq!(
            xtask["cargoExtraArgs"], "--locked --package xtask",
            "{xtask}"
        );
        assert_eq!(xtask["system"], system, "{xtask}");
        assert_eq!(xtask["target"], Value::Null, "xtask is not cross compiled");
        let xtask_bin = format!("{}/bin/xtask", str_of(&xtask["out"], "xtask's out path"));
        for key in table.keys() {
            let bins_drv = fixture
                .eval(
                    &format!("packages.{system}.bins-{key}"),
                    Some("d: { inherit (d) src; out = d.outPath; }"),
                )
                .expect("bins evaluate");
            let bins_dir = format!("{}/bin", str_of(&bins_drv["out"], "out path"));
            // xtask runs inside the same workspace the binaries were built from.
            let in_workspace = format!(
                "(cd {} && CARGO_HOME=\"$TMPDIR/cargo-home\" {xtask_bin} ",
                str_of(&bins_drv["src"], "src")
            );
            let packaged = fixture
                .eval(
                    &format!("packages.{system}.layer-{key}"),
                    Some("d: { inherit (d.artifacts) buildCommand; out = d.artifacts.outPath; }"),
                )
                .expect("the packaged artifacts evaluate");
            let package = str_of(&packaged["buildCommand"], "package");
            assert!(
                package.contains(&format!(
                    "{in_workspace}package --target {key} --bins {bins_dir} --out \"$TMPDIR/artifacts\")"
                )) && package.contains("mv \"$TMPDIR/artifacts\" \"$out\""),
                "{system} {key}: {package}"
            );
            let packaged_out = str_of(&packaged["out"], "out path");
            let verify = build_command(fixture, &format!("checks.{system}.verify-{key}"));
            let mut expected: Vec<String> = bins
                .all()
                .iter()
                .map(|b| format!("{bins_dir}/{b}"))
                .collect();
            for extension in &bins.extensions {
                expected.push(format!("{packaged_out}/{extension}-{key}.zip"));
            }
            for function in &bins.functions {
                expected.push(format!("{packaged_out}/{function}-{key}.zip"));
                if table.is_musl(&key) {
                    for image in [
                        format!("image-{function}-{key}"),
                        format!("image-{function}-with-extension-{key}"),
                    ] {
                        expected.push(format!("{packaged_out}/{image}"));
                        expected.push(format!("{packaged_out}/{image}.tar"));
                    }
                }
            }
            let start = verify
                .find(&format!("{in_workspace}verify "))
                .unwrap_or_else(|| panic!("{system} verify-{key} runs xtask verify: {verify}"));
            let line = verify[start + in_workspace.len()..]
                .lines()
                .next()
                .expect("a line")
                .trim_end_matches(')');
            let args: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(args[..3], ["verify", "--target", key.as_str()], "{line}");
            let paths: BTreeSet<&str> = args[3..].iter().copied().collect();
            let expected: BTreeSet<&str> = expected.iter().map(String::as_str).collect();
            assert_eq!(paths, expected, "{system} verify-{key}");

            let smoke = build_command(fixture, &format!("checks.{system}.smoke-{key}"));
            assert!(
                smoke.contains(&format!(
                    "{in_workspace}smoke --target {key} --bins {bins_dir}"
                )),
                "{system} smoke-{key}: {smoke}"
            );
            assert_eq!(
                smoke.contains("--qemu-sysroot /nix/store/"),
                !table.is_musl(&key),
                "{system} smoke-{key}: glibc targets get a sysroot: {smoke}"
            );

            let repro = build_command(fixture, &format!("checks.{system}.reproducible-{key}"));
            assert_eq!(
                repro
                    .matches(&format!(
                        "{xtask_bin} package --target {key} --bins {bins_dir}"
                    ))
                    .count(),
                2,
                "{system} reproducible-{key} packages twice: {repro}"
            );
            assert!(
                repro.contains(&format!("diff -r \"$TMPDIR/one/out\" {packaged_out}"))
                    && repro.contains(
                        "diff -r \"$TMPDIR/one/out\" \"$TMPDIR/elsewhere/two/artifacts\""
                    ),
                "{system} reproducible-{key} compares both runs and the release: {repro}"
            );
            for dir in ["$TMPDIR/one/ws", "$TMPDIR/elsewhere/two/workspace"] {
                assert!(
                    repro.contains(&format!("(cd \"{dir}\" && ")),
                    "{system} reproducible-{key} packages from {dir}: {repro}"
                );
            }

            // User-facing outputs copy their files out of the packaged output.
            let layer = build_command(fixture, &format!("packages.{system}.layer-{key}"));
            for extension in &bins.extensions {
                assert!(
                    layer.contains(&format!("{packaged_out}/{extension}-{key}.zip")),
                    "{layer}"
                );
            }
            for function in &bins.functions {
                let zip = build_command(fixture, &format!("packages.{system}.{function}-{key}"));
                assert!(
                    zip.contains(&format!("{packaged_out}/{function}-{key}.zip")),
                    "{zip}"
                );
                if table.is_musl(&key) {
                    let image = build_command(
                        fixture,
                        &format!("packages.{system}.image-{function}-with-extension-{key}"),
                    );
                    assert!(
                        image.contains(&format!(
                            "{packaged_out}/image-{function}-with-extension-{key}.tar"
                        )),
                        "{image}"
                    );
                }
            }
        }
        let default = build_command(fixture, &format!("packages.{system}.default"));
        assert!(default.contains("SHA256SUMS"), "{default}");
        for key in table.keys() {
            let packaged = fixture
                .eval(
                    &format!("packages.{system}.layer-{key}"),
                    Some("d: d.artifacts.outPath"),
                )
                .expect("outPath");
            assert!(
                default.contains(str_of(&packaged, "outPath")),
                "{system} default holds {key}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// The target table is the only place target facts are written.

#[test]
fn nix_code_writes_no_target_fact_of_its_own() {
    let table = Table::load();
    let mut facts = BTreeSet::new();
    for key in table.keys() {
        for field in [
            "rust_target",
            "zig_target",
            "target_cpu",
            "loader",
            "qemu",
            "qemu_cpu",
            "qemu_sysroot",
        ] {
            if let Some(value) = table.field(&key, field) {
                facts.insert(value);
            }
        }
    }
    let shared = table.raw["shared"].as_table().expect("[shared]");
    facts.insert(
        shared["jemalloc_malloc_conf"]
            .as_str()
            .expect("conf")
            .to_owned(),
    );
    for libc in table.raw["libc"].as_table().expect("[libc]").values() {
        for flag in libc["rustflags"].as_array().expect("rustflags") {
            let flag = flag.as_str().expect("flag");
            if flag != "-C" {
                facts.insert(flag.to_owned());
            }
        }
    }
    let root = workspace_root();
    let mut files = vec![root.join("flake.nix")];
    let mut dirs = vec![root.join("nix")];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).expect("nix/ is readable") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "nix") {
                files.push(path);
            }
        }
    }
    for file in files {
        let text = fs::read_to_string(&file).expect("readable");
        for fact in &facts {
            assert!(
                !text.contains(&format!("\"{fact}\"")) && !text.contains(&format!(" {fact} ")),
                "{} writes `{fact}`: that belongs in nix/targets.toml only",
                file.display()
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// flake.lock against ../shared/PINS.md, and against flake.nix's inputs.

#[derive(Debug)]
struct Pin {
    kind: String,
    owner_repo_or_url: String,
    original_ref: Option<String>,
    rev: Option<String>,
    last_modified: Option<u64>,
    nar_hash: String,
}

fn dash_is_none(cell: &str) -> Option<String> {
    let cell = cell.trim();
    (!cell.is_empty() && cell != "—" && cell != "-" && !cell.starts_with('('))
        .then(|| cell.to_owned())
}

fn pins() -> Result<BTreeMap<String, Pin>> {
    let path = workspace_root().join("../shared/PINS.md");
    let text = fs::read_to_string(&path).with_context(|| {
        format!(
            "flake.lock is checked against {}: the pins table must be there \
             (the shared/ directory beside this checkout)",
            path.display()
        )
    })?;
    let mut pins = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        if cells.len() != 6 || cells[0] == "input" || cells[0].starts_with("---") {
            continue;
        }
        // "fenix → rust-analyzer-src (flake = false)" names the node rust-analyzer-src.
        let input = cells[0].rsplit("→ ").next().unwrap_or(cells[0]);
        let name = input.split_whitespace().next().context("input name")?;
        let (kind, where_) = cells[1].split_once(' ').context("type and source")?;
        pins.insert(
            name.to_owned(),
            Pin {
                kind: kind.to_owned(),
                owner_repo_or_url: where_.trim().to_owned(),
                original_ref: dash_is_none(cells[2]),
                rev: dash_is_none(cells[3]),
                last_modified: dash_is_none(cells[4]).map(|s| s.parse()).transpose()?,
                nar_hash: cells[5].to_owned(),
            },
        );
    }
    if pins.is_empty() {
        bail!("no pins table found in {}", path.display());
    }
    Ok(pins)
}

/// The `original` lock entry a flake.nix input URL stands for.
fn original_of(url: &str, kind: Option<&str>) -> Value {
    if let Some(rest) = url.strip_prefix("github:") {
        let parts: Vec<&str> = rest.split('/').collect();
        let mut original = serde_json::json!({
            "type": "github", "owner": parts[0], "repo": parts[1],
        });
        if let Some(reference) = parts.get(2) {
            original["ref"] = (*reference).into();
        }
        original
    } else {
        serde_json::json!({ "type": kind.unwrap_or("file"), "url": url })
    }
}

#[test]
fn flake_lock_matches_the_pins_and_flake_nix() {
    let pins = pins().expect("../shared/PINS.md");
    let root = workspace_root();
    let lock: Value = serde_json::from_str(
        &fs::read_to_string(root.join("flake.lock")).expect("flake.lock is readable"),
    )
    .expect("flake.lock is JSON");
    assert_eq!(lock["version"], 7);
    assert_eq!(lock["root"], "root");
    let nodes = lock["nodes"].as_object().expect("nodes");
    let expected_nodes: BTreeSet<String> = pins.keys().cloned().chain(["root".into()]).collect();
    assert_eq!(
        nodes.keys().cloned().collect::<BTreeSet<_>>(),
        expected_nodes
    );

    for (name, pin) in &pins {
        let node = &nodes[name];
        let locked = &node["locked"];
        assert_eq!(locked["type"], pin.kind.as_str(), "{name}");
        assert_eq!(locked["narHash"], pin.nar_hash.as_str(), "{name}");
        match pin.kind.as_str() {
            "github" => {
                let (owner, repo) = pin.owner_repo_or_url.split_once('/').expect("owner/repo");
                for field in [locked, &node["original"]] {
                    assert_eq!(field["owner"], owner, "{name}");
                    assert_eq!(field["repo"], repo, "{name}");
                    assert_eq!(field["type"], "github", "{name}");
                }
                assert_eq!(locked["rev"].as_str(), pin.rev.as_deref(), "{name}");
                assert_eq!(locked["lastModified"].as_u64(), pin.last_modified, "{name}");
                assert_eq!(
                    node["original"]["ref"].as_str(),
                    pin.original_ref.as_deref(),
                    "{name}: original keeps the branch"
                );
            }
            "file" => {
                assert_eq!(locked["url"], pin.owner_repo_or_url.as_str(), "{name}");
                assert_eq!(node["original"]["url"], pin.owner_repo_or_url.as_str());
            }
            other => panic!("{name}: unexpected pin type {other}"),
        }
    }
    for not_a_flake in ["advisory-db", "rust-manifest", "rust-analyzer-src"] {
        assert_eq!(nodes[not_a_flake]["flake"], false, "{not_a_flake}");
    }
    assert_eq!(
        nodes["fenix"]["inputs"],
        serde_json::json!({ "nixpkgs": ["nixpkgs"], "rust-analyzer-src": "rust-analyzer-src" }),
        "fenix's nixpkgs follows ours"
    );

    // Each root input's `original` is what flake.nix asks for (else Nix re-locks).
    let mut command = nix_command();
    command.args([
        "eval",
        "--json",
        "--impure",
        "--expr",
        &format!(
            "builtins.mapAttrs (_: i: {{ url = i.url; type = i.type or null; \
             follows = i.inputs.nixpkgs.follows or null; }}) (import {}).inputs",
            root.join("flake.nix").display()
        ),
    ]);
    let output = run(command).expect("nix eval runs");
    assert!(output.status.success(), "{}", stderr_of(&output));
    let inputs: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let root_inputs = nodes["root"]["inputs"].as_object().expect("root inputs");
    assert_eq!(
        root_inputs.keys().collect::<BTreeSet<_>>(),
        inputs
            .as_object()
            .expect("inputs")
            .keys()
            .collect::<BTreeSet<_>>()
    );
    for (name, input) in inputs.as_object().expect("inputs") {
        let node = str_of(&root_inputs[name], "node name");
        assert_eq!(
            nodes[node]["original"],
            original_of(str_of(&input["url"], "url"), input["type"].as_str()),
            "{name}: flake.nix and flake.lock disagree"
        );
    }
    assert_eq!(inputs["fenix"]["follows"], "nixpkgs");
}
