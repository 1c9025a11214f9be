#!/usr/bin/env bash
# Fetch about 4 hours of produced music from Debian's archive into a folder beside the
# repository, for training with `dset=corpus_music` (docs/DATA.md, "More music").
#
#   bash scripts/fetch_music.sh [DEST]      # DEST defaults to $EXTRA_MUSIC_DIR or ../extra_music
#
# The corpus in ../shared/corpus has only 14 minutes of music; these game soundtracks are
# free to redistribute and are Debian packages, which this machine's registries reach.
# Nothing is copied into the repository. Idempotent: a package already unpacked is skipped.
#   wesnoth-1.16-music  41 orchestral pieces, 128 min, GPL-2+ (the Battle for Wesnoth project)
#   singularity-music   16 pieces, ambient/electronic, 64 min, CC BY-SA 3.0 (Max McCracken)
#   drascula-music      31 tracks, 47 min, the Drascula licence (free redistribution;
#                       Alcachofa Soft); the package's five language folders are copies of
#                       audio/, so only audio/ is kept
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=${1:-${EXTRA_MUSIC_DIR:-../extra_music}}
command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || {
  echo "fetch_music.sh: needs apt-get and dpkg-deb (a Debian or Ubuntu system)" >&2; exit 1; }
mkdir -p "$DEST"
DEST=$(cd "$DEST" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# package  folder in DEST  path of the music inside the package
while read -r package name inner; do
  if [ -f "$DEST/$name/COPYRIGHT" ]; then
    echo "$name: already in $DEST/$name"
    continue
  fi
  (cd "$WORK" && apt-get download -q "$package" >/dev/null 2>&1) || {
    echo "fetch_music.sh: could not download the Debian package $package" >&2; exit 1; }
  mkdir -p "$WORK/$name"
  dpkg-deb -x "$WORK/$package"_*.deb "$WORK/$name"
  # Unpack into a temporary folder and rename it, so that an interrupted run leaves no
  # half-filled folder that a training run would take for the whole set.
  rm -rf "$DEST/.$name.partial"
  mkdir -p "$DEST/.$name.partial"
  find "$WORK/$name/$inner" -name '*.ogg' -exec cp {} "$DEST/.$name.partial/" \;
  cp "$WORK/$name/usr/share/doc/$package/copyright" "$DEST/.$name.partial/COPYRIGHT"
  rm -rf "${DEST:?}/$name"
  mv "$DEST/.$name.partial" "$DEST/$name"
  echo "$name: $(find "$DEST/$name" -name '*.ogg' | wc -l) files from $package"
done <<'EOF'
wesnoth-1.16-music wesnoth usr/share/games/wesnoth/1.16/data/core/music
singularity-music singularity usr/share/games/singularity/music
drascula-music drascula usr/share/scummvm/drascula/audio
EOF
