//! The environment of a cross build, derived from the target table alone. `xtask build`
//! uses it, and `xtask build-env` prints it so the Nix builds can be checked against it.

use crate::targets::{Keyed, Table};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Directories whose absolute paths must not end up in binaries.
#[derive(Debug, Clone)]
pub struct Remaps {
    pub workspace: PathBuf,
    pub cargo_home: PathBuf,
    pub target_dir: PathBuf,
}

/// What one `cargo zigbuild` invocation gets: arguments and environment variables.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BuildEnv {
    /// The table key the build is for.
    pub key: String,
    /// `--target` for cargo-zigbuild (the zig target: glibc floor included).
    pub zig_target: String,
    /// The rustc target, where cargo puts the output (`target/<rust_target>/release`).
    pub rust_target: String,
    /// rustc flags for the target only (never build scripts or proc-macros: `--target` is set).
    pub rustflags: Vec<String>,
    /// Variables to set, besides the rustflags.
    pub vars: BTreeMap<String, String>,
}

/// `[shared] rustflags` with `{target_cpu}` substituted.
pub fn shared_rustflags(table: &Table, target_cpu: &str) -> Vec<String> {
    table
        .shared
        .rustflags
        .iter()
        .map(|f| f.replace("{target_cpu}", target_cpu))
        .collect()
}

impl Remaps {
    /// `--remap-path-prefix` flags mapping these directories to the table's fixed names.
    pub fn rustflags(&self, table: &Table) -> Vec<String> {
        let shared = &table.shared;
        // rustc applies the last matching remap, so the target dir (often inside the
        // workspace) must come after the workspace.
        [
            (&self.cargo_home, &shared.remap_cargo_home),
            (&self.workspace, &shared.remap_workspace),
            (&self.target_dir, &shared.remap_target_dir),
        ]
        .into_iter()
        .map(|(from, to)| format!("--remap-path-prefix={}={to}", from.display()))
        .collect()
    }
}

/// Separator of `CARGO_ENCODED_RUSTFLAGS` (paths may contain spaces).
pub const ENCODED_SEPARATOR: &str = "\u{1f}";

impl BuildEnv {
    /// The table's environment for `keyed` (no path remaps: see [`Remaps::rustflags`]).
    pub fn new(table: &Table, keyed: Keyed<'_>) -> Self {
        let target = keyed.target;
        let mut rustflags = shared_rustflags(table, &target.target_cpu);
        rustflags.extend(table.flags_for(target).iter().cloned());
        let vars = BTreeMap::from([
            ("CARGO_BUILD_TARGET".to_owned(), target.rust_target.clone()),
            (
                "JEMALLOC_SYS_WITH_MALLOC_CONF".to_owned(),
                table.shared.jemalloc_malloc_conf.clone(),
            ),
            (
                "SOURCE_DATE_EPOCH".to_owned(),
                table.shared.archive_epoch.to_string(),
            ),
        ]);
        Self {
            key: keyed.key.to_owned(),
            zig_target: target.zig_target.clone(),
            rust_target: target.rust_target.clone(),
            rustflags,
            vars,
        }
    }

    /// The value for `CARGO_ENCODED_RUSTFLAGS`.
    pub fn encoded_rustflags(&self) -> String {
        self.rustflags.join(ENCODED_SEPARATOR)
    }

    /// Arguments after `cargo zigbuild`.
    pub fn cargo_args(&self, package: &str) -> Vec<String> {
        [
            "--release",
            "--locked",
            "--package",
            package,
            "--bins",
            "--target",
            &self.zig_target,
        ]
        .map(str::to_owned)
        .to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::Libc;
    use std::path::Path;

    fn table() -> Table {
        Table::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("..")).expect("table")
    }

    #[test]
    fn every_target_gets_its_cpu_libc_flags_and_the_jemalloc_conf() {
        let table = table();
        for keyed in table.all() {
            let env = BuildEnv::new(&table, keyed);
            let t = keyed.target;
            let cpu = format!("target-cpu={}", t.target_cpu);
            assert!(
                env.rustflags
                    .windows(2)
                    .any(|w| w[0] == "-C" && w[1] == cpu)
            );
            for flag in table.flags_for(t) {
                assert!(env.rustflags.contains(flag), "{}: {flag}", keyed.key);
            }
            let other = if t.libc == Libc::Gnu {
                Libc::Musl
            } else {
                Libc::Gnu
            };
            for flag in table.libc[&other].rustflags.iter().filter(|f| *f != "-C") {
                assert!(
                    !env.rustflags.contains(flag),
                    "{}: foreign {flag}",
                    keyed.key
                );
            }
            assert_eq!(
                env.vars["JEMALLOC_SYS_WITH_MALLOC_CONF"],
                table.shared.jemalloc_malloc_conf
            );
            assert_eq!(env.vars["CARGO_BUILD_TARGET"], t.rust_target);
            let args = env.cargo_args("thaw");
            let at = args.iter().position(|a| a == "--target").expect("--target");
            assert_eq!(args[at + 1], t.zig_target);
        }
    }

    #[test]
    fn gnu_builds_pin_the_glibc_floor_in_the_zig_target() {
        let table = table();
        for keyed in table
            .all()
            .into_iter()
            .filter(|k| k.target.libc == Libc::Gnu)
        {
            let env = BuildEnv::new(&table, keyed);
            let floor = keyed
                .target
                .glibc_ceiling
                .as_deref()
                .expect("gnu has a ceiling");
            assert!(
                env.zig_target.ends_with(&format!(".{floor}")),
                "{}",
                env.zig_target
            );
        }
    }

    #[test]
    fn remaps_put_the_target_dir_last_and_encode_with_unit_separators() {
        let table = table();
        let keyed = table.select("x86_64").expect("key")[0];
        let remaps = Remaps {
            workspace: "/src dir".into(),
            cargo_home: "/home/u/.cargo".into(),
            target_dir: "/src dir/target".into(),
        };
        let mut env = BuildEnv::new(&table, keyed);
        env.rustflags.extend(remaps.rustflags(&table));
        let remap: Vec<_> = env
            .rustflags
            .iter()
            .filter(|f| f.starts_with("--remap-path-prefix="))
            .collect();
        assert_eq!(remap.len(), 3);
        assert_eq!(remap[2], "--remap-path-prefix=/src dir/target=/thaw-target");
        assert!(
            env.encoded_rustflags()
                .contains("\u{1f}--remap-path-prefix=/src dir=")
        );
    }
}
