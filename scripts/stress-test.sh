#!/usr/bin/env bash
# npm run test:stress: the whole test suite (or the vitest arguments given) while every
# core is kept busy by stress-ng, to prove that no test depends on the machine's speed.
# stress-ng is bounded in time and stopped by its pid when the tests end, whatever
# their outcome; the exit status is the tests'.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v stress-ng >/dev/null 2>&1 || {
  echo "test:stress: stress-ng is missing: run scripts/install-peers.sh (apt-get install stress-ng)" >&2
  exit 1
}
cores=$(nproc)
# One CPU hog per core at full load, for at most two hours (CI's run is shorter).
stress-ng --cpu "$cores" --cpu-load 100 --timeout 7200s --quiet &
hog=$!
trap 'kill "$hog" 2>/dev/null || true; wait "$hog" 2>/dev/null || true' EXIT
echo "test:stress: stress-ng (pid $hog) keeps $cores cores busy; running the tests"
status=0
CUJU_REQUIRE_PEERS=1 npx vitest run "$@" || status=$?
echo "test:stress: tests exited $status under load"
exit "$status"
