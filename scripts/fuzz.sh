#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 10), one core, and exits non-zero when any
# target finds a crash, a timeout or an out-of-memory input (its reproducer is left in
# fuzz/artifacts/TARGET/). Installs cargo-fuzz from crates.io when it is missing. cargo-fuzz
# needs nightly flags (-Z sanitizer); on the stable toolchain RUSTC_BOOTSTRAP=1 enables them.
#
#   scripts/fuzz.sh 20                 every target, 20 s each (one process, one core)
#   scripts/fuzz.sh 3600 definition    one target for an hour
#   FUZZ_ARGS="-runs=1000" scripts/fuzz.sh 60   extra libFuzzer flags
#   FUZZ_SANITIZER=none scripts/fuzz.sh 3600     long campaigns: no AddressSanitizer
#
# AddressSanitizer (the default, what CI runs) checks the unsafe code's memory accesses but
# makes the whole-engine targets 4-50x slower (every allocation records its stack). Panics,
# hangs and out-of-memory inputs, what a long campaign hunts in safe code, are caught without
# it; such builds go to their own target directory so the two do not rebuild each other.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-10}"
shift || true
export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi
sanitizer="${FUZZ_SANITIZER:-address}"
build=(--sanitizer "$sanitizer")
[ "$sanitizer" = address ] || build+=(--target-dir "target/sanitizer-$sanitizer")
cargo fuzz build "${build[@]}"
# The official JSONata test suite beside the repository (../shared, as in CI) seeds the
# jsonata_expression target: each case's expression and input as `EXPR\n---\nINPUT`, written
# to a temporary directory (the suite is read from where it lives, never copied in).
suite="$(cd .. && pwd)/../shared/data/jsonata-test-suite"
jsonata_seeds() {
    local dir
    dir="$(mktemp -d)"
    python3 - "$suite" "$dir" <<'PY'
import json, pathlib, sys
suite, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
for n, case in enumerate(sorted(suite.glob("groups/*/*.json"))):
    try:
        spec = json.loads(case.read_text())
    except ValueError:
        continue
    for i, c in enumerate(spec if isinstance(spec, list) else [spec]):
        if not isinstance(c.get("expr"), str):
            continue
        data = c.get("data")
        if data is None and c.get("dataset"):
            path = suite / "datasets" / (c["dataset"] + ".json")
            data = json.loads(path.read_text()) if path.exists() else None
        text = c["expr"] if data is None else c["expr"] + "\n---\n" + json.dumps(data)
        (out / f"{n}-{i}").write_bytes(text.encode("utf-8", "surrogatepass"))
PY
    echo "$dir"
}

status=0
for target in "${targets[@]}"; do
    corpus="corpus/$target"
    mkdir -p "$corpus" "artifacts/$target"
    seeds=()
    [ -d "seeds/$target" ] && seeds=("seeds/$target")
    if [ "$target" = jsonata_expression ] && [ -d "$suite" ]; then
        generated="$(jsonata_seeds)"
        trap 'rm -rf "$generated"' EXIT
        seeds+=("$generated")
    fi
    dict=asl.dict
    [ "$target" = jsonata_expression ] && dict=jsonata.dict
    log="artifacts/$target/last-run.log"
    # -timeout: one input taking 10 s is a hang; -rss_limit_mb: 2 GB is an OOM.
    # -detect_leaks=0: a scoped branch thread's TLS destructor list (64 bytes, allocated by
    # glibc's __cxa_thread_atexit_impl) can still be live when the scope has joined and
    # LeakSanitizer looks, which reported a leak for no input that leaks (the reproducer run
    # alone reports none). Leaks are not what these targets hunt.
    if cargo fuzz run "${build[@]}" "$target" "$corpus" "${seeds[@]}" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -detect_leaks=0 \
        -dict="$dict" -print_final_stats=1 ${FUZZ_ARGS:-} >"$log" 2>&1; then
        echo "$target: ok, $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$') executions; $(grep 'faastlane-fuzz:' "$log" | tail -1)"
    else
        echo "$target: FAILED (see fuzz/$log)" >&2
        grep -E 'ERROR: libFuzzer|panicked|SUMMARY|Test unit written' "$log" | head -5 >&2 || true
        status=1
    fi
done
exit "$status"
