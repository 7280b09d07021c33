//! Peak resident memory of a mode: this process plus the processes it uses.
//!
//! The benchmark runs every case in a fresh process, so this process's `VmHWM` (its peak RSS,
//! from `/proc/self/status`) is the case's own peak. Worker processes and the Redis server
//! come and go, so a [`Sampler`] thread adds up their `VmRSS` every few milliseconds and keeps
//! the largest sum. A case's peak is the two added: an upper bound when the peaks of the
//! orchestrator and of its helpers do not coincide, which can only overstate the baseline.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often helper processes are sampled.
const INTERVAL: Duration = Duration::from_millis(2);

/// A field (`VmRSS`, `VmHWM`) of `/proc/PID/status`, in KiB.
pub fn status_kb(pid: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_status_kb(&text, field)
}

/// A `Field:  N kB` line of a `/proc` status-like file, in KiB.
pub fn status_kb_from(text: &str, field: &str) -> Option<u64> {
    parse_status_kb(text, field)
}

fn parse_status_kb(text: &str, field: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// This process's peak RSS so far, in KiB.
pub fn own_peak_kb() -> Option<u64> {
    status_kb("self", "VmHWM")
}

/// Which processes to add up: a fixed set and a live, changing one (by resident set size),
/// and fork servers with their children (by proportional set size: forked workers share most
/// of their pages with the server copy-on-write, and summing their RSS would count those
/// pages once per process).
#[derive(Clone, Default)]
pub struct Watched {
    pub fixed: Vec<u32>,
    pub live: Option<Arc<Mutex<HashSet<u32>>>>,
    /// Each one and its children (read from `/proc/PID/task/*/children` at each sample).
    pub forked: Vec<u32>,
}

impl Watched {
    fn pids(&self) -> Vec<u32> {
        let mut pids = self.fixed.clone();
        if let Some(live) = &self.live {
            pids.extend(live.lock().unwrap_or_else(PoisonError::into_inner).iter());
        }
        pids
    }

    fn forked_pids(&self) -> Vec<u32> {
        let mut pids = Vec::new();
        for parent in &self.forked {
            pids.push(*parent);
            pids.extend(children(*parent));
        }
        pids
    }
}

/// Proportional set sizes are read every this many samples (reading `smaps_rollup` walks
/// the process's mappings: too costly every 2 ms on 2 vCPUs).
const PSS_EVERY: u32 = 10;

/// A process's proportional set size, in KiB.
fn pss_kb(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    parse_status_kb(&text, "Pss")
}

/// The children of a process: the `children` lists of its threads.
fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|text| parse_pids(&text))
        .collect()
}

fn parse_pids(text: &str) -> Vec<u32> {
    text.split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Samples the summed RSS of watched processes until stopped.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Sampler {
    pub fn start(watched: Watched) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(0));
        let thread = {
            let (stop, peak) = (Arc::clone(&stop), Arc::clone(&peak));
            std::thread::Builder::new()
                .name("faastlane-rss".into())
                .spawn(move || {
                    let (mut tick, mut forked_kb) = (0u32, 0u64);
                    while !stop.load(Ordering::Relaxed) {
                        if tick % PSS_EVERY == 0 {
                            forked_kb = watched.forked_pids().into_iter().filter_map(pss_kb).sum();
                        }
                        tick = tick.wrapping_add(1);
                        let sum: u64 = watched
                            .pids()
                            .iter()
                            .filter_map(|pid| status_kb(&pid.to_string(), "VmRSS"))
                            .sum();
                        peak.fetch_max(sum + forked_kb, Ordering::Relaxed);
                        std::thread::sleep(INTERVAL);
                    }
                })
                .ok()
        };
        Sampler { stop, peak, thread }
    }

    /// Stops sampling; the largest sum seen, in KiB.
    pub fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.peak.load(Ordering::Relaxed)
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_status_fields() {
        let text = "Name:\tpython3\nVmHWM:\t  20480 kB\nVmRSS:\t   10240 kB\n";
        assert_eq!(parse_status_kb(text, "VmRSS"), Some(10240));
        assert_eq!(parse_status_kb(text, "VmHWM"), Some(20480));
        assert_eq!(parse_status_kb(text, "VmSwap"), None);
    }

    #[test]
    fn reads_children_lists() {
        assert_eq!(parse_pids("12 345 6\n"), vec![12, 345, 6]);
        assert!(parse_pids("").is_empty());
    }

    #[test]
    fn finds_the_children_of_a_process() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .expect("sleep");
        let listed = children(std::process::id());
        let _ = child.kill();
        let _ = child.wait();
        assert!(
            listed.contains(&child.id()),
            "{listed:?} lacks {}",
            child.id()
        );
    }

    #[test]
    fn proportional_set_size_is_read_and_below_resident() {
        let me = std::process::id();
        let pss = pss_kb(me).expect("smaps_rollup has Pss");
        let rss = status_kb("self", "VmRSS").expect("VmRSS");
        assert!(pss > 0 && pss <= rss, "pss {pss} rss {rss}");
    }

    #[test]
    fn own_peak_is_known_on_linux() {
        assert!(own_peak_kb().is_some_and(|kb| kb > 0));
    }
}
