#!/usr/bin/env bash
# The whole test suite: set-up if needed, lint (ruff), types (mypy --strict), tests (pytest).
# PostgreSQL runs too when CERTSVC_TEST_POSTGRES_URL is set (.ci/run sets it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== ruff"
.venv/bin/ruff check certsvc tests scripts deploy
.venv/bin/ruff format --check certsvc tests scripts deploy
echo "== mypy (strict)"
.venv/bin/mypy
echo "== pytest"
.venv/bin/pytest -n auto -p no:cacheprovider "$@"
