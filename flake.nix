{
  description = "thaw: fast-starting Rust on AWS Lambda (functions, an extension layer, OCI images) for four targets";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";
    crane.url = "github:ipetkov/crane";
    fenix = {
      url = "github:nix-community/fenix";
      inputs.nixpkgs.follows = "nixpkgs";
    };
    advisory-db = {
      url = "github:rustsec/advisory-db";
      flake = false;
    };
    # The exact rustup channel manifest of rust-toolchain.toml's channel (a file input:
    # reading it at evaluation time is not import-from-derivation).
    rust-manifest = {
      type = "file";
      url = "https://static.rust-lang.org/dist/channel-rust-1.95.0.toml";
      flake = false;
    };
  };

  outputs =
    {
      self,
      nixpkgs,
      crane,
      fenix,
      advisory-db,
      rust-manifest,
    }:
    let
      genAttrs = import ./nix/lib/genAttrs.nix;

      # Build hosts. A host for which the Rust manifest ships no cargo/rustc (darwin, in
      # 1.95.0's) gets the packages and checks of the Linux system with its CPU: they
      # evaluate there and build on a Linux remote builder. The qemu smoke checks need Linux.
      systems = [
        "x86_64-linux"
        "aarch64-linux"
        "aarch64-darwin"
      ];

      table = import ./nix/lib/table.nix ./nix/targets.toml;
      workspace = import ./nix/lib/workspace.nix ./.;
      src = import ./nix/lib/source.nix ./.;

      perSystem =
        system:
        let
          pkgs = nixpkgs.legacyPackages.${system};
          rust = import ./nix/toolchain.nix {
            fenix = fenix.packages.${system};
            manifest = rust-manifest;
            toolchainFile = ./rust-toolchain.toml;
            inherit table;
          };
          inherit (rust) toolchain;
          craneLib = (crane.mkLib pkgs).overrideToolchain toolchain;
          build = import ./nix/build.nix {
            inherit
              pkgs
              craneLib
              src
              table
              workspace
              ;
          };
          artifacts = import ./nix/artifacts.nix {
            inherit
              pkgs
              src
              toolchain
              table
              workspace
              ;
            inherit (build) xtask;
            builds = build.targets;
          };
          checks = import ./nix/checks.nix {
            inherit
              pkgs
              craneLib
              toolchain
              table
              build
              artifacts
              advisory-db
              ;
            pkgsFor = target: nixpkgs.legacyPackages.${target};
          };
          hostTools = [
            toolchain
            pkgs.zig
            pkgs.cargo-zigbuild
            pkgs.cargo-auditable
          ]
          ++ (if pkgs.stdenv.hostPlatform.isLinux then [ pkgs.qemu-user ] else [ ]);
          # `nix run .#NAME -- ARGS` runs `xtask NAME ARGS` with the build tools on PATH.
          app = name: description: {
            type = "app";
            program = "${pkgs.writeShellScript "thaw-${name}" ''
              export PATH=${builtins.concatStringsSep ":" (map (tool: "${tool}/bin") hostTools)}''${PATH:+:$PATH}
              exec ${build.xtask}/bin/xtask ${name} "$@"
            ''}";
            meta.description = description;
          };
        in
        {
          hasHostTools = rust.missing == [ ];
          packages = artifacts.outputs;
          inherit checks;
          devShells.default = pkgs.mkShell {
            packages = hostTools ++ [
              pkgs.cargo-nextest
              pkgs.cargo-audit
              pkgs.skopeo
              pkgs.nixfmt
            ];
          };
          formatter = pkgs.nixfmt-tree;
          apps = {
            emulate = app "emulate" "A local AWS Lambda (Runtime, Extensions and Telemetry APIs) on 127.0.0.1";
            bench = app "bench" "Cold-start benchmark of thaw's builds against a naive build";
          };
        };

      linuxOfSameCpu = system: "${builtins.head (builtins.split "-" system)}-linux";
      bySystem = genAttrs systems (
        system:
        let
          own = perSystem system;
          linux = bySystem.${linuxOfSameCpu system};
        in
        if own.hasHostTools then
          own
        else
          {
            inherit (linux) packages checks;
            inherit (own) formatter;
            devShells = { };
            apps = { };
          }
      );
      output = name: builtins.mapAttrs (_: outputs: outputs.${name}) bySystem;
    in
    {
      packages = output "packages";
      checks = output "checks";
      devShells = output "devShells";
      formatter = output "formatter";
      apps = output "apps";
    };
}
