//! What a request to a sibling costs beyond its branches' work, learned from observed round
//! trips the way [`crate::planner::Estimates`] learns what functions cost: every answered batch
//! gives `(branches in it, round trip − the functions' time the sibling reported)`, and a
//! smoothed least-squares line through those points splits that overhead into a per-request
//! part (HTTP exchange, proxy, encoding the request) and a per-branch part (the sibling
//! decoding, running and encoding one more branch, and this instance absorbing its report).

use std::sync::Mutex;
use std::time::Duration;

/// Before any round trip was seen: one loopback HTTP exchange through a proxy (as measured
/// when remote lanes were built), nothing per branch. The first batch then teaches the truth.
pub const PRIOR_PER_REQUEST: Duration = Duration::from_millis(3);

/// Weight of a new observation once there are a few: recent round trips matter more.
const SMOOTHING: f64 = 0.2;

/// The cost model the planner prices remote batches with.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RemoteCost {
    pub per_request: Duration,
    pub per_branch: Duration,
    /// Round trips the model was learned from (0: the prior).
    pub samples: u64,
}

impl RemoteCost {
    pub const PRIOR: RemoteCost = RemoteCost {
        per_request: PRIOR_PER_REQUEST,
        per_branch: Duration::ZERO,
        samples: 0,
    };

    /// The overhead of one batch of `branches` branches.
    pub fn batch(&self, branches: usize) -> Duration {
        self.per_request + self.per_branch * u32::try_from(branches).unwrap_or(u32::MAX)
    }
}

/// Smoothed moments of the observations `(k branches, overhead ns)`.
#[derive(Clone, Copy, Debug, Default)]
struct Moments {
    samples: u64,
    k: f64,
    y: f64,
    kk: f64,
    ky: f64,
}

/// Running remote-lane costs, shared by every execution of an engine.
#[derive(Debug, Default)]
pub struct RemoteCosts {
    moments: Mutex<Moments>,
}

impl RemoteCosts {
    /// One answered batch: `branches` ran on the sibling in `functions` (the durations it
    /// reported) and the exchange took `round_trip` here.
    pub fn record(&self, branches: usize, round_trip: Duration, functions: Duration) {
        let k = branches as f64;
        let y = round_trip.saturating_sub(functions).as_nanos() as f64;
        let mut m = self.moments.lock().unwrap_or_else(|p| p.into_inner());
        m.samples += 1;
        // A plain mean over the first few, then exponential smoothing.
        let w = (1.0 / m.samples as f64).max(SMOOTHING);
        m.k += w * (k - m.k);
        m.y += w * (y - m.y);
        m.kk += w * (k * k - m.kk);
        m.ky += w * (k * y - m.ky);
    }

    /// The current model: the prior until a round trip was seen.
    pub fn current(&self) -> RemoteCost {
        let m = *self.moments.lock().unwrap_or_else(|p| p.into_inner());
        if m.samples == 0 {
            return RemoteCost::PRIOR;
        }
        let variance = m.kk - m.k * m.k;
        // Batches of (nearly) one size cannot separate the two parts: all of the overhead is
        // then charged per branch, which prices smaller batches no cheaper than they were.
        let (a, b) = if variance > 0.25 {
            let b = ((m.ky - m.k * m.y) / variance).max(0.0);
            ((m.y - b * m.k).max(0.0), b)
        } else if m.k >= 1.0 {
            (0.0, m.y / m.k)
        } else {
            (m.y, 0.0)
        };
        RemoteCost {
            per_request: Duration::from_nanos(a as u64),
            per_branch: Duration::from_nanos(b as u64),
            samples: m.samples,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn the_prior_holds_until_a_round_trip_is_seen() {
        assert_eq!(RemoteCosts::default().current(), RemoteCost::PRIOR);
    }

    #[test]
    fn batches_of_several_sizes_split_request_and_branch_costs() {
        let c = RemoteCosts::default();
        // overhead = 5 ms per request + 2 ms per branch, with the functions' own time removed.
        for (k, functions) in [(10, 40), (50, 100), (20, 7), (100, 300)] {
            c.record(k, ms(5 + 2 * k as u64 + functions), ms(functions));
        }
        let m = c.current();
        assert_eq!(m.samples, 4);
        assert!(
            m.per_request.abs_diff(ms(5)) < Duration::from_micros(10),
            "{m:?}"
        );
        assert!(
            m.per_branch.abs_diff(ms(2)) < Duration::from_micros(1),
            "{m:?}"
        );
        assert!(
            m.batch(30).abs_diff(ms(65)) < Duration::from_micros(50),
            "{m:?}"
        );
    }

    #[test]
    fn batches_of_one_size_charge_the_overhead_per_branch() {
        let c = RemoteCosts::default();
        c.record(100, ms(400), ms(100));
        c.record(100, ms(400), ms(100));
        let m = c.current();
        assert_eq!(m.per_request, Duration::ZERO);
        assert_eq!(m.per_branch, ms(3));
    }

    #[test]
    fn recent_round_trips_outweigh_old_ones() {
        let c = RemoteCosts::default();
        for _ in 0..10 {
            c.record(10, ms(10), ms(0));
        }
        for _ in 0..10 {
            c.record(10, ms(100), ms(0));
        }
        let m = c.current();
        assert!(m.batch(10) > ms(80), "{m:?}");
    }

    #[test]
    fn a_sibling_reporting_more_than_the_round_trip_counts_as_no_overhead() {
        let c = RemoteCosts::default();
        c.record(4, ms(10), ms(20));
        assert_eq!(c.current().batch(4), Duration::ZERO);
    }
}
