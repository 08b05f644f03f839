# Release artifacts, made by `xtask package` (the same command as without Nix), and the
# outputs users build: one per ZIP and per OCI image, named for what they hold.
#
# Inputs:
#   pkgs       nixpkgs for the build platform (runCommand)
#   src        the Cargo workspace (./lib/source.nix): xtask runs inside it
#   toolchain  thaw's toolchain (./toolchain.nix): xtask reads `cargo metadata`
#   table      the result of ./lib/table.nix
#   workspace  the result of ./lib/workspace.nix
#   xtask      xtask for the build platform (./build.nix)
#   builds     key -> { bins, ... } (./build.nix `targets`)
#
# Returns:
#   packaged   key -> the whole `xtask package` output of that target (with SHA256SUMS);
#              every user-facing output of a target has it as `.artifacts`
#   outputs    the user-facing packages, name -> derivation:
#                layer-KEY                          extension layer ZIP(s)
#                FUNCTION-KEY                       function ZIP
#                image-FUNCTION-KEY                 OCI image (layout dir + oci-archive tar), musl keys
#                image-FUNCTION-with-extension-KEY  the same with the extension layer, musl keys
#                bins-KEY                           the binaries, $out/bin/NAME
#                default                            every artifact of every target + SHA256SUMS
#   files      name of a user-facing output -> the files it holds (for checks and tests)
#   filesOf    key -> every file of that target's user-facing outputs
{
  pkgs,
  src,
  toolchain,
  table,
  workspace,
  xtask,
  builds,
}:
let
  genAttrs = import ./lib/genAttrs.nix;
  mergeAttrsList = import ./lib/mergeAttrsList.nix;
  concatMap = f: list: builtins.concatLists (map f list);

  xtaskIn = import ./lib/xtaskIn.nix xtask;

  packaged = genAttrs table.keys (
    key:
    pkgs.runCommand "thaw-artifacts-${key}"
      {
        strictDeps = true;
        nativeBuildInputs = [ toolchain ];
        passthru = {
          thawKey = key;
          inherit xtask;
        };
      }
      ''
        ${xtaskIn src ''package --target ${key} --bins ${builds.${key}.bins}/bin --out "$TMPDIR/artifacts"''}
        mv "$TMPDIR/artifacts" "$out"
      ''
  );

  isMusl = key: table.targets.${key}.libc == "musl";

  # The files of each user-facing output, by output name (names from xtask's layout).
  perKey =
    key:
    [
      {
        name = "layer-${key}";
        value = map (extension: "${extension}-${key}.zip") workspace.extensions;
      }
    ]
    ++ map (function: {
      name = "${function}-${key}";
      value = [ "${function}-${key}.zip" ];
    }) workspace.functions
    ++ (
      if isMusl key then
        concatMap (
          function:
          map
            (image: {
              name = image;
              value = [
                image
                "${image}.tar"
              ];
            })
            [
              "image-${function}-${key}"
              "image-${function}-with-extension-${key}"
            ]
        ) workspace.functions
      else
        [ ]
    );

  files = mergeAttrsList (map (key: builtins.listToAttrs (perKey key)) table.keys);

  keyOf = builtins.listToAttrs (
    concatMap (
      key:
      map (entry: {
        inherit (entry) name;
        value = key;
      }) (perKey key)
    ) table.keys
  );

  # Copies the named files (or directories) of one target's `xtask package` output.
  select =
    name:
    pkgs.runCommand "thaw-${name}"
      {
        strictDeps = true;
        # The target's whole `xtask package` output: `nix build .#layer-arm64.artifacts`.
        passthru.artifacts = packaged.${keyOf.${name}};
      }
      ''
        mkdir -p "$out"
        ${builtins.concatStringsSep "\n" (
          map (file: ''cp -R ${packaged.${keyOf.${name}}}/${file} "$out"/'') files.${name}
        )}
      '';

  bins = builtins.listToAttrs (
    map (key: {
      name = "bins-${key}";
      value = builds.${key}.bins;
    }) table.keys
  );

  # The release set: every target's artifacts, and one SHA256SUMS made of theirs.
  default = pkgs.runCommand "thaw-release" { strictDeps = true; } ''
    mkdir -p "$out"
    for dir in ${toString (map (key: packaged.${key}) table.keys)}; do
      for file in "$dir"/*; do
        if [ "$(basename "$file")" != SHA256SUMS ]; then
          cp -R "$file" "$out"/
        fi
      done
      cat "$dir"/SHA256SUMS >> "$TMPDIR/SHA256SUMS"
    done
    LC_ALL=C sort -k 2 "$TMPDIR/SHA256SUMS" > "$out/SHA256SUMS"
  '';
  filesOf = key: concatMap (entry: entry.value) (perKey key);
in
{
  inherit packaged files filesOf;
  outputs = mergeAttrsList [
    (builtins.mapAttrs (name: _: select name) files)
    bins
    { inherit default; }
  ];
}
