# fenix's interface as thaw uses it, for one system. A toolchain made from a channel
# manifest has one fake derivation per component, recording the component, the target
# and the manifest's Rust version; `combine` records what it was given.
{ system }:
let
  fake =
    attrs:
    derivation (
      attrs
      // {
        inherit system;
        builder = "/bin/sh";
        args = [
          "-c"
          "echo 'fake fenix: cannot build' >&2; exit 1"
        ];
      }
    );

  # The targets this fenix has data for, like the real one's data files.
  knownTargets = builtins.fromJSON (builtins.readFile ./known-targets.json);

  # The components of one target, from a manifest. Like the real fenix, a component the
  # manifest does not provide for the target is left out.
  fromManifestFileFor =
    target: file:
    let
      manifest = builtins.fromTOML (builtins.readFile file);
      rustVersion = manifest.pkg.rust.version;
      component =
        name:
        fake {
          name = "${name}-${builtins.head (builtins.split " " rustVersion)}-${target}";
          inherit rustVersion target;
          component = name;
          manifest = file;
        };
      available =
        name: ((manifest.pkg.${name} or { }).target or { }).${target}.available or false;
      names = [
        "cargo"
        "rustc"
        "rust-std"
        "rustfmt"
        "clippy"
      ];
    in
    builtins.listToAttrs (
      map (name: {
        inherit name;
        value = component name;
      }) (builtins.filter available names)
    )
    // {
      inherit manifest;
    };
in
{
  # The build platform's toolchain; the fake names its target "host-<system>".
  fromManifestFile = fromManifestFileFor "host-${system}";

  targets = builtins.listToAttrs (
    map (target: {
      name = target;
      value.fromManifestFile = fromManifestFileFor target;
    }) knownTargets
  );

  combine =
    paths:
    fake {
      name = "rust-mixed";
      inherit paths;
      components = map (path: path.name) paths;
    };
}
