//! Deterministic ZIP writing: sorted entries, one fixed timestamp, fixed modes, no extra fields.

use anyhow::{Context, Result};
use std::io::{Cursor, Write};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

/// One entry: a directory (no contents, name ends in `/`) or a file.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub mode: u32,
    pub contents: Option<Vec<u8>>,
}

impl Entry {
    pub fn dir(name: &str) -> Self {
        Self {
            name: format!("{}/", name.trim_end_matches('/')),
            mode: 0o755,
            contents: None,
        }
    }

    pub fn executable(name: &str, contents: Vec<u8>) -> Self {
        Self {
            name: name.to_owned(),
            mode: 0o755,
            contents: Some(contents),
        }
    }
}

/// The DOS timestamp every entry carries: 1980-01-01 00:00:00, the lowest a ZIP can hold.
pub fn fixed_time() -> DateTime {
    DateTime::default()
}

/// A ZIP of `entries` (sorted by name here, so callers' order does not matter).
pub fn write(mut entries: Vec<Entry>, level: u32) -> Result<Vec<u8>> {
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    for entry in &entries {
        let options = SimpleFileOptions::default()
            .system(zip::System::Unix)
            .last_modified_time(fixed_time())
            .unix_permissions(entry.mode)
            .compression_method(CompressionMethod::Deflated)
            .compression_level(Some(i64::from(level)));
        match &entry.contents {
            None => zip
                .add_directory(
                    entry.name.as_str(),
                    options.compression_method(CompressionMethod::Stored),
                )
                .with_context(|| format!("adding directory {}", entry.name))?,
            Some(bytes) => {
                zip.start_file(entry.name.as_str(), options)
                    .with_context(|| format!("adding {}", entry.name))?;
                zip.write_all(bytes)
                    .with_context(|| format!("writing {}", entry.name))?;
            }
        }
    }
    Ok(zip.finish().context("finishing the zip")?.into_inner())
}
