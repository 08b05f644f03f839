# An attribute set with one attribute per name.
#
# Inputs:
#   names  list of strings, the attribute names
#   f      function from a name to that attribute's value
#
# Example: genAttrs [ "a" "b" ] (n: n + "!") == { a = "a!"; b = "b!"; }
names: f:
builtins.listToAttrs (
  map (name: {
    inherit name;
    value = f name;
  }) names
)
