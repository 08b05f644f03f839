# The part of a nixpkgs package set thaw's flake uses, for one system. Every derivation
# is a real `derivation` (so it has a drvPath and `nix flake check --no-build` accepts
# it) whose environment holds the arguments it was given; its builder only fails.
{ system }:
let
  isLinux = builtins.match ".*-linux" system != null;
  isDarwin = builtins.match ".*-darwin" system != null;
  platform = {
    inherit system isLinux isDarwin;
  };

  # What `derivation` accepts as an attribute value.
  isCoercible =
    value:
    builtins.isString value
    || builtins.isPath value
    || builtins.isBool value
    || builtins.isInt value
    || value == null
    || (builtins.isAttrs value && value ? outPath)
    || (builtins.isList value && builtins.all isCoercible value);

  keepCoercible =
    attrs:
    builtins.removeAttrs attrs (builtins.filter (name: !isCoercible attrs.${name}) (builtins.attrNames attrs));

  # Like stdenv.mkDerivation: `env` becomes variables (and must not repeat an argument,
  # nor hold lists or attribute sets), `passthru` and `meta` stay out of the derivation.
  mkDerivation =
    args:
    let
      name = args.name or "${args.pname}-${args.version or "0"}";
      env = args.env or { };
      plain = builtins.removeAttrs args [
        "env"
        "passthru"
        "meta"
        "name"
      ];
      clashes = builtins.filter (var: plain ? ${var}) (builtins.attrNames env);
      badEnv = builtins.filter (
        var:
        let
          value = env.${var};
        in
        !(builtins.isString value || builtins.isInt value || builtins.isBool value || value ? outPath)
      ) (builtins.attrNames env);
      drv = derivation (
        keepCoercible plain
        // env
        // {
          inherit name system;
          builder = "/bin/sh";
          args = [
            "-c"
            "echo 'fake nixpkgs: ${name} cannot be built' >&2; exit 1"
          ];
        }
      );
    in
    if clashes != [ ] then
      throw "fake nixpkgs: ${name}: env repeats derivation arguments: ${toString clashes}"
    else if badEnv != [ ] then
      throw "fake nixpkgs: ${name}: env values must be strings, numbers, booleans or derivations: ${toString badEnv}"
    else
      drv
      // (args.passthru or { })
      // {
        meta = args.meta or { };
        passthru = args.passthru or { };
      };

  tool =
    pname:
    mkDerivation {
      inherit pname;
      version = "fake";
    };
in
{
  inherit system;

  stdenv = {
    inherit mkDerivation;
    hostPlatform = platform;
    buildPlatform = platform;
  };

  runCommand =
    name: env: buildCommand:
    mkDerivation (env // { inherit name buildCommand; });

  writeShellScript =
    name: text:
    mkDerivation {
      inherit name text;
      fakeKind = "writeShellScript";
    };

  mkShell =
    args:
    mkDerivation (
      builtins.removeAttrs args [ "packages" ]
      // {
        name = args.name or "nix-shell";
        nativeBuildInputs = (args.nativeBuildInputs or [ ]) ++ (args.packages or [ ]);
      }
    );

  zig = tool "zig";
  cargo-zigbuild = tool "cargo-zigbuild";
  cargo-auditable = tool "cargo-auditable";
  cargo-nextest = tool "cargo-nextest";
  cargo-audit = tool "cargo-audit";
  skopeo = tool "skopeo";
  nixfmt = tool "nixfmt";
  nixfmt-tree = tool "nixfmt-tree";
  glibc = tool "glibc";
  # Like the real one: qemu's user-mode emulators exist for Linux only.
  qemu-user = if isLinux then tool "qemu-user" else throw "fake nixpkgs: qemu-user is not available on ${system}";
}
