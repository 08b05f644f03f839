# crane's interface as thaw uses it. Each builder returns a fake-nixpkgs derivation whose
# environment holds the caller's arguments, the build command crane would run, and
# `fakeCraneFunction` (which crane function made it).
{
  pkgs,
  toolchain ? null,
}:
let
  withToolchain =
    if toolchain == null then
      throw "fake crane: build functions were called before overrideToolchain (thaw must build with its own toolchain)"
    else
      toolchain;

  crateName =
    args:
    let
      manifest = builtins.fromTOML (builtins.readFile (args.src + "/Cargo.toml"));
    in
    {
      pname = args.pname or manifest.package.name;
      version = args.version or manifest.package.version or "0.0.0";
    };

  requireSrc =
    function: args:
    if args ? src then args.src else throw "fake crane: ${function} needs `src`";

  vendorCargoDeps =
    args:
    let
      src = requireSrc "vendorCargoDeps" args;
      lockFile = src + "/Cargo.lock";
    in
    if builtins.pathExists lockFile then
      pkgs.runCommand "vendor-cargo-deps" {
        inherit lockFile;
        fakeCraneFunction = "vendorCargoDeps";
      } "exit 1"
    else
      throw "fake crane: vendorCargoDeps: no Cargo.lock in ${toString src}";

  mkCargoDerivation =
    function: args:
    let
      name = crateName args;
    in
    pkgs.stdenv.mkDerivation (
      builtins.removeAttrs args [ "pnameSuffix" ]
      // {
        pname = name.pname + (args.pnameSuffix or "");
        inherit (name) version;
        fakeCraneFunction = function;
        cargoVendorDir = args.cargoVendorDir or (vendorCargoDeps args);
        nativeBuildInputs = (args.nativeBuildInputs or [ ]) ++ [ withToolchain ];
      }
    );

  requireArtifacts =
    function: args:
    if args ? cargoArtifacts then
      args.cargoArtifacts
    else
      throw "fake crane: ${function} needs `cargoArtifacts`";

  buildDepsOnly =
    args:
    mkCargoDerivation "buildDepsOnly" (
      args
      // {
        pnameSuffix = "-deps";
        cargoArtifacts = null;
        buildPhaseCargoCommand =
          args.buildPhaseCargoCommand
            or "cargoWithProfile build ${args.cargoExtraArgs or "--locked"} ${args.cargoBuildExtraArgs or ""}";
        env = (args.env or { }) // {
          CRANE_BUILD_DEPS_ONLY = "1";
        };
      }
    );

  buildPackage =
    args:
    mkCargoDerivation "buildPackage" (
      args
      // {
        cargoArtifacts = args.cargoArtifacts or (buildDepsOnly args);
        buildPhaseCargoCommand =
          args.buildPhaseCargoCommand
            or "cargoWithProfile build ${args.cargoExtraArgs or "--locked"} ${args.cargoBuildExtraArgs or ""}";
      }
    );
in
{
  inherit vendorCargoDeps buildDepsOnly buildPackage;

  overrideToolchain =
    chosen:
    import ./lib.nix {
      inherit pkgs;
      toolchain = if builtins.isFunction chosen then chosen pkgs else chosen;
    };

  cargoFmt =
    args:
    mkCargoDerivation "cargoFmt" (
      args
      // {
        pnameSuffix = "-fmt";
        cargoArtifacts = null;
        cargoVendorDir = null;
        buildPhaseCargoCommand = "cargo fmt ${args.cargoExtraArgs or ""} -- --check ${args.rustFmtExtraArgs or ""}";
      }
    );

  cargoClippy =
    args:
    mkCargoDerivation "cargoClippy" (
      args
      // {
        pnameSuffix = "-clippy";
        cargoArtifacts = requireArtifacts "cargoClippy" args;
        buildPhaseCargoCommand = "cargoWithProfile clippy ${args.cargoExtraArgs or "--locked"} ${
          args.cargoClippyExtraArgs or "--all-targets"
        }";
      }
    );

  cargoNextest =
    args:
    mkCargoDerivation "cargoNextest" (
      args
      // {
        pnameSuffix = "-nextest";
        cargoArtifacts = requireArtifacts "cargoNextest" args;
        nativeBuildInputs = (args.nativeBuildInputs or [ ]) ++ [ pkgs.cargo-nextest ];
        buildPhaseCargoCommand = "cargo nextest run ${args.cargoExtraArgs or ""} ${args.cargoNextestExtraArgs or ""}";
      }
    );

  cargoAudit =
    args:
    let
      db = if args ? advisory-db then args.advisory-db else throw "fake crane: cargoAudit needs `advisory-db`";
    in
    mkCargoDerivation "cargoAudit" (
      builtins.removeAttrs args [ "advisory-db" ]
      // {
        pnameSuffix = "-audit";
        cargoArtifacts = null;
        cargoVendorDir = null;
        nativeBuildInputs = (args.nativeBuildInputs or [ ]) ++ [ pkgs.cargo-audit ];
        buildPhaseCargoCommand = "cargo audit -n -d ${db} ${args.cargoAuditExtraArgs or "--ignore yanked"}";
      }
    );
}
