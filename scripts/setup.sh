#!/usr/bin/env bash
# Create .venv beside the repository and install the pinned requirements into it.
# Idempotent: a second run only checks that everything is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt

# The project itself, editable (pip install -e .; pyproject.toml): the root modules import
# from any folder, as the scripts in scripts/ need, and the commands restore, train and
# evaluate appear in .venv/bin. Redone only when pyproject.toml changes, the folder moves or
# the install is gone (a build fetches setuptools)
editable=$(.venv/bin/python -c 'import hashlib, os; print(os.getcwd(), hashlib.sha256(open("pyproject.toml", "rb").read()).hexdigest())')
if [ "$(cat .venv/editable-install 2>/dev/null)" != "$editable" ] ||
   ! .venv/bin/python -c 'import importlib.metadata as m; m.distribution("historical-audio-restorer")' 2>/dev/null; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
  echo "$editable" >.venv/editable-install
fi

# The shipped model as ONNX (exported/default, about a minute once; kept while the weights
# are the same): inference.backend=auto restores with it on a CPU, in about half the CPU time
if ! .venv/bin/python export.py export.formats=[onnx] export.refresh=true quiet=true; then
  echo "setup: could not export the shipped model to ONNX; restores will use TensorFlow" >&2
fi

# The web page's browser test (tests/test_app.py) drives Debian's chromium (never a browser
# downloaded by Playwright); install it where apt-get can: as root, or through sudo
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1; then
  as_root=()
  if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
    as_root=(sudo -n)
  fi
  if [ "$(id -u)" -eq 0 ] || [ ${#as_root[@]} -gt 0 ]; then
    echo "setup: installing Debian's chromium and chromium-driver for the web page's browser test"
    apt_log=$(mktemp)
    if ! { ${as_root[@]+"${as_root[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
           ${as_root[@]+"${as_root[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; } >"$apt_log" 2>&1; then
      tail -n 5 "$apt_log" >&2
      echo "setup: could not install chromium; tests/test_app.py will fail until /usr/bin/chromium exists" >&2
    fi
    rm -f "$apt_log"
  else
    echo "setup: /usr/bin/chromium is missing and this user cannot run apt-get; tests/test_app.py needs it" >&2
  fi
fi
