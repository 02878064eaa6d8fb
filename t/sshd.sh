# sshd.sh: an OpenSSH server of its own on 127.0.0.1, for the tests of
# push and fetch over ssh and for make bench's push section.
#
# sshd_start DIR: makes DIR (host and client keys, authorized_keys, the
# config) and starts /usr/sbin/sshd on a free port of 127.0.0.1, with the
# sftp subsystem.  Sets SSHD_PORT, SSHD_PID and SSHD_SSH (an ssh command
# that logs in with the client key, no host key checks).  Returns once it
# accepts a login, 1 if it does not (its log then on stderr).

sshd_start() {
	sshd_dir=$1
	mkdir -p "$sshd_dir" /run/sshd && chmod 700 "$sshd_dir"
	ssh-keygen -q -t ed25519 -N '' -f "$sshd_dir/host" </dev/null
	ssh-keygen -q -t ed25519 -N '' -f "$sshd_dir/client" </dev/null
	cp "$sshd_dir/client.pub" "$sshd_dir/authorized_keys"
	SSHD_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	cat > "$sshd_dir/sshd_config" <<EOF
Port $SSHD_PORT
ListenAddress 127.0.0.1
HostKey $sshd_dir/host
AuthorizedKeysFile $sshd_dir/authorized_keys
PidFile $sshd_dir/sshd.pid
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
Subsystem sftp internal-sftp
EOF
	/usr/sbin/sshd -D -f "$sshd_dir/sshd_config" -E "$sshd_dir/log" </dev/null >/dev/null 2>&1 &
	SSHD_PID=$!
	SSHD_SSH="ssh -p $SSHD_PORT -i $sshd_dir/client -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR"
	# Ready once it accepts a login (sshd has no readiness signal).
	sshd_i=0
	while [ $sshd_i -lt 100 ]; do
		$SSHD_SSH 127.0.0.1 true 2>/dev/null && return 0
		kill -0 "$SSHD_PID" 2>/dev/null || break
		sleep 0.1
		sshd_i=$((sshd_i + 1))
	done
	cat "$sshd_dir/log" >&2
	return 1
}
