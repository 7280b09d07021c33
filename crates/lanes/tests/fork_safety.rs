//! Forking stays safe while the parent's other threads hold locks: the measured hazard (a
//! child forked while another thread held a Rust mutex, the stdout lock or the allocator's
//! lock hung 5-50% of the time) cannot reach workers, because only the single-threaded fork
//! server forks. A bounded loop of executions, each under a watchdog that fails the test
//! instead of hanging. (The Python-lock variant is in the CLI's tests.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::*;
use engine::{BranchLanes, ExecutionOptions};
use lanes::ServerOptions;
use serde_json::json;

static SHARED: Mutex<Vec<u64>> = Mutex::new(Vec::new());

fn main() {
    // Before any thread: the fork server.
    let server = start_server(ServerOptions::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut holders = Vec::new();
    for kind in 0..3 {
        let stop = Arc::clone(&stop);
        holders.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match kind {
                    0 => {
                        let mut g = SHARED.lock().unwrap();
                        g.push(1);
                        g.clear();
                        std::thread::sleep(Duration::from_micros(50));
                    }
                    1 => {
                        let mut out = std::io::stdout().lock();
                        let _ = out.flush();
                        std::thread::sleep(Duration::from_micros(50));
                    }
                    _ => {
                        let v: Vec<Vec<u8>> = (0..64).map(|i| vec![0u8; 1 << (i % 16)]).collect();
                        drop(v);
                    }
                }
            }
        }));
    }
    let tests: Vec<Check> = vec![(
        "fork_while_other_threads_hold_locks",
        Box::new(move || {
            let engine = engine(BranchLanes::Process, Some(&server));
            let input = json!({"case": "map", "items": (0..6).map(|n| json!({"do": "ok", "n": n})).collect::<Vec<_>>()});
            for round in 0..150 {
                let out = within(&format!("round {round}"), Duration::from_secs(20), || {
                    engine
                        .execute(&workflow(), input.clone(), &ExecutionOptions::default())
                        .into_json()
                });
                assert_eq!(out.unwrap()[5]["out"]["n2"], json!(10));
            }
            assert_no_workers(&server);
        }),
    )];
    run_all(tests);
    stop.store(true, Ordering::Relaxed);
    for h in holders {
        let _ = h.join();
    }
}
