#!/usr/bin/env bats
# 7: porcelain workflows — a real system's directories snapshotted and
# restored, every entry compared: type, mode, owner, size, mtime,
# extended attributes (capabilities too), ACLs and content.
#
# make check takes /usr/bin, /usr/sbin and /etc; SNAP_SYSTEM_PATHS names
# others (make stress: /usr /etc).

load test_helper

local_setup() {
	[ "$(id -u)" = 0 ] || skip "needs root (to read all of /etc and set owners back)"
	export PATH="$PATH:/usr/sbin:/sbin"
	command -v getfattr > /dev/null && command -v getfacl > /dev/null &&
		command -v setcap > /dev/null ||
		skip "needs getfattr, getfacl and setcap (attr, acl, libcap2-bin)"
	init_store
}

# listing ROOT PATH...: one line per entry below ROOT/PATH (PATH absolute,
# ROOT "" for the live system): type, mode, owner, group, size (of files),
# mtime (of what is not a directory: the restore of a directory's
# entries sets its mtime after them, but a live directory may change
# under the test), link target, path.
listing() {
	local root=$1; shift
	local p
	for p in "$@"; do
		find "$root$p" -printf '%y %m %U %G %s %T@ %l %P\n' |
			awk -v p="$p" '{ if ($1 == "d") { $5 = "-"; $6 = "-" } print p, $0 }'
	done | sort
}

# The xattrs (every namespace) and the ACLs below ROOT/PATH, names relative.
metadata() {
	local root=$1; shift
	local p
	for p in "$@"; do
		(cd "$root$p" && getfattr -R -h -d -m - --absolute-names . 2>/dev/null)
		(cd "$root$p" && getfacl -R -P -s -p . 2>/dev/null)
	done
}

@test "a system's directories round trip: every entry's type, mode, owner, size, mtime, xattrs, ACLs and bytes" {
	# A directory of the test's own beside the system's, with what a
	# system may have: a capability, access and default ACLs, xattrs of
	# user and trusted, a hard link, a sparse file, a fifo.
	local extra=$BATS_TEST_TMPDIR/extra
	mkdir -p "$extra/acl"
	cp /bin/true "$extra/ping"
	setcap cap_net_raw+ep "$extra/ping"
	setfacl -m u:nobody:rx "$extra/ping"
	setfacl -d -m g:nogroup:rwx "$extra/acl"
	echo data > "$extra/f"
	setfattr -n user.note -v hello "$extra/f"
	setfattr -n trusted.mark -v 1 "$extra/f" 2>/dev/null || :
	ln "$extra/f" "$extra/f.link"
	truncate -s 1G "$extra/sparse"
	echo tail >> "$extra/sparse"
	mkfifo "$extra/fifo"
	chown nobody "$extra/f"

	local paths
	read -r -a paths <<< "${SNAP_SYSTEM_PATHS:-/usr/bin /usr/sbin /etc}"
	paths+=("$extra")
	local before
	before=$(listing "" "${paths[@]}")
	run -0 --separate-stderr snap-snapshot -q "${paths[@]}"
	# A package installed meanwhile changes what there is to compare with.
	[ "$(listing "" "${paths[@]}")" = "$before" ] ||
		skip "the system's directories changed while they were snapshotted"
	# A system restore keeps setuid and setgid bits only when asked.
	run -0 --separate-stderr snap-restore -q --keep-setuid main out
	assert_equal "$stderr" ""
	assert_equal "$(listing out "${paths[@]}")" "$before"
	assert_equal "$(metadata out "${paths[@]}")" "$(metadata "" "${paths[@]}")"
	local p
	for p in "${paths[@]}"; do
		# (diff calls two fifos different; the listing compared them.)
		diff -r --no-dereference -x fifo "$p" "out$p"
	done
	# The sparse file came back sparse: far less allocated than its size.
	[ "$(stat -c %b "out$extra/sparse")" -lt 4096 ]
	# And the capability is the kernel's, not only an xattr's bytes.
	assert_equal "$(getcap "out$extra/ping")" "out$extra/ping cap_net_raw=ep"
}
