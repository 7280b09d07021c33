#!/usr/bin/env bash
# Runs the tests that need Intel protection keys (PKU) inside a QEMU guest whose emulated CPU
# has them (TCG `-cpu max`), on a host CPU that may not.
#
#   scripts/test-mpk-qemu.sh                 # the crates in MPK_CRATES (default below)
#   MPK_CRATES="faastlane-mpk" scripts/test-mpk-qemu.sh
#
# What it does (adapted from ../shared/notes/mpk-qemu/run-mpk-qemu.sh, see its NOTES.md):
#   1. installs qemu-system-x86 (from bookworm-backports through a private apt config when
#      bookworm's would remove a preinstalled package), busybox-static and cpio;
#   2. downloads a Debian cloud kernel package (not installed: `apt-get download` + `dpkg -x`)
#      and checks CONFIG_X86_INTEL_MEMORY_PROTECTION_KEYS=y;
#   3. builds the crates' test binaries statically (`-C target-feature=+crt-static` with an
#      explicit --target, so build scripts and proc-macros are left alone);
#   4. packs them with busybox into an initramfs whose /init sets MPK_REQUIRE=1 (a test that
#      finds no PKU fails instead of skipping) and runs each one;
#   5. boots it under `timeout` and prints MPK-QEMU: PASS or FAIL (exit 0 / 1; 2: setup).
# A test binary whose harness ran no test at all fails the run, so an empty filter cannot pass
# (the crates' doctests do not run in the guest).
#
# Knobs: MPK_NEGATIVE=1 (first check that the tests fail in a guest booted with nopku),
# MPK_BENCH=1 (also run the switch, chain and healthcare benchmarks in the guest; BENCH_RUNS
# executions per mode for healthcare, default 5), MPK_CLI=0 (skip the
# CLI run of the healthcare example with each --isolation, on by default), MPK_CRATES, WORK (cache, default target/mpk-qemu), TIMEOUT (s, default 300),
# MEM (MiB, default 512), QEMU_CPU (default max), EXTRA_APPEND (guest cmdline, e.g. nopku
# for a negative control), TEST_ARGS (for every test binary).
set -euo pipefail

ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${WORK:-$ROOT_DIR/target/mpk-qemu}
MPK_CRATES=${MPK_CRATES:-faastlane-mpk faastlane-isolation}
TIMEOUT=${TIMEOUT:-300}
MEM=${MEM:-512}
QEMU_CPU=${QEMU_CPU:-max}
TEST_ARGS=${TEST_ARGS:-}
KFLAVOUR=cloud-amd64
RUST_TARGET=x86_64-unknown-linux-gnu

T0=$(date +%s)
log() { printf '[mpk-qemu %3ss] %s\n' "$(( $(date +%s) - T0 ))" "$*" >&2; }
die() { log "error: $*"; echo "MPK-QEMU: FAIL (setup)"; exit 2; }
[ "$(uname -m)" = x86_64 ] || die "an x86_64 host is needed"
mkdir -p "$WORK/cache"

# ------------------------------------------------------------------ 1. packages
export DEBIAN_FRONTEND=noninteractive
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo -E"
APT_UPDATED=0
apt_update() { [ $APT_UPDATED -eq 1 ] || { $SUDO apt-get update -qq; APT_UPDATED=1; }; }
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
missing=()
for p in busybox-static cpio; do installed "$p" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt_update
  log "apt-get install ${missing[*]}"
  $SUDO apt-get install -y -qq --no-install-recommends --no-remove "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
fi
if ! command -v qemu-system-x86_64 >/dev/null; then
  apt_update
  # bookworm's QEMU 7.2 conflicts with a preinstalled qemu-utils 10.x from backports: then
  # take QEMU from bookworm-backports, through a private apt config (/etc/apt untouched).
  if apt-get install -s --no-install-recommends qemu-system-x86 2>/dev/null | grep -q '^Remv'; then
    log "qemu-system-x86 from bookworm-backports"
    A=$WORK/apt-bpo; mkdir -p "$A/lists/partial" "$A/archives/partial"
    { echo "deb http://deb.debian.org/debian bookworm main"
      echo "deb http://deb.debian.org/debian bookworm-updates main"
      echo "deb http://deb.debian.org/debian bookworm-backports main"
      echo "deb http://deb.debian.org/debian-security bookworm-security main"; } > "$A/sources.list"
    AO=(-o Dir::Etc::sourcelist="$A/sources.list" -o Dir::Etc::sourceparts=- -o Dir::State::lists="$A/lists"
        -o Dir::Cache::archives="$A/archives" -o APT::Sandbox::User=root)
    $SUDO apt-get "${AO[@]}" update -qq || die "apt-get update (backports) failed"
    $SUDO apt-get "${AO[@]}" install -y -qq --no-install-recommends --no-remove -t bookworm-backports \
      qemu-system-x86 >/dev/null || die "installing qemu-system-x86 from backports failed"
    rm -rf "$A/archives"/*.deb
  else
    log "apt-get install qemu-system-x86"
    $SUDO apt-get install -y -qq --no-install-recommends --no-remove qemu-system-x86 >/dev/null \
      || die "apt-get install qemu-system-x86 failed"
  fi
fi
log "$(qemu-system-x86_64 --version | head -1)"

# ------------------------------------------------------- 2. guest kernel (not installed)
KDIR=$WORK/cache/kernel-$KFLAVOUR
VMLINUZ=$(ls "$KDIR"/boot/vmlinuz-* 2>/dev/null | head -1 || true)
if [ -z "$VMLINUZ" ]; then
  apt_update
  KPKG=$(apt-cache depends "linux-image-$KFLAVOUR" | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -1)
  [ -n "$KPKG" ] || die "cannot resolve linux-image-$KFLAVOUR"
  log "downloading $KPKG (apt-get download, not installed)"
  ( cd "$WORK/cache" && rm -f linux-image-*.deb && apt-get download -qq -o APT::Sandbox::User=root "$KPKG" ) \
    || die "apt-get download $KPKG failed"
  rm -rf "$KDIR"; dpkg -x "$WORK"/cache/"$KPKG"_*.deb "$KDIR"
  rm -f "$WORK"/cache/"$KPKG"_*.deb
  rm -rf "$KDIR/lib" "$KDIR/usr"   # only boot/ is needed: serial, initramfs, devtmpfs are built in
  VMLINUZ=$(ls "$KDIR"/boot/vmlinuz-* | head -1)
fi
grep -q '^CONFIG_X86_INTEL_MEMORY_PROTECTION_KEYS=y' "$KDIR"/boot/config-* \
  || die "the guest kernel lacks CONFIG_X86_INTEL_MEMORY_PROTECTION_KEYS"

# ------------------------------------------------------------------- 3. test binaries
BUILD=$WORK/build; rm -rf "$BUILD"; mkdir -p "$BUILD"
PKGS=(); for c in $MPK_CRATES; do PKGS+=(-p "$c"); done
log "cargo test --no-run ${PKGS[*]} (static, --target $RUST_TARGET)"
( cd "$ROOT_DIR" && RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
    cargo test --no-run "${PKGS[@]}" --target "$RUST_TARGET" --message-format=json-render-diagnostics ) \
  > "$WORK/cargo-test.json" || die "cargo test --no-run failed"
n=0
for b in $(grep '"reason":"compiler-artifact"' "$WORK/cargo-test.json" | grep -E '"profile":\{[^}]*"test":true' \
           | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p'); do
  strip --strip-debug -o "$BUILD/$(basename "$b")" "$b"; n=$((n+1))
done
[ "$n" -gt 0 ] || die "no test binaries built"
if [ "${MPK_BENCH:-0}" = 1 ]; then
  # The switch and chain benchmarks (release), run in the guest after the tests.
  log "cargo build --release --example switch --example chain"
  ( cd "$ROOT_DIR" && RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
      cargo build --release -p faastlane-mpk -p faastlane-isolation --example switch --example chain \
      --target "$RUST_TARGET" --message-format=json-render-diagnostics ) > "$WORK/cargo-bench.json" \
    || die "building the benchmarks failed"
  for b in $(grep '"reason":"compiler-artifact"' "$WORK/cargo-bench.json" | grep '"kind":\["example"\]' \
             | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p'); do
    strip --strip-debug -o "$BUILD/zz-bench-$(basename "$b")" "$b"; n=$((n+1))
  done
fi

# The CLI on the healthcare example (MPK_CLI=1): the binary with its shared libraries and the
# embedded Python's standard library (at the host's paths, which libpython looks in), so the
# choice of `--isolation` is checked where protection keys exist.
add_cli() {
  log "cargo build -p faastlane (the CLI, with libpython and its standard library)"
  ( cd "$ROOT_DIR" && cargo build -q -p faastlane ) || die "building the CLI failed"
  local bin=$ROOT_DIR/target/debug/faastlane lib
  mkdir -p "$INITRD/usr/bin" "$INITRD/healthcare"
  strip --strip-debug -o "$INITRD/usr/bin/faastlane" "$bin"
  for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
    mkdir -p "$INITRD$(dirname "$lib")"; cp -L "$lib" "$INITRD$lib"
  done
  local libpython prefix stdlib
  libpython=$(ldd "$bin" | grep -o '/[^ ]*libpython[^ ]*' | head -1)
  [ -n "$libpython" ] || die "the CLI does not link libpython"
  prefix=$(dirname "$(dirname "$libpython")")
  stdlib=$(ls -d "$prefix"/lib/python3.* | head -1)
  mkdir -p "$INITRD$stdlib"
  ( cd "$stdlib" && tar -c --exclude=site-packages --exclude=test --exclude=__pycache__ --exclude=idlelib \
      --exclude=tkinter --exclude=ensurepip --exclude=lib2to3 --exclude='config-*' . ) | tar -x -C "$INITRD$stdlib"
  cp "$ROOT_DIR"/examples/healthcare/*.json "$ROOT_DIR"/examples/healthcare/*.py "$INITRD/healthcare/"
  mkdir -p "$INITRD/peek"
  cp "$ROOT_DIR"/crates/cli/tests/fixtures/isolation-peek/* "$INITRD/peek/"
  mkdir -p "$INITRD/many" "$INITRD/globals" "$INITRD/lookup"
  cp "$ROOT_DIR"/crates/cli/tests/fixtures/isolation-many/* "$INITRD/many/"
  cp "$ROOT_DIR"/crates/cli/tests/fixtures/isolation-globals/* "$INITRD/globals/"
  cp "$ROOT_DIR"/crates/cli/tests/fixtures/isolation-lookup/* "$INITRD/lookup/"
  # The peek fixture as an OpenWhisk zip action's /init body (busybox has no zip).
  python3 - "$ROOT_DIR/crates/cli/tests/fixtures/isolation-peek" > "$INITRD/peek-init.json" <<'PY' \
    || die "making the OpenWhisk /init body"
import base64, io, json, pathlib, sys, zipfile
buffer = io.BytesIO()
with zipfile.ZipFile(buffer, "w") as z:
    for f in sorted(pathlib.Path(sys.argv[1]).iterdir()):
        z.write(f, f.name)
code = base64.b64encode(buffer.getvalue()).decode()
print(json.dumps({"value": {"name": "/guest/peek", "code": code, "binary": True}}))
PY
  for lib in $(ldd "$stdlib"/lib-dynload/_ctypes.*.so | grep -o '=> /[^ ]*' | cut -c4-); do
    mkdir -p "$INITRD$(dirname "$lib")"; cp -L "$lib" "$INITRD$lib"
  done
  cat > "$INITRD/tests/zz-cli-healthcare" <<'CLI'
#!/bin/busybox sh
# The CLI in a guest with protection keys: the healthcare example with every --isolation
# (mpk: its Python functions in protection domains), and a function reading another's
# domain memory through ctypes.
set -u
cd /tmp
fail() { echo "cli: $*"; exit 1; }
run() { # mode fixture [input file name, default input.json]
  t0=$(cut -d' ' -f1 /proc/uptime)
  faastlane run /$2 --input /$2/${3:-input.json} --isolation $1 > $2-$1.json 2> $2-$1.err \
    || fail "$2 --isolation $1: exit $?: $(cat $2-$1.err) $(head -c 1500 $2-$1.json)"
  echo "cli: $2 --isolation $1: $(awk -v a=$t0 -v b=$(cut -d' ' -f1 /proc/uptime) 'BEGIN { printf "%.2f", b - a }') s"
}
same() { # fixture pattern mode...: none's output has pattern, each mode's equals none's
  f=$1; pattern=$2; shift 2
  run none $f
  grep -q "$pattern" $f-none.json || fail "unexpected output of $f: $(head -c 300 $f-none.json)"
  for m in "$@"; do
    run $m $f
    cmp -s $f-none.json $f-$m.json || fail "$f: $m's output differs from none's: $(head -c 600 $f-$m.json)"
  done
}
caught() { # fixture input after: peek reads keep's secret under none, is caught under mpk
  run none $1 $2
  grep -q '"read":"patient ssn 123-45-6789"' $1-none.json || fail "without isolation peek should read the secret: $(tail -c 300 $1-none.json)"
  run mpk $1 $2
  tail -c 700 $1-mpk.json; echo
  grep -q '123-45-6789' $1-mpk.json && fail "peek read the secret under mpk ($1)"
  grep -q '"caught":{"Error":"Faastlane.IsolationViolation","Cause":"function .peek. (state .Peek.) read the memory of domain .keep. at address 0x' $1-mpk.json \
    || fail "peek's read is not reported as Faastlane.IsolationViolation ($1)"
  grep -q "$3" $1-mpk.json || fail "the execution did not go on after the violation ($1)"
}
same healthcare '"patients":12' auto process mpk
grep -q '^isolation: mpk (this CPU has protection keys)$' healthcare-auto.err || fail "auto's notice: $(cat healthcare-auto.err)"
echo "cli: healthcare gives the same output with isolation none, auto (mpk), process and mpk"
caught peek input.json '"after":{"ok":true}'
run mpk peek
grep -q 'Faastlane.IsolationViolation' peek-mpk.json || fail "the second run differs"
echo "cli: a ctypes read of another function's domain is Faastlane.IsolationViolation, the execution goes on"
# Eighteen sensitive Python steps (more domains than keys), each changing in place what the
# previous one handed on; then, with peek, Keep, Peek and After: 21 domains.
same many '"total":171,' mpk
echo "cli: 18 sensitive python functions give the same output with isolation none and mpk"
caught many input-peek.json '"after":{"ok":true,"steps":18}'
echo "cli: among 21 sensitive python functions, a ctypes read of another's domain is Faastlane.IsolationViolation"
# Twelve new module globals (the module's dict grows inside count's domain), read by another
# sensitive function: no false alarm, the dict's table is moved back to the shared domain.
same globals '"report":{"sum":78,' mpk
echo "cli: new module globals set in one domain are read from another without a false alarm"
# A name made in Name's domain stays in the interpreter's method cache; Sweep's lookups
# replace every entry (each dropping the name it held): no fault, the release after Name's
# gate let it go.
same lookup '"sweep":{"swept":50000}' mpk
echo "cli: a name cached from one domain is not dropped by another function (no false alarm)"
# faastlane serve --isolation mpk: its executors run the workflows' sensitive functions in
# protection domains. The Step Functions API through busybox wget.
ip link set lo up 2>/dev/null
sfn() { wget -q -O - --header "X-Amz-Target: AWSStepFunctions.$1" \
  --header 'Content-Type: application/x-amz-json-1.0' --post-data "$2" http://127.0.0.1:8083/; }
execute() { # machine input-file: prints DescribeExecution's answer once the execution ended
  input=$(sed 's/\\/\\\\/g; s/"/\\"/g' "$2" | tr -d '\n')
  arn=$(sfn StartExecution "{\"stateMachineArn\":\"arn:aws:states:us-east-1:111111111111:stateMachine:$1\",\"input\":\"$input\"}" \
    | sed -n 's/.*"executionArn":"\([^"]*\)".*/\1/p')
  [ -n "$arn" ] || fail "serve: StartExecution of $1 failed: $(tail -5 serve.log)"
  i=0
  while :; do
    out=$(sfn DescribeExecution "{\"executionArn\":\"$arn\"}")
    case "$out" in *'"status":"RUNNING"'*) ;; *) break ;; esac
    i=$((i + 1)); [ $i -lt 600 ] || fail "serve: $1 still running after 120 s"
    sleep 0.2
  done
  echo "$out"
}
faastlane serve --isolation mpk --db :memory: --workers 1 /healthcare /peek > serve.log 2>&1 &
server=$!
i=0
until wget -q -O /dev/null http://127.0.0.1:8083/healthz 2>/dev/null; do
  i=$((i + 1)); [ $i -lt 300 ] || fail "serve did not start: $(cat serve.log)"; sleep 0.2
done
out=$(execute healthcare /healthcare/input.json)
echo "$out" | grep -q '"status":"SUCCEEDED"' || fail "serve: healthcare under mpk: $(echo "$out" | head -c 800) $(tail -20 serve.log)"
echo "$out" | grep -q '\\"patients\\":12' || fail "serve: healthcare's output: $(echo "$out" | head -c 800)"
out=$(execute peek /peek/input.json)
echo "$out" | grep -q '"status":"SUCCEEDED"' || fail "serve: peek under mpk: $(echo "$out" | head -c 800) $(tail -20 serve.log)"
echo "$out" | grep -q 'Faastlane.IsolationViolation' || fail "serve: peek's read was not caught: $(echo "$out" | head -c 800)"
echo "$out" | grep -q '123-45-6789' && fail "serve: peek read the secret under mpk"
kill $server
echo "cli: faastlane serve --isolation mpk: healthcare succeeds, a read of another function's domain is Faastlane.IsolationViolation"
# faastlane openwhisk --isolation mpk: the zip action's sensitive functions in domains.
faastlane openwhisk --isolation mpk --host 127.0.0.1 --port 8080 --work-dir /tmp/ow > ow.log 2>&1 &
server=$!
i=0
until grep -q "listening on" ow.log; do
  i=$((i + 1)); [ $i -lt 300 ] || fail "openwhisk did not start: $(cat ow.log)"; sleep 0.2
done
wget -q -O - --header 'Content-Type: application/json' --post-file /peek-init.json \
  http://127.0.0.1:8080/init > init.out || fail "openwhisk /init: $(cat init.out) $(tail -5 ow.log)"
out=$(wget -q -O - --header 'Content-Type: application/json' --post-data '{"value": {}}' \
  http://127.0.0.1:8080/run) || fail "openwhisk /run: $(tail -10 ow.log)"
echo "$out" | grep -q '"caught":{"Error":"Faastlane.IsolationViolation"' \
  || fail "openwhisk: peek's read was not caught: $(echo "$out" | head -c 800) $(tail -10 ow.log)"
echo "$out" | grep -q '123-45-6789' && fail "openwhisk: peek read the secret under mpk"
echo "$out" | grep -q '"after":{"ok":true}' || fail "openwhisk: the action did not go on: $out"
kill $server
echo "cli: faastlane openwhisk --isolation mpk: a read of another function's domain is Faastlane.IsolationViolation"
CLI
  chmod +x "$INITRD/tests/zz-cli-healthcare"
  if [ "${MPK_BENCH:-0}" = 1 ]; then
    # The healthcare example per execution, isolation none / process / mpk, in one process.
    # (a debug build, as the CLI above: the time is Python's and the emulator's)
    log "cargo build -p faastlane --example isolation_healthcare"
    ( cd "$ROOT_DIR" && cargo build -q -p faastlane --example isolation_healthcare ) \
      || die "building the healthcare benchmark failed"
    strip --strip-debug -o "$INITRD/usr/bin/isolation_healthcare" "$ROOT_DIR/target/debug/examples/isolation_healthcare"
    mkdir -p "$INITRD$ROOT_DIR/crates/cli" "$INITRD$ROOT_DIR/examples"
    cp -r "$ROOT_DIR/examples/healthcare" "$INITRD$ROOT_DIR/examples/"
    printf '#!/bin/busybox sh\nisolation_healthcare %s\n' "${BENCH_RUNS:-5}" > "$INITRD/tests/zz-zbench-healthcare"
    chmod +x "$INITRD/tests/zz-zbench-healthcare"
  fi
}

# ------------------------------------------------------------------------ 4. initramfs
INITRD=$WORK/initramfs; rm -rf "$INITRD"
mkdir -p "$INITRD"/{bin,proc,sys,dev,tmp,tests}
cp /bin/busybox "$INITRD/bin/busybox"
cp "$BUILD"/* "$INITRD/tests/"
if [ "${MPK_CLI:-1}" = 1 ]; then add_cli; MEM=$(( MEM < 1024 ? 1024 : MEM )); fi
cat > "$INITRD/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev 2>/dev/null
mount -t tmpfs tmp /tmp
echo "GUEST: kernel \$(uname -r), cpu flags: \$(grep -m1 -o -w -E 'pku|ospke' /proc/cpuinfo | tr '\n' ' ')"
export MPK_REQUIRE=1 RUST_BACKTRACE=1 HOME=/tmp PATH=/bin:/usr/bin FAASTLANE_MPK_DEBUG=1
rc=0
for t in /tests/*; do
  echo "GUEST: ==> \$t"
  cd /tmp; "\$t" $TEST_ARGS > /tmp/out 2>&1; r=\$?
  cat /tmp/out
  if [ \$r -eq 0 ] && grep -q -E '^running 0 tests' /tmp/out && ! grep -q -E '^test result: ok\. [1-9]' /tmp/out; then
    echo "GUEST: \$t ran no test"; r=1
  fi
  echo "GUEST: <== \$t exit=\$r"
  [ \$r -eq 0 ] || rc=1
done
[ \$rc -eq 0 ] && echo "MPK-RESULT: PASS" || echo "MPK-RESULT: FAIL"
sync; poweroff -f
INIT
chmod +x "$INITRD/init"
( cd "$INITRD" && find . | cpio -o -H newc --quiet | gzip -1 > "$WORK/initramfs.cpio.gz" )
log "initramfs $(du -h "$WORK/initramfs.cpio.gz" | cut -f1), $n test binaries"

# ----------------------------------------------------------------------------- 5. boot
QEMU=(qemu-system-x86_64 -accel tcg -cpu "$QEMU_CPU" -smp 1 -m "$MEM" -nographic -no-reboot -nic none
      -kernel "$VMLINUZ" -initrd "$WORK/initramfs.cpio.gz"
      -append "console=ttyS0 rdinit=/init panic=-1 quiet ${EXTRA_APPEND:-}")
# MPK_NEGATIVE=1: first boot the same guest with `nopku` (no protection keys for the kernel)
# and require the run to FAIL, proving the tests cannot pass by skipping.
if [ "${MPK_NEGATIVE:-0}" = 1 ]; then
  log "negative control: booting with nopku, expecting the tests to fail"
  NEG=("${QEMU[@]}"); NEG[${#NEG[@]}-1]="${NEG[${#NEG[@]}-1]} nopku"
  set +e
  timeout "$TIMEOUT" "${NEG[@]}" </dev/null 2>&1 | tr -d '\r' > "$WORK/guest-nopku.log"
  set -e
  if grep -q '^MPK-RESULT: FAIL' "$WORK/guest-nopku.log" && grep -q "MPK_REQUIRE=1 but" "$WORK/guest-nopku.log"; then
    log "negative control: the tests fail without protection keys, as they must"
  else
    echo "MPK-QEMU: FAIL (the negative control did not fail: $WORK/guest-nopku.log)"; exit 1
  fi
fi
log "booting: ${QEMU[*]}"
set +e
timeout "$TIMEOUT" "${QEMU[@]}" </dev/null 2>&1 | tr -d '\r' | sed -u 's/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1bc//g' \
  > "$WORK/guest.log"
QRC=${PIPESTATUS[0]}
set -e
grep -E '^(GUEST|MPK-RESULT|test |test result|running|thread|  left|  right|skipped|mpk switch|chain|cli|isolation|healthcare)' "$WORK/guest.log" >&2 || true
log "qemu exit $QRC (guest log: $WORK/guest.log)"
if [ "$QRC" -eq 124 ]; then echo "MPK-QEMU: FAIL (timeout after ${TIMEOUT}s)"; exit 2; fi
if grep -q '^MPK-RESULT: PASS' "$WORK/guest.log"; then echo "MPK-QEMU: PASS"; exit 0; fi
echo "MPK-QEMU: FAIL"; exit 1
