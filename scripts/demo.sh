#!/bin/sh
# The main job, from a fresh Debian 12 machine: installs what snap needs,
# builds it, then snapshots a directory into a default store, restores the
# snapshot elsewhere and shows that the two trees are identical.
#
#   sh scripts/demo.sh [DIR]      (DIR defaults to /usr/include)
#
# Everything it makes is under ./demo-run/ (the store is demo-run/.snap,
# found there by default like git's .git).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
src=${1:-/usr/include}
say() { printf '\n==> %s\n' "$*"; }

cd "$top"
say "installing the Debian packages snap needs and configuring (./configure --install-deps)"
./configure --install-deps
say "building (make)"
make -j2 >/dev/null
PATH="$top/bin:$PATH"
export PATH

src=$(cd "$src" && pwd)
run="$top/demo-run"
rm -rf "$run"
mkdir -p "$run"
cd "$run"
say "creating a store in $run/.snap (snap init)"
snap init
say "snapshotting $src (snap snapshot -m ...)"
id=$(snap snapshot -m "demo snapshot of $src" "$src")
echo "snapshot $id"
snap log -n 1
say "restoring it into $run/restored (snap restore main restored)"
snap restore main restored
say "comparing $src with the restored copy"
diff -r --no-dereference "$src" restored
# Every entry below the root: type, mode, mtime, link target, and the size
# of non-directories (a directory's own size is its filesystem's business).
listing() {
	(cd "$1" && {
		find . -mindepth 1 ! -type d -printf '%p %y %m %s %T@ %l\n'
		find . -mindepth 1 -type d -printf '%p %y %m %T@\n'
	} | LC_ALL=C sort)
}
listing "$src" > original.list
listing restored > restored.list
cmp original.list restored.list
echo "identical: every file, link, mode and mtime of $src came back ($(wc -l < original.list) entries)"
say "checking that the snapshot of the restored tree has the same root tree"
[ "$(snap write-tree restored)" = "$(snap rev-parse main:)" ] && echo "same tree id: $(snap rev-parse main:)"
