#!/usr/bin/env bash
# Makes sure cargo-lambda (the Lambda emulator: `cargo lambda watch --only-lambda-apis` serves
# the Runtime API and the Invoke API) is installed in a cached virtual environment; prints the
# path of its `cargo-lambda` binary.
#
# PyPI's `cargo-lambda` wheel ships the prebuilt binary. The environment is cached under
# $FAASTLANE_CACHE_DIR, $XDG_CACHE_HOME/faastlane or ~/.cache/faastlane, keyed by the version
# below, and reused offline once made. Concurrent callers wait on a lock.
set -euo pipefail

requirement="cargo-lambda==1.9.2"
cache="${FAASTLANE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/faastlane}"
key="$(printf '%s' "$requirement" | sha256sum | cut -c1-16)"
venv="$cache/cargo-lambda-$key"
mkdir -p "$cache"

exec 9>"$venv.lock"
flock 9
if [ ! -x "$venv/bin/cargo-lambda" ] || [ ! -f "$venv/.complete" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$requirement" >&2
    touch "$venv/.complete"
fi
echo "$venv/bin/cargo-lambda"
