//! Order statistics of a sample.

/// min / p50 / p90 of one measurement over the runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub min: f64,
    pub p50: f64,
    pub p90: f64,
    pub n: usize,
}

/// Nearest-rank percentiles (no interpolation: every figure is a measured value).
pub fn summarize(values: &[f64]) -> Option<Summary> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank =
        |p: f64| sorted[((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1];
    Some(Summary {
        min: sorted[0],
        p50: rank(0.5),
        p90: rank(0.9),
        n: sorted.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let s = summarize(&[5.0, 1.0, 4.0, 2.0, 3.0, 10.0, 9.0, 8.0, 7.0, 6.0]).expect("values");
        assert_eq!((s.min, s.p50, s.p90, s.n), (1.0, 5.0, 9.0, 10));
        let one = summarize(&[3.5]).expect("one");
        assert_eq!((one.min, one.p50, one.p90), (3.5, 3.5, 3.5));
        assert!(summarize(&[]).is_none());
    }
}
