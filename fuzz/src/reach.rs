//! How many of the fuzzer's inputs reach evaluation (`Engine::execute`, or a path, template,
//! intrinsic or Choice rule being evaluated). Every 100,000 inputs, and when the process
//! exits, one line goes to stderr; `scripts/fuzz.sh` reports the last one.

use std::sync::atomic::{AtomicU64, Ordering};

static INPUTS: AtomicU64 = AtomicU64::new(0);
static REACHED: AtomicU64 = AtomicU64::new(0);
/// Whether the current input was already counted as reaching evaluation.
static COUNTED: AtomicU64 = AtomicU64::new(u64::MAX);

/// Call once at the start of every input.
pub fn input() {
    let n = INPUTS.fetch_add(1, Ordering::Relaxed) + 1;
    if n.is_multiple_of(100_000) {
        report();
    }
}

/// Call when the current input reaches evaluation (counted once per input).
pub fn reached() {
    let n = INPUTS.load(Ordering::Relaxed);
    if COUNTED.swap(n, Ordering::Relaxed) != n {
        REACHED.fetch_add(1, Ordering::Relaxed);
    }
}

/// Prints `faastlane-fuzz: R of N inputs reached evaluation (P%)`.
pub fn report() {
    let n = INPUTS.load(Ordering::Relaxed);
    let r = REACHED.load(Ordering::Relaxed);
    let pct = if n == 0 {
        0.0
    } else {
        r as f64 * 100.0 / n as f64
    };
    eprintln!("faastlane-fuzz: {r} of {n} inputs reached evaluation ({pct:.1}%)");
}

extern "C" fn report_at_exit() {
    report();
}

/// Registers the exit report (once per process).
pub fn init() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        unsafe extern "C" {
            fn atexit(f: extern "C" fn()) -> i32;
        }
        // SAFETY: `report_at_exit` is a plain function that lives for the whole process.
        unsafe { atexit(report_at_exit) };
    });
}
