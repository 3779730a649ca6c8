#!/usr/bin/env bash
# One entry point for a fresh machine.
#   ./run.sh         set everything up, load the demo patients and accounts into an empty store (their
#                    passwords are printed once, here), start the dashboard
#                    on http://127.0.0.1:8501 (PORT=... to change it)
#   ./run.sh demo    set everything up, then analyse the demo patient's photos on the command line
#   ./run.sh test    set everything up, then run the whole test suite
#   ./run.sh setup   only set up: .venv, requirements, the face landmark model
#   ./run.sh bench   set up, then run the benchmarks under bench/
set -euo pipefail
cd "$(dirname "$0")"

pick_python() {
  # Python 3.11, 3.12 or 3.13 (pyproject.toml's requires-python): PYTHON= first, then the newest found.
  if [ -n "${PYTHON:-}" ]; then
    if command -v "$PYTHON" >/dev/null 2>&1 &&
       "$PYTHON" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' 2>/dev/null; then
      echo "$PYTHON"; return 0
    fi
    echo "error: PYTHON=$PYTHON is not Python 3.11, 3.12 or 3.13" >&2
    return 1
  fi
  for c in python3.13 python3.12 python3.11 python3; do
    command -v "$c" >/dev/null 2>&1 || continue
    if "$c" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' 2>/dev/null; then
      echo "$c"; return 0
    fi
  done
  echo "error: Python 3.11, 3.12 or 3.13 is needed (set PYTHON=/path/to/python3.12, for example)" >&2
  return 1
}

setup() {
  if [ ! -x .venv/bin/python ]; then
    py=$(pick_python)
    echo "setting up .venv with $($py --version)" >&2
    "$py" -m venv .venv
  fi
  # Install only when requirements.txt changed since the last successful install.
  stamp=.venv/.requirements.sha256
  want=$(sha256sum requirements.txt | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
    echo "$want" > "$stamp"
  fi
  .venv/bin/python -m analyzer fetch-model >/dev/null
}

cmd=${1:-app}
case "$cmd" in
  app)
    setup
    .venv/bin/python -m analyzer.ui.seed_demo
    exec .venv/bin/python -m analyzer dashboard --port "${PORT:-8501}" ;;
  setup) setup ;;
  test)  setup; shift || true; exec .venv/bin/python -m pytest "$@" ;;
  demo)
    setup
    .venv/bin/python -m analyzer analyze sample_images/normal/*.jpg --overlay out/demo
    echo "overlays: out/demo/" ;;
  bench) setup; for b in bench/*.py; do echo "== $b"; .venv/bin/python "$b"; done ;;
  *) echo "usage: ./run.sh [app|demo|test|setup|bench]" >&2; exit 2 ;;
esac
