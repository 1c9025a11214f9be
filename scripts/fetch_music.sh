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
source scripts/debian_package.sh   # makes DEST absolute, and WORK (removed on exit)

# package  folder in DEST  path of the music inside the package
while read -r package name inner; do
  start_package "$package" "$name" || continue
  find "$WORK/$name/$inner" -name '*.ogg' -exec cp {} "$DEST/.$name.partial/" \;
  finish_package "$package" "$name"
done <<'EOF'
wesnoth-1.16-music wesnoth usr/share/games/wesnoth/1.16/data/core/music
singularity-music singularity usr/share/games/singularity/music
drascula-music drascula usr/share/scummvm/drascula/audio
EOF
