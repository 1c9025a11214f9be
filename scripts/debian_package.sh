# Sourced by fetch_music.sh and fetch_noise.sh, which set DEST first: Debian packages unpacked
# into folders of DEST, through a scratch folder WORK that is removed on exit.
mkdir -p "$DEST"
DEST=$(cd "$DEST" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# start_package PACKAGE NAME: returns 1 when DEST/NAME is complete already; else downloads and
# unpacks PACKAGE into WORK/NAME and makes an empty DEST/.NAME.partial for the caller to fill.
# The folder is renamed into place by finish_package, so that an interrupted run leaves no
# half-filled folder that a training run would take for the whole set.
start_package() {
  local package=$1 name=$2
  if [ -f "$DEST/$name/COPYRIGHT" ]; then
    echo "$name: already in $DEST/$name"
    return 1
  fi
  (cd "$WORK" && apt-get download -q "$package" >/dev/null 2>&1) || {
    echo "$(basename "$0"): could not download the Debian package $package" >&2; exit 1; }
  mkdir -p "$WORK/$name"
  dpkg-deb -x "$WORK/$package"_*.deb "$WORK/$name"
  rm -rf "$DEST/.$name.partial"
  mkdir -p "$DEST/.$name.partial"
}

# finish_package PACKAGE NAME: the package's copyright beside the files, the folder in place
finish_package() {
  local package=$1 name=$2
  cp "$WORK/$name/usr/share/doc/$package/copyright" "$DEST/.$name.partial/COPYRIGHT"
  rm -rf "${DEST:?}/$name"
  mv "$DEST/.$name.partial" "$DEST/$name"
  echo "$name: $(find "$DEST/$name" -name '*.ogg' | wc -l) files from $package"
}
