#!/usr/bin/env bash
# Set certsvc up on a fresh machine: system packages it needs (when they can be installed),
# a virtual environment in .venv, and the package with its development tools.
# Safe to run again: it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
# Debian packages certsvc uses at run time or in its tests; later features add to this list.
# wrk: the web load test (scripts/bench_web.py); chromium: the browser test (Playwright drives it);
# nginx: `nginx -t` on deploy/nginx/certsvc.conf and the proxy in the deployment test
SYSTEM_PACKAGES=(openssl softhsm2 fonts-wqy-zenhei fonts-hanazono poppler-utils qpdf libnss3-tools wrk
  chromium nginx)

say() { printf 'setup: %s\n' "$*" >&2; }

"$PYTHON" - <<'PY' || { say "certsvc needs Python 3.11 or newer ($PYTHON is older)"; exit 1; }
import sys
sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY

install_system_packages() {
  local missing=()
  for pkg in "${SYSTEM_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null; then
    say "please install these packages with your system's package manager: ${missing[*]}"
    return 1
  fi
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  say "installing system packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}
[ ${#SYSTEM_PACKAGES[@]} -eq 0 ] || install_system_packages

if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi

stamp="$VENV/.certsvc-installed"
want=$(cat pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || [ ! -x "$VENV/bin/certsvc" ]; then
  say "installing certsvc and its dependencies into $VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -e ".[dev]"
  echo "$want" > "$stamp"
fi
say "ready: $VENV/bin/certsvc"
