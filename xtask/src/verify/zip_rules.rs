//! ZIP rules: exactly the entries Lambda expects (function: `bootstrap`; layer:
//! `extensions/` and `extensions/NAME`), sorted, modes 0755, the fixed timestamp, no extra
//! fields, within the size budget; and the binaries inside pass the ELF rules.

use super::{Findings, Scope, elf};
use crate::package::BOOTSTRAP;
use crate::targets::Keyed;
use std::io::{Cursor, Read};
use std::path::Path;

/// DOS date of 1980-01-01 (year 0 from 1980, month 1, day 1) and time 00:00:00.
const FIXED_DOS_DATE: u16 = (1 << 5) | 1;
const FIXED_DOS_TIME: u16 = 0;
const S_IFDIR: u32 = 0o040_000;
const S_IFREG: u32 = 0o100_000;

/// One central-directory record, read straight from the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry {
    pub name: String,
    pub unix_mode: u32,
    pub dos_time: u16,
    pub dos_date: u16,
    pub central_extra_len: u16,
    pub local_extra_len: u16,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Reads the central directory (and each entry's local extra length) without a ZIP library,
/// so the rules see exactly what is in the file.
pub fn raw_entries(b: &[u8]) -> Result<Vec<RawEntry>, String> {
    const EOCD: u32 = 0x0605_4b50;
    const CENTRAL: u32 = 0x0201_4b50;
    const LOCAL: u32 = 0x0403_4b50;
    let eocd = (0..=b.len().saturating_sub(22))
        .rev()
        .find(|&i| u32_at(b, i) == Some(EOCD))
        .ok_or("no end-of-central-directory record")?;
    let count = u16_at(b, eocd + 10).ok_or("truncated EOCD")? as usize;
    let mut at = u32_at(b, eocd + 16).ok_or("truncated EOCD")? as usize;
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        if u32_at(b, at) != Some(CENTRAL) {
            return Err(format!("no central directory header at offset {at}"));
        }
        let field = |off: usize| u16_at(b, at + off).ok_or("truncated central header");
        let (name_len, extra_len, comment_len) = (field(28)?, field(30)?, field(32)?);
        let external = u32_at(b, at + 38).ok_or("truncated central header")?;
        let local = u32_at(b, at + 42).ok_or("truncated central header")? as usize;
        let name = b
            .get(at + 46..at + 46 + name_len as usize)
            .ok_or("truncated file name")?;
        if u32_at(b, local) != Some(LOCAL) {
            return Err(format!("no local header at offset {local}"));
        }
        entries.push(RawEntry {
            name: String::from_utf8_lossy(name).into_owned(),
            unix_mode: external >> 16,
            dos_time: field(12)?,
            dos_date: field(14)?,
            central_extra_len: extra_len,
            local_extra_len: u16_at(b, local + 28).ok_or("truncated local header")?,
        });
        at += 46 + name_len as usize + extra_len as usize + comment_len as usize;
    }
    Ok(entries)
}

pub fn verify(ctx: &Scope<'_>, keyed: Keyed<'_>, path: &Path, bytes: &[u8]) -> Findings {
    let file = path.display().to_string();
    let mut f = Findings::default();
    let entries = match raw_entries(bytes) {
        Ok(e) => e,
        Err(err) => {
            f.rule(&file, "zip-parse", Err(err));
            return f;
        }
    };
    let stem = super::artifact_stem(path);
    let stem = stem.trim_end_matches(&format!("-{}", keyed.key));
    let layer = ctx.bins.extensions.iter().any(|e| e == stem);
    let (expected, budget, kind): (Vec<(String, bool)>, u64, &str) = if layer {
        (
            vec![
                ("extensions/".to_owned(), true),
                (format!("extensions/{stem}"), false),
            ],
            ctx.table.shared.budgets.layer_zip_bytes,
            "layer",
        )
    } else {
        (
            vec![(BOOTSTRAP.to_owned(), false)],
            ctx.table.shared.budgets.function_zip_bytes,
            "function",
        )
    };
    let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    let want: Vec<&str> = expected.iter().map(|(n, _)| n.as_str()).collect();
    f.rule(&file, "zip-entries", {
        if names == want {
            Ok(())
        } else {
            Err(format!(
                "a {kind} ZIP must hold exactly {want:?} in this order, found {names:?}"
            ))
        }
    });
    for entry in &entries {
        let is_dir = entry.name.ends_with('/');
        let want_mode = if is_dir {
            S_IFDIR | 0o755
        } else {
            S_IFREG | 0o755
        };
        f.rule(&file, "zip-mode", {
            if entry.unix_mode == want_mode {
                Ok(())
            } else {
                Err(format!(
                    "{}: mode {:o}, expected {want_mode:o}",
                    entry.name, entry.unix_mode
                ))
            }
        });
        f.rule(&file, "zip-timestamp", {
            if (entry.dos_date, entry.dos_time) == (FIXED_DOS_DATE, FIXED_DOS_TIME) {
                Ok(())
            } else {
                Err(format!(
                    "{}: DOS date/time {:#06x}/{:#06x}, expected 1980-01-01 00:00:00",
                    entry.name, entry.dos_date, entry.dos_time
                ))
            }
        });
        f.rule(&file, "zip-no-extra", {
            if entry.central_extra_len == 0 && entry.local_extra_len == 0 {
                Ok(())
            } else {
                Err(format!(
                    "{}: extra fields ({} central, {} local bytes)",
                    entry.name, entry.central_extra_len, entry.local_extra_len
                ))
            }
        });
    }
    f.rule(&file, "zip-size", {
        let size = bytes.len() as u64;
        if size <= budget {
            Ok(())
        } else {
            Err(format!(
                "{size} bytes, over the {kind} ZIP budget of {budget}"
            ))
        }
    });
    for (name, is_dir) in &expected {
        if *is_dir || !names.contains(&name.as_str()) {
            continue;
        }
        match read_entry(bytes, name) {
            Ok(binary) => f.merge(elf::verify(
                ctx.table,
                keyed,
                &format!("{file}!{name}"),
                &binary,
            )),
            Err(err) => f.rule(&file, "zip-parse", Err(format!("{name}: {err}"))),
        }
    }
    f
}

fn read_entry(bytes: &[u8], name: &str) -> Result<Vec<u8>, String> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| e.to_string())?;
    let mut entry = archive.by_name(name).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    entry.read_to_end(&mut out).map_err(|e| e.to_string())?;
    Ok(out)
}
