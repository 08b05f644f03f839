# `nix flake check`: the code checks of the Cargo workspace and the release checks of
# every artifact, each a derivation that succeeds only if its check passes.
#
# Inputs:
#   pkgs        nixpkgs for the build platform
#   pkgsFor     system -> nixpkgs for that system (a target's glibc, as qemu's sysroot)
#   craneLib    crane with thaw's toolchain
#   toolchain   thaw's toolchain (xtask reads `cargo metadata`)
#   table       the result of ./lib/table.nix
#   build       the result of ./build.nix
#   artifacts   the result of ./artifacts.nix
#   advisory-db the RustSec advisory database (flake input)
#
# Returns name -> derivation:
#   fmt, clippy (-D warnings), tests (nextest), audit (cargo-audit, offline)
#   verify-KEY        `xtask verify` on every binary and artifact of KEY
#   smoke-KEY         `xtask smoke` under qemu-user with the table's CPU model (Linux
#                     build hosts; glibc targets get that system's glibc as sysroot)
#   reproducible-KEY  `xtask package` twice in different directories: identical bytes,
#                     and identical to the packaged output
{
  pkgs,
  pkgsFor,
  craneLib,
  toolchain,
  table,
  build,
  artifacts,
  advisory-db,
}:
let
  mergeAttrsList = import ./lib/mergeAttrsList.nix;
  xtaskIn = import ./lib/xtaskIn.nix build.xtask;
  inWorkspace = xtaskIn build.common.src;
  binsOf = key: "${build.targets.${key}.bins}/bin";
  native = build.common // {
    pname = "thaw-workspace";
    cargoArtifacts = build.nativeDeps;
  };

  perKey =
    prefix: f:
    builtins.listToAttrs (
      map (key: {
        name = "${prefix}-${key}";
        value = f key;
      }) table.keys
    );

  verify =
    key:
    let
      paths =
        map (bin: "${binsOf key}/${bin}") build.targets.${key}.bins.thawBins
        ++ map (file: "${artifacts.packaged.${key}}/${file}") (artifacts.filesOf key);
    in
    pkgs.runCommand "thaw-verify-${key}"
      {
        strictDeps = true;
        nativeBuildInputs = [ toolchain ];
      }
      ''
        ${inWorkspace "verify --target ${key} ${toString paths}"}
        touch "$out"
      '';

  # qemu's -L directory for a glibc target: the target system's glibc, where the
  # binaries' loader (/lib/ld-linux-*.so.* or /lib64/...) and libc are found.
  sysroot =
    key:
    let
      glibc = (pkgsFor table.targets.${key}.nix_system).glibc;
    in
    pkgs.runCommand "thaw-sysroot-${key}" { strictDeps = true; } ''
      mkdir -p "$out"
      ln -s ${glibc}/lib "$out/lib"
      ln -s ${glibc}/lib "$out/lib64"
    '';

  smoke =
    key:
    let
      sysrootArgs =
        if table.targets.${key}.libc == "gnu" then "--qemu-sysroot ${sysroot key}" else "";
    in
    pkgs.runCommand "thaw-smoke-${key}"
      {
        strictDeps = true;
        nativeBuildInputs = [
          toolchain
          pkgs.qemu-user
        ];
      }
      ''
        ${inWorkspace "smoke --target ${key} --bins ${binsOf key} ${sysrootArgs}"}
        touch "$out"
      '';

  # Two packagings from two copies of the workspace in different directories.
  reproducible =
    key:
    let
      packageIn =
        dir: out:
        xtaskIn ''"${dir}"'' ''package --target ${key} --bins ${binsOf key} --out "${out}"'';
    in
    pkgs.runCommand "thaw-reproducible-${key}"
      {
        strictDeps = true;
        nativeBuildInputs = [ toolchain ];
      }
      ''
        mkdir -p "$TMPDIR/one" "$TMPDIR/elsewhere/two"
        cp -R ${build.common.src} "$TMPDIR/one/ws"
        cp -R ${build.common.src} "$TMPDIR/elsewhere/two/workspace"
        chmod -R u+w "$TMPDIR/one" "$TMPDIR/elsewhere"
        ${packageIn "$TMPDIR/one/ws" "$TMPDIR/one/out"}
        ${packageIn "$TMPDIR/elsewhere/two/workspace" "$TMPDIR/elsewhere/two/artifacts"}
        diff -r "$TMPDIR/one/out" "$TMPDIR/elsewhere/two/artifacts"
        diff -r "$TMPDIR/one/out" ${artifacts.packaged.${key}}
        touch "$out"
      '';

  code = {
    fmt = craneLib.cargoFmt {
      inherit (build.common) src;
      pname = "thaw-workspace";
    };

    clippy = craneLib.cargoClippy (
      native
      // {
        cargoClippyExtraArgs = "--workspace --all-targets -- --deny warnings";
      }
    );

    # The Nix evaluation tests need the nix CLI and run outside the sandbox (.ci/run).
    tests = craneLib.cargoNextest (
      native
      // {
        cargoNextestExtraArgs = "--workspace --no-tests=warn -E 'not binary(nix_eval)'";
      }
    );

    audit = craneLib.cargoAudit {
      inherit (build.common) src;
      inherit advisory-db;
      pname = "thaw";
    };
  };
in
mergeAttrsList [
  code
  (perKey "verify" verify)
  (perKey "reproducible" reproducible)
  (if pkgs.stdenv.hostPlatform.isLinux then perKey "smoke" smoke else { })
]
