# The Cargo workspace as a store path, without what does not feed a cargo build: the
# Nix code (except the target table, which xtask reads), the Nix test doubles, CI files,
# build results. Changing a .nix file or a workflow therefore rebuilds nothing.
#
# Inputs:
#   root  the flake's root directory
root:
let
  prefix = toString root + "/";
  relative = path: builtins.substring (builtins.stringLength prefix) (-1) (toString path);
  excludedTop = [
    ".git"
    ".github"
    ".ci"
    "flake.nix"
    "flake.lock"
    "target"
    "result"
  ];
  keep =
    path: type:
    let
      rel = relative path;
      top = builtins.head (builtins.split "/" rel);
    in
    !(builtins.elem top excludedTop)
    && builtins.match "result-.*" rel == null
    && (top != "nix" || rel == "nix" || rel == "nix/targets.toml")
    && rel != "tests/nix"
    && builtins.match "tests/nix/.*" rel == null;
in
builtins.path {
  path = root;
  name = "source";
  filter = keep;
}
