# Reads THE target table, nix/targets.toml (see its header for the schema).
#
# Inputs:
#   path  the targets.toml file
#
# Returns the parsed table plus:
#   keys     the table keys (Lambda architecture names), sorted
#   targets  key -> the target's fields, with `key` added
#   muslKeys keys whose `libc` is "musl" (those get OCI images)
path:
let
  raw = builtins.fromTOML (builtins.readFile path);
  targets = builtins.mapAttrs (key: target: target // { inherit key; }) raw.target;
  keys = builtins.attrNames targets;
in
raw
// {
  inherit keys targets;
  muslKeys = builtins.filter (key: targets.${key}.libc == "musl") keys;
}
