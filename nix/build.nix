# Cargo builds with crane: the Lambda binaries of every target of the table (cross
# compiled with cargo-zigbuild + zig, like `cargo xtask build`), and xtask for the build
# platform (it packages, verifies and smoke-tests what the cross builds produce).
#
# Inputs:
#   pkgs       nixpkgs for the build platform (zig, cargo-zigbuild, cargo-auditable)
#   craneLib   crane, with thaw's toolchain (./toolchain.nix)
#   src        the Cargo workspace (./lib/source.nix)
#   table      the result of ./lib/table.nix
#   workspace  the result of ./lib/workspace.nix (the binaries to install)
#
# Returns:
#   common     arguments every native crane derivation shares (checks reuse them)
#   nativeDeps the workspace's dependencies built for the build platform, with tests
#   xtask      the xtask binary for the build platform
#   targets    key -> { env, deps, bins }: `bins` has $out/bin/NAME for every binary
{
  pkgs,
  craneLib,
  src,
  table,
  workspace,
}:
let
  genAttrs = import ./lib/genAttrs.nix;
  buildEnvFor = import ./lib/buildEnv.nix table;

  # One vendored dependency set for every build: the same path in deps-only and final
  # builds keeps their remap flags, hence cargo's fingerprints, identical.
  cargoVendorDir = craneLib.vendorCargoDeps { inherit src; };

  common = {
    inherit src cargoVendorDir;
    strictDeps = true;
  };

  nativeDeps = craneLib.buildDepsOnly (
    common
    // {
      pname = "thaw-workspace";
      cargoExtraArgs = "--locked --workspace";
    }
  );

  xtask = craneLib.buildPackage (
    common
    // {
      pname = "xtask";
      cargoArtifacts = nativeDeps;
      cargoExtraArgs = "--locked --package xtask";
      doCheck = false;
      meta.mainProgram = "xtask";
    }
  );

  # CARGO_ENCODED_RUSTFLAGS separator (paths may hold spaces), as in xtask.
  unitSeparator = builtins.fromJSON ''"\u001f"'';

  # Variables of a cross build, set identically on its deps-only and final derivations.
  envFor =
    key:
    let
      buildEnv = buildEnvFor key;
    in
    buildEnv.vars
    // {
      THAW_TARGET = key;
      THAW_ZIG_TARGET = buildEnv.zig_target;
      THAW_RUSTFLAGS = builtins.concatStringsSep unitSeparator buildEnv.rustflags;
      THAW_REMAP_WORKSPACE = table.shared.remap_workspace;
      THAW_REMAP_CARGO_HOME = table.shared.remap_cargo_home;
      THAW_REMAP_TARGET_DIR = table.shared.remap_target_dir;
    };

  # The build command, the same text in the deps-only and the final derivation. It is
  # `cargo xtask build`'s invocation: the table's rustflags, then path remaps (rustc uses
  # the last matching one, so the more specific directories come later), zig's and
  # cargo-zigbuild's caches in $TMPDIR, and cargo-auditable to embed the dependency list.
  # No /nix/store path may reach a binary (`xtask verify` rejects it): vendored crates
  # live in the store, so their directory is remapped too.
  cargoCommand = ''
    export XDG_CACHE_HOME="$TMPDIR/xdg-cache"
    export ZIG_GLOBAL_CACHE_DIR="$XDG_CACHE_HOME/zig"
    mkdir -p "$ZIG_GLOBAL_CACHE_DIR"
    thawRemap() {
      CARGO_ENCODED_RUSTFLAGS="$CARGO_ENCODED_RUSTFLAGS"$'\x1f'"--remap-path-prefix=$1=$2"
    }
    CARGO_ENCODED_RUSTFLAGS="$THAW_RUSTFLAGS"
    thawRemap "${builtins.storeDir}" "$THAW_REMAP_CARGO_HOME/nix-store"
    thawRemap "$cargoVendorDir" "$THAW_REMAP_CARGO_HOME/vendor"
    thawRemap "$PWD" "$THAW_REMAP_WORKSPACE"
    thawRemap "$CARGO_HOME" "$THAW_REMAP_CARGO_HOME"
    thawRemap "''${CARGO_TARGET_DIR:-$PWD/target}" "$THAW_REMAP_TARGET_DIR"
    export CARGO_ENCODED_RUSTFLAGS
    cargo auditable zigbuild --release --locked --package thaw --bins --target "$THAW_ZIG_TARGET"
  '';

  installBins = ''
    mkdir -p "$out/bin"
    for bin in ${toString workspace.bins}; do
      install -m 0755 "''${CARGO_TARGET_DIR:-target}/$CARGO_BUILD_TARGET/release/$bin" "$out/bin/$bin"
    done
  '';

  crossFor =
    key:
    let
      env = envFor key;
      args = common // {
        pname = "thaw-${key}";
        inherit env;
        nativeBuildInputs = [
          pkgs.zig
          pkgs.cargo-zigbuild
          pkgs.cargo-auditable
        ];
        # Cross builds: the test binaries cannot run here (the qemu smoke check runs them).
        doCheck = false;
        buildPhaseCargoCommand = cargoCommand;
        # The path remaps above replace crane's own.
        doRemapPathPrefix = false;
      };
      deps = craneLib.buildDepsOnly args;
    in
    {
      inherit env deps;
      bins = craneLib.buildPackage (
        args
        // {
          cargoArtifacts = deps;
          doInstallCargoArtifacts = false;
          installPhaseCommand = installBins;
          # Foreign-architecture, already stripped, static or glibc-floor binaries: no
          # patchelf, no host strip, no store-path rewriting (verify checks the result).
          dontFixup = true;
          passthru = {
            thawKey = key;
            thawBins = workspace.bins;
          };
        }
      );
    };
in
{
  inherit common nativeDeps xtask;
  targets = genAttrs table.keys crossFor;
}
