#!/usr/bin/env bash
# Makes sure a virtual environment with boto3, awscli and pytest exists; prints its directory.
#
# The `faastlane serve` tests drive the server with the real AWS clients (botocore validates
# every response against the Step Functions service model). The environment is cached under
# $FAASTLANE_CACHE_DIR, $XDG_CACHE_HOME/faastlane or ~/.cache/faastlane, keyed by the
# requirement list below, and reused offline once made. Concurrent callers wait on a lock.
set -euo pipefail

requirements="awscli==1.46.3 boto3 pytest==8.*"
cache="${FAASTLANE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/faastlane}"
key="$(printf '%s' "$requirements" | sha256sum | cut -c1-16)"
venv="$cache/aws-clients-$key"
mkdir -p "$cache"

exec 9>"$venv.lock"
flock 9
if [ ! -x "$venv/bin/aws" ] || [ ! -f "$venv/.complete" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    # shellcheck disable=SC2086 # the requirement list is meant to split
    "$venv/bin/pip" install --quiet --disable-pip-version-check $requirements >&2
    touch "$venv/.complete"
fi
echo "$venv"
