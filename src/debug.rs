//! Whether debug output is on: `THAW_DEBUG` set to `1`, `true`, `yes` or `on` (any case).
//! Read once; every later check is one atomic load, so debug-only code costs nothing when off.

use std::sync::OnceLock;

static ENABLED: OnceLock<bool> = OnceLock::new();

/// True when `THAW_DEBUG` asks for debug output.
pub fn enabled() -> bool {
    *ENABLED.get_or_init(|| std::env::var("THAW_DEBUG").is_ok_and(|v| is_truthy(&v)))
}

/// How thaw reads a yes/no environment value.
pub fn is_truthy(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truthy_values_turn_debug_on_and_others_do_not() {
        for yes in ["1", "true", "TRUE", " yes ", "On"] {
            assert!(is_truthy(yes), "{yes:?}");
        }
        for no in ["", "0", "false", "off", "2", "debug"] {
            assert!(!is_truthy(no), "{no:?}");
        }
    }
}
