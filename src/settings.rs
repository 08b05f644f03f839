//! Reading numeric `THAW_*` settings: an unusable value is one warning and the default.

use std::fmt::Display;
use std::ops::RangeInclusive;
use std::str::FromStr;

/// The value of `name` from `lookup` if it parses and lies in `range`; otherwise `default`,
/// with a warning naming the variable pushed to `warnings` (absent is not a warning).
pub fn bounded<T>(
    lookup: &impl Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
    name: &str,
    default: T,
    range: RangeInclusive<T>,
) -> T
where
    T: FromStr + PartialOrd + Display + Copy,
{
    let Some(raw) = lookup(name) else {
        return default;
    };
    match raw.trim().parse::<T>() {
        Ok(n) if range.contains(&n) => n,
        _ => {
            warnings.push(format!(
                "{name}={raw:?} is not a whole number in {}..={}; using {default}",
                range.start(),
                range.end()
            ));
            default
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_outside_the_range_or_unparseable_warn_once_and_default() {
        let lookup = |name: &str| match name {
            "OK" => Some(" 7 ".to_owned()),
            "BIG" => Some("99".to_owned()),
            "TEXT" => Some("lots".to_owned()),
            _ => None,
        };
        let mut warnings = Vec::new();
        assert_eq!(bounded(&lookup, &mut warnings, "OK", 1u32, 1..=10), 7);
        assert_eq!(bounded(&lookup, &mut warnings, "MISSING", 3u32, 1..=10), 3);
        assert!(warnings.is_empty());
        assert_eq!(bounded(&lookup, &mut warnings, "BIG", 3u64, 1..=10), 3);
        assert_eq!(bounded(&lookup, &mut warnings, "TEXT", 4u32, 1..=10), 4);
        assert_eq!(warnings.len(), 2);
        assert!(warnings[0].starts_with("BIG=\"99\"") && warnings[0].ends_with("using 3"));
    }
}
