# The Rust toolchain, from the exact rustup channel manifest pinned as the `rust-manifest`
# flake input (fenix `fromManifestFile`: no import-from-derivation), with `rust-std` for
# every target of the table.
#
# Inputs:
#   fenix          fenix.packages.<build system>
#   manifest       the rust-manifest input (channel-rust-X.Y.Z.toml)
#   toolchainFile  rust-toolchain.toml: its channel must be the manifest's version, its
#                  components are added to the minimal profile (cargo, rustc, rust-std)
#   table          the result of ./lib/table.nix
#
# Returns:
#   missing    the host components the manifest lacks for this build platform (the
#              channel may ship no host tools for it); `toolchain` is usable only if empty
#   toolchain  cargo, rustc, rust-std and rust-toolchain.toml's components for the build
#              platform, plus rust-std of every table target, combined
#
# Forcing `toolchain` fails with a message naming both versions if the manifest is not the
# channel rust-toolchain.toml asks for, or if the two files disagree on the target list.
{
  fenix,
  manifest,
  toolchainFile,
  table,
}:
let
  wanted = (builtins.fromTOML (builtins.readFile toolchainFile)).toolchain;
  version = import ./lib/manifestVersion.nix manifest;
  host = fenix.fromManifestFile manifest;
  components = [
    "cargo"
    "rustc"
    "rust-std"
  ]
  ++ (wanted.components or [ ]);
  rustTargets = map (key: table.targets.${key}.rust_target) table.keys;
  sorted = builtins.sort builtins.lessThan;
  listed = wanted.targets or [ ];
  targetStd = rustTarget: (fenix.targets.${rustTarget}.fromManifestFile manifest).rust-std;
  # fenix leaves out what the manifest marks unavailable for the build platform.
  missing = builtins.filter (component: !(host ? ${component})) components;
in
{
  inherit missing;
  toolchain =
    if version != wanted.channel then
      throw ''
        thaw: the rust-manifest flake input is Rust ${version}, but rust-toolchain.toml pins channel ${wanted.channel}.
        Point inputs.rust-manifest at https://static.rust-lang.org/dist/channel-rust-${wanted.channel}.toml
        and run `nix flake update rust-manifest` (or change rust-toolchain.toml).''
    else if sorted listed != sorted rustTargets then
      throw ''
        thaw: rust-toolchain.toml lists targets [ ${toString (sorted listed)} ]
        but nix/targets.toml builds [ ${toString (sorted rustTargets)} ]; make them agree.''
    else if missing != [ ] then
      throw "thaw: Rust ${version}'s manifest has no ${toString missing} for this build platform."
    else
      fenix.combine (map (component: host.${component}) components ++ map targetStd rustTargets);
}
