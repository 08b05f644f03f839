{
  description = "Test double of crane for thaw's evaluation tests: records the arguments of each crane call";

  outputs =
    { self }:
    {
      mkLib = pkgs: import ./lib.nix { inherit pkgs; };
    };
}
