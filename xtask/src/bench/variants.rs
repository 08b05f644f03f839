//! Builds the bench variants of `[bench.variant.*]` in the target table: the shipping build
//! with one choice changed, each in its own target directory.

use crate::build::{self, zigbuild};
use crate::build_env::{BuildEnv, shared_rustflags};
use crate::targets::{BenchVariant, Keyed, Table};
use crate::tools;
use crate::workspace::{LAMBDA_PACKAGE, Workspace};
use anyhow::{Context, Result};
use std::path::PathBuf;

/// The shipping build's name in reports.
pub const SHIPPING: &str = "thaw";

/// The environment of `variant` for `keyed`: the shipping build's, changed as it says.
pub fn build_env(
    table: &Table,
    keyed: Keyed<'_>,
    variant: &BenchVariant,
) -> (BuildEnv, Vec<String>) {
    let mut env = BuildEnv::new(table, keyed);
    if !variant.table_rustflags {
        env.rustflags.clear();
    } else if variant.drop_target_cpu {
        let cpu = shared_rustflags(table, &keyed.target.target_cpu);
        env.rustflags = without(&env.rustflags, &cpu);
    }
    env.rustflags.extend(variant.add_rustflags.iter().cloned());
    if !variant.malloc_conf {
        env.vars.remove("JEMALLOC_SYS_WITH_MALLOC_CONF");
    }
    for (key, value) in &variant.profile {
        env.vars.insert(
            format!("CARGO_PROFILE_RELEASE_{}", key.to_uppercase()),
            value.clone(),
        );
    }
    let mut args = env.cargo_args(LAMBDA_PACKAGE);
    if !variant.default_features {
        args.push("--no-default-features".into());
    }
    if !variant.features.is_empty() {
        args.extend(["--features".into(), variant.features.join(",")]);
    }
    (env, args)
}

/// `flags` without the run `remove` (e.g. the `-C target-cpu=…` pair).
fn without(flags: &[String], remove: &[String]) -> Vec<String> {
    match flags.windows(remove.len().max(1)).position(|w| w == remove) {
        Some(at) if !remove.is_empty() => [&flags[..at], &flags[at + remove.len()..]].concat(),
        _ => flags.to_vec(),
    }
}

/// Directory of the binaries of `variant` for `key`: built here, or the shipping ones.
pub fn bins_dir(ws: &Workspace, name: &str, variant: Option<&BenchVariant>, key: &str) -> PathBuf {
    match variant {
        Some(v) if v.build => ws.thaw_dir().join("bench/bins").join(name).join(key),
        _ => ws.bins_dir(key),
    }
}

/// Builds `variant` for `keyed` and copies its binaries to [`bins_dir`].
pub fn build_variant(
    ws: &Workspace,
    table: &Table,
    name: &str,
    variant: &BenchVariant,
    keyed: Keyed<'_>,
) -> Result<()> {
    let (env, args) = build_env(table, keyed, variant);
    let target_dir = ws.thaw_dir().join("bench/target").join(name);
    let mut cmd = zigbuild(ws, table, &env, &target_dir)?;
    cmd.args(&args);
    tools::run(&mut cmd)
        .with_context(|| format!("building bench variant {name} for {}", keyed.key))?;
    let from = target_dir.join(&env.rust_target).join("release");
    let to = bins_dir(ws, name, Some(variant), keyed.key);
    std::fs::create_dir_all(&to)?;
    for bin in ws.bins.all() {
        build::copy_bin(&from.join(bin), &to.join(bin))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn table() -> Table {
        Table::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("..")).expect("table")
    }

    #[test]
    fn each_variant_changes_only_what_it_says() {
        let table = table();
        let keyed = table.select("x86_64").expect("key")[0];
        let shipping = BuildEnv::new(&table, keyed);
        let v = &table.bench.variants;
        let (generic, _) = build_env(&table, keyed, &v["generic-cpu"]);
        assert!(
            !generic
                .rustflags
                .iter()
                .any(|f| f.starts_with("target-cpu="))
        );
        assert_eq!(generic.rustflags.len() + 2, shipping.rustflags.len());
        let (lazy, _) = build_env(&table, keyed, &v["lazy-binding"]);
        assert_eq!(
            lazy.rustflags[..shipping.rustflags.len()],
            shipping.rustflags[..]
        );
        assert!(lazy.rustflags.len() > shipping.rustflags.len());
        let (naive, args) = build_env(&table, keyed, &v["naive"]);
        assert!(naive.rustflags.is_empty());
        assert!(!naive.vars.contains_key("JEMALLOC_SYS_WITH_MALLOC_CONF"));
        assert_eq!(naive.vars["CARGO_PROFILE_RELEASE_LTO"], "false");
        assert!(
            args.contains(&"--no-default-features".to_owned())
                && args.contains(&"naive".to_owned())
        );
        let (opt_z, _) = build_env(&table, keyed, &v["opt-z"]);
        assert_eq!(opt_z.vars["CARGO_PROFILE_RELEASE_OPT_LEVEL"], "z");
        assert_eq!(opt_z.rustflags, shipping.rustflags);
    }
}
