# The binaries of package `thaw`, discovered the way cargo does, so adding a function
# is adding src/bin/NAME.rs (or src/bin/NAME/main.rs): nothing here lists them.
#
# Inputs:
#   root  the workspace root (holds Cargo.toml and src/bin/)
#
# Returns:
#   bins        every binary: auto-discovered ones (unless `autobins = false`) and
#               `[[bin]]` entries, sorted
#   extensions  binaries named in `[package.metadata.thaw] extensions` (layer ZIPs)
#   functions   every other binary (function ZIPs and images)
root:
let
  manifest = builtins.fromTOML (builtins.readFile (root + "/Cargo.toml"));
  package = manifest.package;
  binDir = root + "/src/bin";
  entries = if builtins.pathExists binDir then builtins.readDir binDir else { };
  names = builtins.attrNames entries;
  isRustFile =
    name:
    let
      length = builtins.stringLength name;
    in
    entries.${name} == "regular" && length > 3 && builtins.substring (length - 3) 3 name == ".rs";
  fileBins = map (name: builtins.substring 0 (builtins.stringLength name - 3) name) (
    builtins.filter isRustFile names
  );
  dirBins = builtins.filter (
    name: entries.${name} == "directory" && builtins.pathExists (binDir + "/${name}/main.rs")
  ) names;
  discovered = if package.autobins or true then fileBins ++ dirBins else [ ];
  declared = map (bin: bin.name) (manifest.bin or [ ]);
  bins = builtins.attrNames (
    builtins.listToAttrs (
      map (name: {
        inherit name;
        value = null;
      }) (discovered ++ declared)
    )
  );
  extensions = package.metadata.thaw.extensions or [ ];
  unknown = builtins.filter (name: !builtins.elem name bins) extensions;
  functions = builtins.filter (name: !builtins.elem name extensions) bins;
in
if unknown != [ ] then
  throw "thaw: Cargo.toml [package.metadata.thaw] extensions names no binary: ${builtins.concatStringsSep ", " unknown}"
else
  {
    inherit bins extensions functions;
  }
