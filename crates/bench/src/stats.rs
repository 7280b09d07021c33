//! Order statistics over repeated runs.
//!
//! Medians and 90th percentiles use the nearest-rank definition on sorted samples (the
//! p90 of 10 samples is the 9th smallest), so every reported number is a time that some run
//! actually took; the median of an even count is the mean of the two middle samples.

/// The summary of one case's samples, in microseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub runs: usize,
    pub median_us: f64,
    pub p90_us: f64,
    pub min_us: f64,
    pub max_us: f64,
}

/// Summarizes samples (any order); `None` when there are none or one is not finite.
pub fn summarize(samples: &[f64]) -> Option<Summary> {
    if samples.is_empty() || samples.iter().any(|s| !s.is_finite()) {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    Some(Summary {
        runs: sorted.len(),
        median_us: median_sorted(&sorted),
        p90_us: percentile_sorted(&sorted, 90.0),
        min_us: sorted[0],
        max_us: sorted[sorted.len() - 1],
    })
}

fn median_sorted(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// Nearest-rank percentile of sorted, non-empty samples.
fn percentile_sorted(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "ranks are small positive counts"
    )]
    let rank = ((p / 100.0) * n as f64).ceil() as usize;
    sorted[rank.clamp(1, n) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(samples: &[f64]) -> Summary {
        summarize(samples).expect("non-empty finite samples")
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(summary(&[3.0, 1.0, 2.0]).median_us, 2.0);
        assert_eq!(summary(&[4.0, 1.0, 3.0, 2.0]).median_us, 2.5);
        assert_eq!(summary(&[7.0]).median_us, 7.0);
    }

    #[test]
    fn p90_is_nearest_rank() {
        let ten: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(summary(&ten).p90_us, 9.0);
        let hundred: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        assert_eq!(summary(&hundred).p90_us, 90.0);
        assert_eq!(summary(&[5.0]).p90_us, 5.0);
        assert_eq!(summary(&[1.0, 2.0, 3.0]).p90_us, 3.0);
    }

    #[test]
    fn min_max_and_runs() {
        let s = summary(&[2.0, 9.0, 4.0]);
        assert_eq!((s.runs, s.min_us, s.max_us), (3, 2.0, 9.0));
    }

    #[test]
    fn nothing_to_summarize() {
        assert!(summarize(&[]).is_none());
        assert!(summarize(&[1.0, f64::NAN]).is_none());
    }
}
