{
  description = "Test double of nixpkgs for thaw's evaluation tests: derivations record their arguments and cannot be built";

  outputs =
    { self }:
    let
      systems = [
        "x86_64-linux"
        "aarch64-linux"
        "aarch64-darwin"
        "x86_64-darwin"
      ];
    in
    {
      legacyPackages = builtins.listToAttrs (
        map (system: {
          name = system;
          value = import ./pkgs.nix { inherit system; };
        }) systems
      );
    };
}
