//! Reader of `nix/targets.toml`, the one table every target, flag and loader comes from.

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Where the table lives, relative to the workspace root.
pub const TABLE_PATH: &str = "nix/targets.toml";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    pub shared: Shared,
    pub libc: BTreeMap<Libc, LibcFlags>,
    #[serde(rename = "target")]
    pub targets: BTreeMap<String, Target>,
    pub bench: Bench,
}

/// `[bench]`: the variants `cargo xtask bench` compares with the shipping build.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bench {
    #[serde(rename = "variant")]
    pub variants: BTreeMap<String, BenchVariant>,
}

fn yes() -> bool {
    true
}

/// One bench variant; see the table's comment for the fields.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenchVariant {
    pub what: String,
    #[serde(default = "yes")]
    pub build: bool,
    #[serde(default = "yes")]
    pub table_rustflags: bool,
    #[serde(default)]
    pub drop_target_cpu: bool,
    #[serde(default)]
    pub add_rustflags: Vec<String>,
    #[serde(default = "yes")]
    pub malloc_conf: bool,
    #[serde(default = "yes")]
    pub default_features: bool,
    #[serde(default)]
    pub features: Vec<String>,
    #[serde(default)]
    pub profile: BTreeMap<String, String>,
    #[serde(default)]
    pub run_env: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shared {
    pub rustflags: Vec<String>,
    pub jemalloc_malloc_conf: String,
    pub archive_epoch: i64,
    pub gzip_level: u32,
    pub remap_workspace: String,
    pub remap_cargo_home: String,
    pub remap_target_dir: String,
    pub gnu_allowed_needed: Vec<String>,
    pub budgets: Budgets,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budgets {
    pub function_zip_bytes: u64,
    pub layer_zip_bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Libc {
    Gnu,
    Musl,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LibcFlags {
    pub rustflags: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub rust_target: String,
    pub zig_target: String,
    pub libc: Libc,
    pub target_cpu: String,
    pub arch: String,
    pub elf_machine: u16,
    pub oci_arch: String,
    #[expect(
        dead_code,
        reason = "read by the Nix flake; parsed here so the table stays checked"
    )]
    pub nix_system: String,
    pub loader: Option<String>,
    pub glibc_ceiling: Option<String>,
    pub qemu: String,
    pub qemu_cpu: String,
    pub qemu_sysroot: Option<String>,
    pub sigill_probe: SigillProbe,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigillProbe {
    pub target_cpu: String,
    pub qemu_cpu: String,
}

/// A target with its table key (`arm64`, `x86_64-musl`, …).
#[derive(Debug, Clone, Copy)]
pub struct Keyed<'a> {
    pub key: &'a str,
    pub target: &'a Target,
}

impl Table {
    pub fn load(workspace: &Path) -> Result<Self> {
        let path = workspace.join(TABLE_PATH);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("in the target table {}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Self> {
        let table: Table = toml::from_str(text)?;
        table.check()?;
        Ok(table)
    }

    /// Rules serde cannot express: each libc's fields are present exactly when they apply.
    fn check(&self) -> Result<()> {
        for (key, t) in &self.targets {
            if !self.libc.contains_key(&t.libc) {
                bail!("target {key}: no [libc.{:?}] flags", t.libc);
            }
            let gnu = t.libc == Libc::Gnu;
            for (field, present) in [
                ("loader", t.loader.is_some()),
                ("glibc_ceiling", t.glibc_ceiling.is_some()),
            ] {
                if gnu != present {
                    bail!("target {key}: `{field}` must be set exactly for gnu targets");
                }
            }
            if let Some(ceiling) = &t.glibc_ceiling {
                parse_version(ceiling)
                    .with_context(|| format!("target {key}: glibc_ceiling {ceiling:?}"))?;
            }
            if !t.rust_target.starts_with(&format!("{}-", t.arch)) {
                bail!(
                    "target {key}: rust_target {} is not for arch {}",
                    t.rust_target,
                    t.arch
                );
            }
        }
        Ok(())
    }

    pub fn flags_for(&self, target: &Target) -> &[String] {
        self.libc
            .get(&target.libc)
            .map(|f| f.rustflags.as_slice())
            .unwrap_or_default()
    }

    pub fn all(&self) -> Vec<Keyed<'_>> {
        self.targets
            .iter()
            .map(|(key, target)| Keyed { key, target })
            .collect()
    }

    /// `all` or one key; an unknown key names the valid ones.
    pub fn select(&self, which: &str) -> Result<Vec<Keyed<'_>>> {
        if which == "all" {
            return Ok(self.all());
        }
        let mut picked = Vec::new();
        for key in which.split(',') {
            match self.targets.get_key_value(key.trim()) {
                Some((key, target)) => picked.push(Keyed { key, target }),
                None => bail!(
                    "unknown target {key:?}: the table {TABLE_PATH} has {} (or use `all`)",
                    self.targets.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            }
        }
        Ok(picked)
    }
}

/// `"2.26"` → `(2, 26)`.
pub fn parse_version(text: &str) -> Result<(u32, u32)> {
    let (major, minor) = text
        .split_once('.')
        .with_context(|| format!("{text:?} is not MAJOR.MINOR"))?;
    let minor = minor.split('.').next().unwrap_or(minor);
    Ok((
        major.parse().with_context(|| format!("{text:?}: major"))?,
        minor.parse().with_context(|| format!("{text:?}: minor"))?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_table() -> Table {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        Table::load(&root).expect("the committed table loads")
    }

    #[test]
    fn the_committed_table_has_the_four_lambda_targets() {
        let table = repo_table();
        let keys: Vec<_> = table.targets.keys().map(String::as_str).collect();
        assert_eq!(keys, ["arm64", "arm64-musl", "x86_64", "x86_64-musl"]);
        let gnu = table
            .all()
            .iter()
            .filter(|k| k.target.libc == Libc::Gnu)
            .count();
        assert_eq!(gnu, 2);
    }

    #[test]
    fn rust_toolchain_toml_lists_exactly_the_tables_targets() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let text = std::fs::read_to_string(root.join("rust-toolchain.toml")).expect("read");
        let doc: toml::Table = toml::from_str(&text).expect("toml");
        let mut listed: Vec<String> = doc["toolchain"]["targets"]
            .as_array()
            .expect("targets array")
            .iter()
            .map(|v| v.as_str().expect("string").to_owned())
            .collect();
        listed.sort();
        let mut table: Vec<String> = repo_table()
            .targets
            .values()
            .map(|t| t.rust_target.clone())
            .collect();
        table.sort();
        assert_eq!(listed, table);
    }

    #[test]
    fn select_rejects_unknown_keys_naming_the_valid_ones() {
        let table = repo_table();
        let err = table.select("arm65").expect_err("unknown").to_string();
        assert!(
            err.contains("arm65") && err.contains("x86_64-musl"),
            "{err}"
        );
        assert_eq!(table.select("all").expect("all").len(), 4);
        assert_eq!(table.select("arm64,x86_64").expect("two").len(), 2);
    }

    #[test]
    fn a_musl_target_with_a_loader_is_rejected() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let text = std::fs::read_to_string(root.join(TABLE_PATH)).expect("read");
        let musl = &repo_table().targets["x86_64-musl"].zig_target;
        let line = format!("zig_target = \"{musl}\"");
        let broken = text.replacen(&line, &format!("{line}\nloader = \"/lib/ld.so\""), 1);
        assert_ne!(broken, text);
        let err = format!("{:#}", Table::parse(&broken).expect_err("invalid"));
        assert!(
            err.contains("x86_64-musl") && err.contains("loader"),
            "{err}"
        );
    }

    #[test]
    fn unknown_fields_are_errors_not_silently_ignored() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let text = std::fs::read_to_string(root.join(TABLE_PATH)).expect("read");
        let cpu = &repo_table().targets["x86_64"].target_cpu;
        let line = format!("target_cpu = \"{cpu}\"");
        let broken = text.replacen(&line, "target_cpus = \"x\"", 1);
        assert_ne!(broken, text);
        assert!(Table::parse(&broken).is_err());
    }

    #[test]
    fn versions_parse() {
        assert_eq!(parse_version("2.26").expect("ok"), (2, 26));
        assert_eq!(parse_version("2.3.4").expect("ok"), (2, 3));
        assert!(parse_version("226").is_err());
    }
}
