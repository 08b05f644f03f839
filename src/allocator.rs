//! The global allocator, and proof of how it was configured.
//!
//! tikv-jemallocator prefixes jemalloc's symbols, so jemalloc never reads `MALLOC_CONF` at run
//! time: `narenas:1` must be compiled in (`JEMALLOC_SYS_WITH_MALLOC_CONF`). Artifact tests run a
//! built binary with `THAW_PRINT_ALLOCATOR=1`; it prints `narenas=<n>` and exits, so they can
//! check the setting reached the release build.

use std::io::Write;

/// jemalloc for every thaw binary (the `jemalloc` feature, on by default).
#[cfg(feature = "jemalloc")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// The environment variable that asks a binary for its allocator report.
pub const REPORT_VAR: &str = "THAW_PRINT_ALLOCATOR";

/// jemalloc's `opt.narenas`: the arena count it was configured with.
#[cfg(feature = "jemalloc")]
pub fn narenas() -> Result<u32, tikv_jemalloc_ctl::Error> {
    tikv_jemalloc_ctl::opt::narenas::read()
}

/// The report line, e.g. `narenas=1` (or `allocator=system` without jemalloc).
pub fn report() -> String {
    #[cfg(feature = "jemalloc")]
    let line = match narenas() {
        Ok(n) => format!("narenas={n}"),
        Err(err) => format!("narenas=unknown ({err})"),
    };
    #[cfg(not(feature = "jemalloc"))]
    let line = "allocator=system".to_owned();
    line
}

/// Call first in `main`: when `THAW_PRINT_ALLOCATOR` is truthy, prints [`report`] to stdout
/// and returns true, and the binary should exit 0 without doing anything else.
pub fn report_if_asked() -> bool {
    let asked = std::env::var(REPORT_VAR).is_ok_and(|v| crate::debug::is_truthy(&v));
    if asked {
        let mut out = std::io::stdout().lock();
        // Nothing useful to do if stdout is gone; the exit status still says we were asked.
        let _ = writeln!(out, "{}", report());
        let _ = out.flush();
    }
    asked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(feature = "jemalloc")]
    fn jemalloc_reports_its_arena_count() {
        // Test builds do not set JEMALLOC_SYS_WITH_MALLOC_CONF, so the count is jemalloc's
        // default (4 per CPU) or the compiled-in 1; what matters is that it is readable.
        let n = narenas().expect("opt.narenas is readable");
        assert!(n >= 1);
        assert_eq!(report(), format!("narenas={n}"));
    }

    #[test]
    #[cfg(not(feature = "jemalloc"))]
    fn without_jemalloc_the_report_names_the_system_allocator() {
        assert_eq!(report(), "allocator=system");
    }
}
