//! ELF rules: machine, PIE, loader or static-pie, needed libraries, glibc ceiling, eager
//! binding and RELRO, no RPATH/RUNPATH, no /nix/store paths, stripped, dependency list.

use super::Findings;
use crate::targets::{Keyed, Libc, Table, parse_version};
use goblin::elf::dynamic::{DF_1_NOW, DF_BIND_NOW, DT_BIND_NOW, DT_FLAGS, DT_FLAGS_1};
use goblin::elf::header::ET_DYN;
use goblin::elf::program_header::PT_GNU_RELRO;
use goblin::elf::{Elf, section_header::SHT_SYMTAB};
use std::io::Read;

/// The section cargo-auditable writes the zlib-compressed dependency list to.
pub const AUDITABLE_SECTION: &str = ".dep-v0";
/// Nix store paths in a binary mean it depends on (or leaks) the build machine.
const NIX_STORE: &[u8] = b"/nix/store";

pub fn verify(table: &Table, keyed: Keyed<'_>, file: &str, bytes: &[u8]) -> Findings {
    let mut f = Findings::default();
    let elf = match Elf::parse(bytes) {
        Ok(elf) => elf,
        Err(err) => {
            f.rule(
                file,
                "elf-parse",
                Err(format!("not a valid ELF file: {err}")),
            );
            return f;
        }
    };
    let t = keyed.target;
    f.rule(file, "elf-machine", {
        let m = elf.header.e_machine;
        if m == t.elf_machine {
            Ok(())
        } else {
            Err(format!(
                "e_machine {m}, target {} needs {}",
                keyed.key, t.elf_machine
            ))
        }
    });
    f.rule(file, "pie", {
        if elf.header.e_type == ET_DYN {
            Ok(())
        } else {
            Err(format!(
                "e_type {} is not ET_DYN: not position independent",
                elf.header.e_type
            ))
        }
    });
    match t.libc {
        Libc::Musl => static_rules(&mut f, file, &elf),
        Libc::Gnu => gnu_rules(&mut f, table, keyed, file, &elf),
    }
    f.rule(file, "no-rpath", {
        let paths: Vec<&str> = elf.rpaths.iter().chain(&elf.runpaths).copied().collect();
        if paths.is_empty() {
            Ok(())
        } else {
            Err(format!("RPATH/RUNPATH present: {}", paths.join(":")))
        }
    });
    f.rule(file, "no-nix-store", {
        match bytes.windows(NIX_STORE.len()).position(|w| w == NIX_STORE) {
            None => Ok(()),
            Some(at) => Err(format!(
                "a /nix/store path at offset {at}: {}",
                excerpt(bytes, at)
            )),
        }
    });
    f.rule(file, "stripped", {
        if elf.section_headers.iter().any(|s| s.sh_type == SHT_SYMTAB) {
            Err("a .symtab symbol table is present: not stripped".into())
        } else {
            Ok(())
        }
    });
    f.rule(file, "dependency-list", dependency_list(&elf, bytes));
    f
}

fn static_rules(f: &mut Findings, file: &str, elf: &Elf<'_>) {
    f.rule(
        file,
        "no-interpreter",
        match elf.interpreter {
            None => Ok(()),
            Some(interp) => Err(format!("a static musl binary has interpreter {interp}")),
        },
    );
    f.rule(file, "no-needed", {
        if elf.libraries.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "a static musl binary needs {}",
                elf.libraries.join(", ")
            ))
        }
    });
}

fn gnu_rules(f: &mut Findings, table: &Table, keyed: Keyed<'_>, file: &str, elf: &Elf<'_>) {
    let t = keyed.target;
    f.rule(file, "interpreter", {
        let want = t.loader.as_deref().unwrap_or_default();
        match elf.interpreter {
            Some(got) if got == want => Ok(()),
            Some(got) => Err(format!("interpreter {got}, Lambda's loader is {want}")),
            None => Err(format!("no interpreter, Lambda's loader is {want}")),
        }
    });
    f.rule(file, "needed", {
        let allowed = &table.shared.gnu_allowed_needed;
        let foreign: Vec<&str> = elf
            .libraries
            .iter()
            .copied()
            .filter(|lib| !allowed.iter().any(|a| a == lib))
            .collect();
        if foreign.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "needs {} (allowed: {})",
                foreign.join(", "),
                allowed.join(", ")
            ))
        }
    });
    f.rule(file, "glibc-ceiling", {
        let ceiling = t.glibc_ceiling.as_deref().unwrap_or_default();
        match (parse_version(ceiling), highest_glibc(elf)) {
            (Err(err), _) => Err(format!("bad ceiling in the table: {err}")),
            (_, None) => Ok(()),
            (Ok(max), Some((v, _))) if v <= max => Ok(()),
            (Ok(_), Some((_, name))) => {
                Err(format!("needs {name}, above the ceiling GLIBC_{ceiling}"))
            }
        }
    });
    f.rule(file, "bind-now", {
        if binds_now(elf) {
            Ok(())
        } else {
            Err("no BIND_NOW (DT_BIND_NOW, DF_BIND_NOW or DF_1_NOW): symbols bind lazily".into())
        }
    });
    f.rule(file, "relro", {
        if elf.program_headers.iter().any(|p| p.p_type == PT_GNU_RELRO) {
            Ok(())
        } else {
            Err("no PT_GNU_RELRO segment".into())
        }
    });
}

/// The highest `GLIBC_x.y` version the binary needs, with its name.
fn highest_glibc(elf: &Elf<'_>) -> Option<((u32, u32), String)> {
    let verneed = elf.verneed.as_ref()?;
    let mut highest = None;
    for need in verneed.iter() {
        for aux in need.iter() {
            let Some(name) = elf.dynstrtab.get_at(aux.vna_name) else {
                continue;
            };
            let Some(version) = name.strip_prefix("GLIBC_") else {
                continue;
            };
            if let Ok(v) = parse_version(version) {
                highest = highest.max(Some((v, name.to_owned())));
            }
        }
    }
    highest
}

pub fn binds_now(elf: &Elf<'_>) -> bool {
    let Some(dynamic) = &elf.dynamic else {
        return false;
    };
    dynamic.dyns.iter().any(|d| match d.d_tag {
        DT_BIND_NOW => true,
        DT_FLAGS => d.d_val & DF_BIND_NOW != 0,
        DT_FLAGS_1 => d.d_val & DF_1_NOW != 0,
        _ => false,
    })
}

/// cargo-auditable's section: present, and a zlib-compressed JSON list of packages.
fn dependency_list(elf: &Elf<'_>, bytes: &[u8]) -> Result<(), String> {
    let section = elf
        .section_headers
        .iter()
        .find(|s| elf.shdr_strtab.get_at(s.sh_name) == Some(AUDITABLE_SECTION))
        .ok_or_else(|| format!("no {AUDITABLE_SECTION} section (build with cargo-auditable)"))?;
    let start = section.sh_offset as usize;
    let data = bytes
        .get(start..start + section.sh_size as usize)
        .ok_or("the dependency list section lies outside the file")?;
    let mut json = String::new();
    flate2::read::ZlibDecoder::new(data)
        .read_to_string(&mut json)
        .map_err(|e| format!("the dependency list does not decompress: {e}"))?;
    let doc: serde_json::Value =
        serde_json::from_str(&json).map_err(|e| format!("the dependency list is not JSON: {e}"))?;
    match doc["packages"].as_array() {
        Some(p) if !p.is_empty() => Ok(()),
        _ => Err("the dependency list names no packages".into()),
    }
}

fn excerpt(bytes: &[u8], at: usize) -> String {
    let end = bytes[at..]
        .iter()
        .position(|b| *b == 0 || !b.is_ascii_graphic())
        .map_or(bytes.len(), |n| at + n.min(120));
    String::from_utf8_lossy(&bytes[at..end]).into_owned()
}
