#!/usr/bin/env bash
# Installs what glm.c needs to build and test on Debian bookworm, then configures and builds.
# Idempotent: a second run only rebuilds. Usage: scripts/setup.sh [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(build-essential cmake pkg-config
      libpcre2-dev libjansson-dev libmicrohttpd-dev libcurl4-openssl-dev
      python3-numpy python3-jinja2 nodejs npm curl)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node/npm may come from outside Debian (e.g. a preinstalled node 20): accept those.
if command -v node >/dev/null && command -v npm >/dev/null; then
  tmp=(); for p in "${missing[@]}"; do [[ $p == nodejs || $p == npm ]] || tmp+=("$p"); done
  missing=("${tmp[@]+"${tmp[@]}"}")
fi
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Test-side reference tools from ../shared (tokenizer, template renderer), installed from their
# own package-lock.json into a copy under build/_tools so ../shared stays untouched.
shared=${GLM_SHARED_DIR:-$(pwd)/../shared}
if [ -d "$shared/tools" ]; then
  for t in tokref jinjaref; do
    dst=build/_tools/$t
    if [ ! -d "$dst/node_modules" ]; then
      mkdir -p "$dst" && cp -r "$shared/tools/$t/." "$dst/"
      (cd "$dst" && npm ci --no-audit --no-fund --loglevel=error)
    fi
  done
fi

# The official OpenAI SDK for the server end-to-end tests (pinned by tests/server/package-lock.json).
[ -d tests/server/node_modules ] || (cd tests/server && npm ci --no-audit --no-fund --loglevel=error)

[ "${1:-}" = "--no-build" ] && exit 0
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
