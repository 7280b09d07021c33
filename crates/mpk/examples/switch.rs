//! What a domain switch costs: a raw PKRU switch pair (allow a key, then deny it again: two
//! `WRPKRU`) and a full gate pair (`Domains::enter` + `Gate::leave`: registry lock, watch,
//! two `WRPKRU`, one `RDPKRU`). Prints medians of 9 rounds; needs PKU (run it in the QEMU
//! guest of `scripts/test-mpk-qemu.sh` with `MPK_BENCH=1`).
//!
//! `cargo run --release -p faastlane-mpk --example switch -- [pairs per round]`

use std::hint::black_box;
use std::time::Instant;

use mpk::{Domains, ProtectionMask};

/// One switch pair, not inlined so its instructions can be counted in the disassembly
/// (`objdump -d --no-show-raw-insn`, symbol `switch::switch_pair`).
#[inline(never)]
fn switch_pair(open: ProtectionMask, closed: ProtectionMask) {
    mpk::allow(open);
    mpk::allow(closed);
}

fn median_ns(pairs: u32, mut round: impl FnMut()) -> f64 {
    let mut samples: Vec<f64> = (0..9)
        .map(|_| {
            let t = Instant::now();
            round();
            t.elapsed().as_nanos() as f64 / f64::from(pairs)
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[4]
}

fn main() {
    let pairs: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    if !mpk::required_or_skip() {
        return;
    }
    let domains = Domains::new().expect("domains");
    let a = domains.create("a");
    let key = {
        let gate = domains.enter(a).expect("enter");
        let key = domains.key_of(a).expect("key");
        gate.leave().expect("nothing touched");
        key
    };
    let closed = ProtectionMask::shared_only();
    let open = closed.or(key);
    let raw = median_ns(pairs, || {
        for _ in 0..pairs {
            switch_pair(black_box(open), black_box(closed));
        }
    });
    let gate = median_ns(pairs, || {
        for _ in 0..pairs {
            let g = domains.enter(a).expect("enter");
            g.leave().expect("nothing touched");
        }
    });
    println!(
        "mpk switch: raw WRPKRU pair {raw:.0} ns, gate enter+leave {gate:.0} ns ({pairs} pairs x 9 rounds, median)"
    );
}
