# Merges a list of attribute sets into one; later sets win, and a name defined twice
# is an evaluation error (output names must never silently shadow each other).
#
# Inputs:
#   sets  list of attribute sets
sets:
builtins.foldl' (
  acc: set:
  let
    clashes = builtins.filter (name: acc ? ${name}) (builtins.attrNames set);
  in
  if clashes == [ ] then
    acc // set
  else
    throw "thaw: output name(s) defined twice: ${builtins.concatStringsSep ", " clashes}"
) { } sets
