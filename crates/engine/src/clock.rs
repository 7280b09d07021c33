//! Time, behind a trait so tests run Wait states and retry back-off instantly.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use crate::runtime::CancelToken;

pub trait Clock: Send + Sync {
    /// Wall-clock time, for the context object's timestamps and `Timestamp` waits.
    fn now(&self) -> SystemTime;
    /// Monotonic time, for deadlines.
    fn instant(&self) -> Instant;
    /// Sleeps for `duration`, returning early when `cancel` is raised.
    fn sleep(&self, duration: Duration, cancel: &CancelToken);
}

/// The real clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn instant(&self) -> Instant {
        Instant::now()
    }

    fn sleep(&self, duration: Duration, cancel: &CancelToken) {
        // Sleep in short slices so a cancelled branch stops waiting promptly.
        const SLICE: Duration = Duration::from_millis(20);
        let end = Instant::now().checked_add(duration);
        while !cancel.is_cancelled() {
            let now = Instant::now();
            let left = match end {
                Some(end) if now >= end => break,
                Some(end) => end - now,
                None => SLICE,
            };
            std::thread::sleep(left.min(SLICE));
        }
    }
}

/// A clock that only moves when something sleeps: for deterministic, instant tests.
#[derive(Debug)]
pub struct ManualClock {
    start_wall: SystemTime,
    start_instant: Instant,
    elapsed: Mutex<Duration>,
}

impl ManualClock {
    /// A clock that reads `start` until something sleeps.
    pub fn new(start: SystemTime) -> Self {
        ManualClock {
            start_wall: start,
            start_instant: Instant::now(),
            elapsed: Mutex::new(Duration::ZERO),
        }
    }

    /// Total time slept so far.
    pub fn elapsed(&self) -> Duration {
        *self.elapsed.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Moves the clock forward.
    pub fn advance(&self, d: Duration) {
        let mut elapsed = self.elapsed.lock().unwrap_or_else(|p| p.into_inner());
        *elapsed = elapsed.saturating_add(d);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        // A fuzzed Wait can ask for centuries: saturate instead of overflowing.
        self.start_wall
            .checked_add(self.elapsed())
            .unwrap_or(self.start_wall + Duration::from_secs(u32::MAX.into()))
    }

    fn instant(&self) -> Instant {
        self.start_instant
            .checked_add(self.elapsed())
            .unwrap_or(self.start_instant + Duration::from_secs(u32::MAX.into()))
    }

    fn sleep(&self, duration: Duration, _cancel: &CancelToken) {
        self.advance(duration);
    }
}
