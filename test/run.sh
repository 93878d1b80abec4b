#!/usr/bin/env bash
# The whole test suite: provision system programs, build, type-check, format-check, then tap with
# a line-coverage gate. The last line is "N passed, N failed" for CI.
set -uo pipefail
cd "$(dirname "$0")/.."

fail_early() {
  echo "$1"
  echo "0 passed, 1 failed"
  exit 1
}

bash test/provision.sh || fail_early "provisioning failed"
npm run --silent build || fail_early "build failed"
npx tsc -p tsconfig.test.json || fail_early "type check of tests failed"
npx prettier --check --log-level warn . || fail_early "formatting differs: run npx prettier --write ."

rm -rf test-output/logs test-output/secrets
report=$(mktemp)
npx tap -R tap "$@" 2>&1 | tee "$report"
status=${PIPESTATUS[0]}
summary=$(grep -E '^# \{ total: ' "$report" | tail -n 1)
count() { echo "$summary" | grep -oE "$1: [0-9]+" | grep -oE '[0-9]+' || echo 0; }
pass=$(count pass)
failed=$(count fail)
[ "$status" -ne 0 ] && [ "$failed" -eq 0 ] && failed=1 # e.g. the coverage gate
rm -f "$report"
# Over the whole run, so only after every test file: no log line holds a configured secret.
if [ $# -eq 0 ]; then
  if node test/no-secrets-in-logs.mjs; then pass=$((pass + 1)); else failed=$((failed + 1)) status=1; fi
fi
echo "${pass} passed, ${failed} failed"
exit "$status"
