#!/usr/bin/env bash
# Installs what virtkit needs on Debian: npm packages and, when missing, Debian's packages.
# Sourced by setup.sh and test.sh; idempotent.
set -euo pipefail

# What the library and its quick start need (setup.sh): qemu-img and QEMU.
SETUP_DEBS=(qemu-utils qemu-system-x86)
# What the test suite and the benchmarks need on top (test.sh): libvirt's test driver for the
# differential suite, nbdinfo, and a real libvirtd (../shared/tools/start-libvirtd.sh).
# The Linux test guest (test/README.md) needs nothing here: its kernel, busybox-static and
# qemu-guest-agent are fetched with `apt-get download` and unpacked with dpkg-deb, never installed.
TEST_DEBS=(python3-libvirt libnbd-bin libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients)

need_node() {
  if ! command -v node >/dev/null 2>&1; then
    echo "virtkit needs Node.js >= 20.19 (node not found on PATH)" >&2
    exit 1
  fi
  local major minor
  IFS=. read -r major minor _ < <(node -p 'process.versions.node')
  if (( major < 20 || (major == 20 && minor < 19) )); then
    echo "virtkit needs Node.js >= 20.19 (found $(node --version))" >&2
    exit 1
  fi
}

missing_debs() {
  local pkg out=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || out+=("$pkg")
  done
  echo "${out[@]:-}"
}

# install_debs PKG...: installs the ones that are missing (apt-get update once, then install).
install_debs() {
  local missing
  missing=$(missing_debs "$@")
  [[ -z "$missing" ]] && return 0
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo=(sudo)
    else
      echo "virtkit needs the Debian packages: $missing" >&2
      echo "run as root:  apt-get update && apt-get install -y --no-install-recommends $missing" >&2
      return 1
    fi
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "apt-get not found: install these packages with your package manager: $missing" >&2
    return 1
  fi
  echo "installing Debian packages: $missing"
  "${sudo[@]}" apt-get update -q
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends $missing
}

# `npm ci` installs exactly the committed lockfile, which lists every platform's optional packages.
# If it refuses the lockfile, `npm install` runs and only a changed version of a package (not an optional package for another platform) fails.
install_npm() {
  if [[ "${CI:-}" != "true" && -d node_modules && ! package-lock.json -nt node_modules/.package-lock.json ]]; then
    return 0
  fi
  if npm ci --no-audit --no-fund; then
    return 0
  fi
  echo "npm ci refused package-lock.json; falling back to npm install and checking for real drift" >&2
  local locked
  locked=$(mktemp)
  cp package-lock.json "$locked"
  npm install --no-audit --no-fund
  local status=0
  node scripts/lock-drift.mjs "$locked" package-lock.json || status=$?
  rm -f "$locked"
  return "$status"
}
