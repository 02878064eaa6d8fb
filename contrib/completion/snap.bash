# bash completion for snap: commands, options, ref names and REV:PATH.
#
# Installed by make install as share/bash-completion/completions/snap;
# bash-completion loads it for 'snap' and for each snap-COMMAND.  It runs
# only snap's own plumbing (for-each-ref, ls-tree), read-only.

# The options a command's --help lists: every --long and -s word.
__snap_options() {
	"$1" --help 2>/dev/null | grep -oE '(^|[ ,\[])--?[a-zA-Z][a-zA-Z0-9-]*=?' |
		sed -E 's/^[ ,\[]//' | sort -u
}

# The commands 'snap --help' lists.
__snap_commands() {
	snap --help 2>/dev/null | sed -n 's/^   \([a-z][a-z0-9-]*\).*/\1/p'
}

# Ref names, short (main, nightly) and full (refs/tags/x).
__snap_refs() {
	snap-for-each-ref --format='%(refname:short)' 2>/dev/null
}

# Completes REV:PATH: the entries of PATH's directory in REV's tree.
__snap_rev_path() {
	local cur=$1 rev=${1%%:*} path=${1#*:} dir base
	case $path in
	*/*) dir=${path%/*}; base=${path##*/} ;;
	*) dir=; base=$path ;;
	esac
	local prefix=$rev:${dir:+$dir/}
	local entries
	entries=$(snap-ls-tree "$rev" ${dir:+"$dir"} 2>/dev/null | while IFS= read -r line; do
		local kind=${line%% *} name=${line#*	}
		name=${name##*/}
		if [ "$kind" = dir ]; then printf '%s/\n' "$name"; else printf '%s\n' "$name"; fi
	done)
	local IFS=$'\n' e
	COMPREPLY=()
	for e in $entries; do
		case $e in "$base"*) COMPREPLY+=("$prefix$e") ;; esac
	done
	compopt -o nospace 2>/dev/null
	return 0
}

_snap() {
	local cur=${COMP_WORDS[COMP_CWORD]} cmd prog i=1
	COMPREPLY=()
	if [ "${COMP_WORDS[0]##*/}" = snap ]; then
		# Skip the dispatcher's own options.
		while [ $i -lt $COMP_CWORD ]; do
			case ${COMP_WORDS[i]} in
			--store) i=$((i + 2)) ;;
			--store=*) i=$((i + 1)) ;;
			*) break ;;
			esac
		done
		if [ $i -ge $COMP_CWORD ]; then
			case $cur in
			-*) COMPREPLY=($(compgen -W '--help --version --exec-path --store' -- "$cur")) ;;
			*) COMPREPLY=($(compgen -W "$(__snap_commands) help" -- "$cur")) ;;
			esac
			return 0
		fi
		cmd=${COMP_WORDS[i]}
		[ "$cmd" = help ] && { COMPREPLY=($(compgen -W "$(__snap_commands)" -- "$cur")); return 0; }
		prog=snap-$cmd
	else
		prog=${COMP_WORDS[0]##*/}
	fi
	case ${COMP_WORDS[COMP_CWORD - 1]} in
	--store|-C) COMPREPLY=($(compgen -d -- "$cur")); return 0 ;;
	-r|--ref) COMPREPLY=($(compgen -W "$(__snap_refs)" -- "$cur")); return 0 ;;
	esac
	case $cur in
	-*) COMPREPLY=($(compgen -W "$(__snap_options "$prog")" -- "$cur"))
	    case ${COMPREPLY[0]:-} in *=) compopt -o nospace 2>/dev/null ;; esac
	    return 0 ;;
	*:*) __snap_rev_path "$cur"; return 0 ;;
	esac
	# A word that names a ref or a directory: offer both.
	COMPREPLY=($(compgen -W "$(__snap_refs)" -- "$cur") $(compgen -f -- "$cur"))
	return 0
}

complete -F _snap snap
for __snap_c in snapshot restore backup log diff prune fsck gc init bundle-import bundle-export \
	ls mount find stats memo hash-object cat-file write-tree ls-tree mktree mksnapshot checkout diff-tree rev-parse \
	rev-list update-ref show-ref for-each-ref count-objects session sqlite-backup push fetch serve remote; do
	complete -F _snap "snap-$__snap_c"
done
unset __snap_c
