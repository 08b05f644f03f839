# Shell text running one xtask command the way xtask expects to run: from inside the
# Cargo workspace (it reads `cargo metadata` and nix/targets.toml there), with a writable
# CARGO_HOME. The derivation must have cargo (the toolchain) in nativeBuildInputs.
#
# Inputs:
#   xtask  xtask for the build platform (./build.nix)
#   dir    the workspace: a store path, or a shell word such as "$TMPDIR/one/ws"
#   args   xtask's arguments, as shell text
xtask: dir: args: ''(cd ${dir} && CARGO_HOME="$TMPDIR/cargo-home" ${xtask}/bin/xtask ${args})''
