#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this). Installs what it needs.
# Ends with "N passed, N failed, N skipped" taken from the vitest run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
need_node
if ! install_debs "${SETUP_DEBS[@]}" "${TEST_DEBS[@]}"; then
  if [[ "${CI:-}" == "true" ]]; then
    echo "CI=true: QEMU, python3-libvirt and libvirtd are required, failing" >&2
    exit 1
  fi
fi
install_npm

step() { echo; echo "== $*"; }
step format;    npm run -s format:check
step lint;      npm run -s lint
step typecheck; npm run -s typecheck
step build;     npm run -s build
step api;       npm run -s api:check
step test
rm -f .vitest-results.json
status=0
REQUIRE_QEMU=${REQUIRE_QEMU:-$([[ "${CI:-}" == "true" ]] && echo 1 || echo 0)} \
  npx vitest run --reporter=default --reporter=json --outputFile.json=.vitest-results.json || status=$?
node scripts/summary.mjs .vitest-results.json "$status" || status=1
exit "$status"
