{
  description = "Test double of fenix for thaw's evaluation tests: toolchains record their manifest and components";

  # Never fetched: thaw's flake makes this follow its own nixpkgs (the fake one in tests).
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";

  outputs =
    { self, nixpkgs }:
    {
      packages = builtins.mapAttrs (system: _: import ./fenix.nix { inherit system; }) nixpkgs.legacyPackages;
    };
}
