//! Helpers of the harness-less process-lane tests (here and in `crates/python/tests`): a watchdog, and checks for zombies and
//! leaked descriptors.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use lanes::ForkServer;

/// Runs `f`, exiting the whole test process with a failure if it takes longer than `limit`
/// (a hang must fail CI, not stall it).
pub fn within<R>(name: &str, limit: Duration, f: impl FnOnce() -> R) -> R {
    let done = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&done);
    let label = name.to_string();
    std::thread::spawn(move || {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if flag.load(Ordering::Acquire) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("HANG: '{label}' did not finish within {limit:?}");
        std::process::exit(2);
    });
    let r = f();
    done.store(true, Ordering::Release);
    r
}

/// Processes whose parent is `pid`, with their state letter.
pub fn children_of(pid: u32) -> Vec<(u32, char)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next().and_then(|s| s.chars().next()).unwrap_or('?');
        let ppid: u32 = fields.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        if ppid == pid {
            out.push((child, state));
        }
    }
    out
}

/// Ends the server's idle workers (kept for reuse between states), then waits (up to 5 s)
/// until the fork server has no child left but its spare: every worker exited and was reaped.
pub fn assert_no_workers(server: &ForkServer) {
    server.retire_idle();
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        let spare = lanes::SPARE_NAME.to_str().unwrap();
        let kids: Vec<(u32, char)> = children_of(server.pid())
            .into_iter()
            .filter(|(pid, state)| {
                *state == 'Z'
                    || std::fs::read_to_string(format!("/proc/{pid}/comm"))
                        .map_or(true, |c| c.trim_end() != spare)
            })
            .collect();
        if kids.is_empty() {
            return;
        }
        assert!(Instant::now() < end, "workers left behind: {kids:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// This process's open descriptors once the server's idle workers (and their channels) are
/// gone: the count to compare with after [`assert_no_workers`].
pub fn settled_fds(server: &ForkServer) -> usize {
    server.retire_idle();
    open_fds()
}

/// A named check.
pub type Check = (&'static str, Box<dyn FnOnce()>);

/// Runs named checks, prints a summary line CI understands, exits non-zero on failure.
pub fn run_all(tests: Vec<Check>) {
    let (mut passed, mut failed) = (0, 0);
    for (name, test) in tests {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(test));
        match outcome {
            Ok(()) => {
                println!("test {name} ... ok");
                passed += 1;
            }
            Err(_) => {
                println!("test {name} ... FAILED");
                failed += 1;
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        std::process::exit(1);
    }
}
