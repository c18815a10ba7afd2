#!/usr/bin/env bash
# One command from a fresh Debian machine with Node 20: install everything, run the main example.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
need_node
install_debs "${SETUP_DEBS[@]}" || echo "warning: Debian packages missing; the qemu driver will not work until they are installed" >&2
install_npm
npx tsx examples/01-connect.ts
