# The environment of one cross build, derived from the target table alone; the same
# value `cargo xtask build-env --target KEY` prints (without path remaps, which depend
# on the build directories and are added by the build command).
#
# Inputs:
#   table  the result of ./table.nix
#   key    a table key, e.g. "arm64"
#
# Returns { key, zig_target, rust_target, rustflags, vars }:
#   rustflags  [shared] rustflags with {target_cpu} substituted, then [libc.<libc>] rustflags
#   vars       CARGO_BUILD_TARGET, JEMALLOC_SYS_WITH_MALLOC_CONF, SOURCE_DATE_EPOCH
table: key:
let
  target =
    table.targets.${key}
      or (throw "thaw: no target `${key}` in nix/targets.toml (keys: ${builtins.concatStringsSep ", " table.keys})");
  substitute = builtins.replaceStrings [ "{target_cpu}" ] [ target.target_cpu ];
in
{
  inherit key;
  inherit (target) zig_target rust_target;
  rustflags = map substitute table.shared.rustflags ++ table.libc.${target.libc}.rustflags;
  vars = {
    CARGO_BUILD_TARGET = target.rust_target;
    JEMALLOC_SYS_WITH_MALLOC_CONF = table.shared.jemalloc_malloc_conf;
    SOURCE_DATE_EPOCH = toString table.shared.archive_epoch;
  };
}
