#!/usr/bin/env bash
# Builds a deployable AWS Lambda zip of a faastlane workflow:
#
#   bootstrap          execs bin/faastlane lambda (what the provided.al2023 runtime starts)
#   bin/faastlane      the release binary (built with --no-default-features: no bench suite)
#   lib/libpython*.so  the shared libpython the binary links (Lambda puts /var/task/lib on
#                      LD_LIBRARY_PATH)
#   workflow/          the workflow directory (workflow.json + functions + requirements.txt)
#
# Usage: scripts/package-lambda.sh WORKFLOW_DIR [OUT.zip]   (default OUT: WORKFLOW_NAME-lambda.zip)
# Create the function with --handler workflow (the directory faastlane lambda runs, via
# _HANDLER). FAASTLANE_BIN=path uses an existing binary instead of building one.
#
# What the zip does not carry: the Python standard library and the packages of a
# requirements.txt. The function needs a Python 3.11 installation at the path the binary was
# built against, or a container image (see README, "Deploy"), where the image provides it.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 WORKFLOW_DIR [OUT.zip]" >&2
    exit 2
fi
workflow="$(cd "$1" && pwd)"
name="$(basename "$workflow")"
out="${2:-$name-lambda.zip}"
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
repo="$(cd "$(dirname "$0")/.." && pwd)"

if [ -z "${FAASTLANE_BIN:-}" ]; then
    cargo build --release --no-default-features -p faastlane --manifest-path "$repo/Cargo.toml" >&2
    FAASTLANE_BIN="$repo/target/release/faastlane"
fi
[ -x "$FAASTLANE_BIN" ] || { echo "$0: $FAASTLANE_BIN is not an executable" >&2; exit 2; }
found=0
for definition in workflow.json workflow.yaml workflow.yml statemachine.asl.json statemachine.asl.yaml statemachine.asl.yml; do
    [ -f "$workflow/$definition" ] && found=1
done
[ "$found" = 1 ] || { echo "$0: $workflow has no workflow.json (or another definition name)" >&2; exit 2; }

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib" "$stage/workflow"
cp "$FAASTLANE_BIN" "$stage/bin/faastlane"
libpython="$(ldd "$FAASTLANE_BIN" | awk '/libpython/ { print $3; exit }')"
if [ -n "$libpython" ] && [ -f "$libpython" ]; then
    cp -L "$libpython" "$stage/lib/"
fi
(cd "$workflow" && tar --exclude=__pycache__ --exclude='*.pyc' -cf - .) | (cd "$stage/workflow" && tar -xf -)
cat > "$stage/bootstrap" <<'BOOTSTRAP'
#!/bin/sh
# The Lambda custom runtime: faastlane runs the workflow in $LAMBDA_TASK_ROOT/$_HANDLER.
export LD_LIBRARY_PATH="$LAMBDA_TASK_ROOT/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
exec "$LAMBDA_TASK_ROOT/bin/faastlane" lambda
BOOTSTRAP
chmod 755 "$stage/bootstrap" "$stage/bin/faastlane"
rm -f "$out"
# Python's zipfile keeps the executable bits Lambda needs on bootstrap and the binary.
(cd "$stage" && python3 - "$out" <<'PY'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for root, dirs, files in os.walk("."):
        dirs.sort()
        for f in sorted(files):
            path = os.path.join(root, f)
            z.write(path, os.path.relpath(path, "."))
PY
)
echo "$out"
