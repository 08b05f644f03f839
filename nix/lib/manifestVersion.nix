# The Rust version of a rustup channel manifest (channel-rust-*.toml), e.g. "1.95.0"
# for `[pkg.rust] version = "1.95.0 (59807616e 2026-04-14)"`.
#
# Inputs:
#   manifest  the manifest file (a flake input source: reading it is not IFD)
manifest:
let
  parsed = builtins.fromTOML (builtins.readFile manifest);
  full =
    parsed.pkg.rust.version or (throw "thaw: ${toString manifest} has no [pkg.rust] version; is it a rustup channel manifest?");
in
builtins.head (builtins.split " " full)
