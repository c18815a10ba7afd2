#!/usr/bin/env bash
# Installs what virtkit needs on Debian: npm packages and, when missing, Debian's QEMU and
# libvirt test-driver packages. Sourced by setup.sh and test.sh; idempotent.
set -euo pipefail

DEBS=(qemu-utils qemu-system-x86 python3-libvirt libnbd-bin)

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
  for pkg in "${DEBS[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || out+=("$pkg")
  done
  echo "${out[@]:-}"
}

install_debs() {
  local missing
  missing=$(missing_debs)
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

# `npm ci` cannot be used: the registry this project is built against serves only this
# platform's optional packages (rollup's and esbuild's other platform binaries answer 404), so
# the lockfile cannot list them and `npm ci` rejects it as out of sync. `npm install` installs
# exactly the locked versions; in CI a lockfile it had to change is a failure, which is the
# check `npm ci` would have made.
install_npm() {
  if [[ "${CI:-}" == "true" || ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
    npm install --no-audit --no-fund
    if [[ "${CI:-}" == "true" ]] && git rev-parse --git-dir >/dev/null 2>&1 &&
      ! git diff --quiet -- package-lock.json; then
      echo "package-lock.json is out of sync with package.json (npm install changed it)" >&2
      git --no-pager diff --stat -- package-lock.json >&2
      return 1
    fi
  fi
}
