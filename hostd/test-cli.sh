#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# test-cli.sh - command-line tests for dmemd and dmemctl, TAP output.
#
# DMEMD and DMEMCTL name the binaries under test (default: ./dmemd, ./dmemctl).
# Needs no libvirtd: "set" is exercised against libvirt's in-process test
# driver (test:///default).

DMEMD=${DMEMD:-./dmemd}
DMEMCTL=${DMEMCTL:-./dmemctl}
VERSION=$(sed -n 's/^#define DMEM_VERSION[[:space:]]*"\(.*\)"/\1/p' \
	"$(dirname "$0")/../include/dmem_defaults.h")

T=$(mktemp -d "${TMPDIR:-/tmp}/dmem-test-cli.XXXXXX") || exit 1
DAEMON_PID=
cleanup() {
	[ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

n=0
failed=0

ok() {
	n=$((n + 1))
	echo "ok $n - $1"
}

not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
	shift
	for line in "$@"; do
		echo "#   $line"
	done
	sed 's/^/#   stdout: /' "$T/out"
	sed 's/^/#   stderr: /' "$T/err"
}

# expect DESCRIPTION RC STREAM PATTERN -- COMMAND...
# Run COMMAND; require exit status RC and a line of STREAM (out|err)
# matching the fixed string PATTERN (empty: no check).
expect() {
	desc=$1 want_rc=$2 stream=$3 pattern=$4
	shift 5
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	if [ "$rc" -ne "$want_rc" ]; then
		not_ok "$desc" "exit status $rc, expected $want_rc"
	elif [ -n "$pattern" ] && ! grep -qF -- "$pattern" "$T/$stream"; then
		not_ok "$desc" "std$stream lacks: $pattern"
	else
		ok "$desc"
	fi
}

cat >"$T/good.conf" <<CONF
[daemon]
uri=test:///default
interval_ms=200
state_file=$T/run/state
[policy]
weight=100
CONF
printf '[hotadd]\ndimm_size_mib=100\n' >"$T/bad-dimm.conf"
printf '[policy]\nweigth=100\n' >"$T/bad-key.conf"
printf '[policy]\nweight=abc\n' >"$T/bad-type.conf"
printf '[daemon]\ninterval_ms=5\n' >"$T/bad-range.conf"
printf '[nonsense]\n' >"$T/bad-group.conf"
printf 'not a key file\n' >"$T/malformed.conf"

echo "1..67"

# ---- dmemd ----------------------------------------------------------------
expect "dmemd --version" 0 out "dmemd $VERSION" -- "$DMEMD" --version
for opt in --config --foreground --connect --dry-run --version; do
	expect "dmemd --help documents $opt" 0 out "$opt" -- "$DMEMD" --help
done
expect "dmemd --bogus fails clearly" 2 err "Unknown option --bogus" -- \
	"$DMEMD" --bogus
expect "dmemd rejects a stray argument" 2 err "unexpected argument 'extra'" -- \
	"$DMEMD" --foreground extra
expect "dmemd --connect '' fails" 2 err "--connect" -- "$DMEMD" --connect ''
expect "dmemd --config MISSING fails naming the file" 1 err "$T/missing.conf" -- \
	"$DMEMD" --foreground --config "$T/missing.conf"
expect "dmemd: dimm_size_mib not a multiple of 128" 1 err \
	"[hotadd] dimm_size_mib=100: must be a multiple of 128 MiB" -- \
	"$DMEMD" --foreground --config "$T/bad-dimm.conf"
expect "dmemd: unknown key named" 1 err "[policy] unknown key 'weigth'" -- \
	"$DMEMD" --foreground --config "$T/bad-key.conf"
expect "dmemd: bad type named" 1 err "[policy] weight=abc: not a whole number" -- \
	"$DMEMD" --foreground --config "$T/bad-type.conf"
expect "dmemd: out of range named" 1 err \
	"[daemon] interval_ms=5: must be between 100 and 60000" -- \
	"$DMEMD" --foreground --config "$T/bad-range.conf"
expect "dmemd: unknown group named" 1 err "unknown group [nonsense]" -- \
	"$DMEMD" --foreground --config "$T/bad-group.conf"
expect "dmemd: malformed file" 1 err "malformed" -- \
	"$DMEMD" --foreground --config "$T/malformed.conf"

# The daemon runs, reloads on SIGHUP (keeping its config when the new one is
# bad) and stops cleanly on SIGTERM.
cp "$T/good.conf" "$T/live.conf"
"$DMEMD" --foreground --dry-run --config "$T/live.conf" >"$T/daemon.out" 2>"$T/daemon.err" &
DAEMON_PID=$!
wait_log() {
	i=0
	while [ $i -lt 50 ]; do
		grep -qF -- "$1" "$T/daemon.err" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
if wait_log "started"; then ok "dmemd starts in the foreground"; else
	cp "$T/daemon.err" "$T/err"; : >"$T/out"; not_ok "dmemd starts in the foreground"; fi
if grep -qF "dry run" "$T/daemon.err"; then ok "dmemd reports --dry-run"; else
	cp "$T/daemon.err" "$T/err"; : >"$T/out"; not_ok "dmemd reports --dry-run"; fi
# dmemctl reads the state the daemon publishes: libvirt's test driver has
# one running domain, "test", without a balloon driver.
i=0
while [ ! -s "$T/run/state" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
expect "dmemctl status shows the test domain as NoDriver" 0 out \
	"test  running  2048 MiB  8192 MiB  2048 MiB  2048 MiB       -      -  6144 MiB      0 MiB  NoDriver" -- \
	"$DMEMCTL" --config "$T/live.conf" status
expect "dmemctl status has a header with every column" 0 out \
	"  ASSIGNED      HELD  DEMAND  IDEAL   BALLOON  HOT-ADDED  STATUS    REASON" -- \
	"$DMEMCTL" --config "$T/live.conf" status
expect "dmemctl status shows the pool and what VMs hold of it" 0 out \
	", committed " -- "$DMEMCTL" --config "$T/live.conf" status
expect "dmemctl status says the daemon runs with --dry-run" 0 out "dry-run" -- \
	"$DMEMCTL" --config "$T/live.conf" status
expect "dmemctl status --json" 0 out '"connected":true' -- \
	"$DMEMCTL" --config "$T/live.conf" status --json
expect "dmemctl status --json has what the test domain holds" 0 out \
	'"held_kib":2097152' -- "$DMEMCTL" --config "$T/live.conf" status --json
expect "dmemctl explain test" 0 out "test: NoDriver" -- \
	"$DMEMCTL" --config "$T/live.conf" explain test
expect "dmemctl explain of an unknown VM" 1 err "no VM named 'nosuch'" -- \
	"$DMEMCTL" --config "$T/live.conf" explain nosuch

# status --watch in a pseudo-terminal (script(1)), as a user sees it: one
# screen redrawn in place (cursor home, lines cleared to their end, the
# rest of the screen cleared), the cursor hidden meanwhile and shown again
# after Ctrl-C, which ends it with status 0.
ESC=$(printf '\033')
script -qefc "stty cols 200; timeout --preserve-status -s INT 2.7 '$DMEMCTL' --config '$T/live.conf' status --watch 0.5" \
	/dev/null >"$T/watch.tty" 2>&1 </dev/null
rc=$?
frames=$(grep -o "${ESC}\[H" "$T/watch.tty" | wc -l)
cp "$T/watch.tty" "$T/out"; : >"$T/err"
if [ "$rc" -eq 0 ] && [ "$frames" -ge 4 ]; then
	ok "status --watch 0.5 redraws in place on a terminal ($frames frames in 2.7 s)"
else
	not_ok "status --watch 0.5 redraws in place on a terminal" "exit status $rc, $frames frames"
fi
if grep -qF "${ESC}[?25l" "$T/watch.tty" && grep -qF "${ESC}[?25h" "$T/watch.tty"; then
	ok "status --watch hides the cursor and shows it again on Ctrl-C"
else
	not_ok "status --watch hides the cursor and shows it again on Ctrl-C"
fi
# The last frame, as the terminal shows it, is what status prints, under
# a title line.
"$DMEMCTL" --config "$T/live.conf" status >"$T/plain" 2>&1
awk -v RS="${ESC}\\[H" 'END { print }' "$T/watch.tty" |
	sed "s/${ESC}\[K//g; s/${ESC}\[J//g; s/${ESC}\[?25[lh]//g; s/\r//g" >"$T/frame"
cp "$T/frame" "$T/out"
if head -n 1 "$T/frame" | grep -q "^dmemctl status, every 0.5 s  [0-9:]*  (Ctrl-C to quit)" &&
   grep -qF "$(grep ' NoDriver' "$T/plain" | sed 's/NoDriver .*/NoDriver/')" "$T/frame" &&
   grep -qF "$(grep 'ASSIGNED' "$T/plain")" "$T/frame" &&
   grep -qF "$(head -n 1 "$T/plain" | cut -c1-12)" "$T/frame"; then
	ok "status --watch shows the host line and the table, under a title"
else
	not_ok "status --watch shows the host line and the table, under a title"
fi
# A narrow terminal: lines are cut, not wrapped (a wrapped line would push
# the next frame down).
script -qefc "stty cols 40; timeout --preserve-status -s INT 1.2 '$DMEMCTL' --config '$T/live.conf' status --watch 0.5" \
	/dev/null >"$T/narrow.tty" 2>&1 </dev/null
awk -v RS="${ESC}\\[H" 'END { print }' "$T/narrow.tty" |
	sed "s/${ESC}\[K//g; s/${ESC}\[J//g; s/${ESC}\[?25[lh]//g; s/\r//g" >"$T/out"
if [ -s "$T/out" ] && awk 'length > 40 { bad = 1 } END { exit bad }' "$T/out"; then
	ok "status --watch cuts lines to the terminal's width"
else
	not_ok "status --watch cuts lines to the terminal's width"
fi
# Not a terminal: frame after frame, no escape sequences.
timeout --preserve-status -s INT 1.7 "$DMEMCTL" --config "$T/live.conf" status --watch 0.5 \
	>"$T/out" 2>"$T/err"
rc=$?
if [ "$rc" -eq 0 ] && ! grep -q "$ESC" "$T/out" &&
   [ "$(grep -c '^dmemctl status, every 0.5 s  [0-9:]*$' "$T/out")" -ge 3 ] &&
   [ "$(grep -c ' NoDriver' "$T/out")" -ge 3 ]; then
	ok "status --watch into a pipe prints plain frames"
else
	not_ok "status --watch into a pipe prints plain frames" "exit status $rc"
fi
expect "status --watch ends when its reader does" 0 out "dmemctl status, every" -- \
	bash -c "set -o pipefail; timeout 10 '$DMEMCTL' --config '$T/live.conf' status --watch 0.2 | head -n 1"
expect "status --watch 0 is refused" 2 err "between 0.1 and 3600" -- \
	"$DMEMCTL" --config "$T/live.conf" status --watch 0
expect "status --watch abc is refused" 2 err "--watch abc: not a number of seconds" -- \
	"$DMEMCTL" --config "$T/live.conf" status --watch abc
expect "status --json --watch is refused" 2 err "--json and --watch do not go together" -- \
	"$DMEMCTL" --config "$T/live.conf" status --json --watch
expect "status with a number but no --watch is refused" 2 err "unexpected argument '2'" -- \
	"$DMEMCTL" --config "$T/live.conf" status 2
kill -HUP "$DAEMON_PID"
if wait_log "configuration reloaded"; then ok "SIGHUP reloads the config"; else
	cp "$T/daemon.err" "$T/err"; : >"$T/out"; not_ok "SIGHUP reloads the config"; fi
cp "$T/bad-dimm.conf" "$T/live.conf"
kill -HUP "$DAEMON_PID"
if wait_log "reload failed, keeping the current configuration" &&
   grep -qF "dimm_size_mib=100" "$T/daemon.err" &&
   kill -0 "$DAEMON_PID" 2>/dev/null; then
	ok "a bad config on SIGHUP is reported and the daemon keeps running"
else
	cp "$T/daemon.err" "$T/err"; : >"$T/out"
	not_ok "a bad config on SIGHUP is reported and the daemon keeps running"
fi
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
rc=$?
DAEMON_PID=
if [ $rc -eq 0 ] && grep -qF "stopped" "$T/daemon.err"; then
	ok "SIGTERM stops dmemd cleanly"
else
	cp "$T/daemon.err" "$T/err"; : >"$T/out"
	not_ok "SIGTERM stops dmemd cleanly" "exit status $rc"
fi

# ---- dmemctl --------------------------------------------------------------
expect "dmemctl status after dmemd stopped says it is not running" 1 err \
	"dmemd is not running" -- "$DMEMCTL" --config "$T/good.conf" status
expect "dmemctl --config MISSING fails naming the file" 1 err "$T/missing.conf" -- \
	"$DMEMCTL" --config "$T/missing.conf" status
expect "dmemctl --version" 0 out "dmemctl $VERSION" -- "$DMEMCTL" --version
expect "dmemctl --help" 0 out "dmemctl [--connect URI] set VM" -- "$DMEMCTL" --help
expect "dmemctl set --help lists --minimum" 0 out "--minimum" -- "$DMEMCTL" set --help
expect "dmemctl without a command fails" 2 err "no command given" -- "$DMEMCTL"
expect "dmemctl unknown command" 2 err "unknown command 'frob'" -- "$DMEMCTL" frob
expect "dmemctl --bogus" 2 err "Unknown option --bogus" -- "$DMEMCTL" --bogus
expect "set --weight 20000 is out of range" 2 err \
	"--weight 20000: must be between 0 and 10000" -- \
	"$DMEMCTL" set vm --weight 20000
expect "set --weight abc" 2 err "--weight abc: not a whole number" -- \
	"$DMEMCTL" set vm --weight abc
expect "set --buffer 1001" 2 err "--buffer 1001: must be a percentage between 0 and 1000" -- \
	"$DMEMCTL" set vm --buffer 1001
expect "set --minimum garbage" 2 err "--minimum lots: not a size" -- \
	"$DMEMCTL" set vm --minimum lots
expect "set --minimum -1G" 2 err "--minimum -1G: a size must not be negative" -- \
	"$DMEMCTL" set vm --minimum -1G
expect "set --minimum 2GB is ambiguous" 2 err "ambiguous unit 'GB'" -- \
	"$DMEMCTL" set vm --minimum 2GB
expect "set --minimum 0" 2 err "at least 1 MiB" -- "$DMEMCTL" set vm --minimum 0
expect "set --enable --disable" 2 err "--enable and --disable exclude each other" -- \
	"$DMEMCTL" set vm --enable --disable
expect "set without settings" 2 err "nothing to set" -- "$DMEMCTL" set vm
expect "set without a VM" 2 err "which VM?" -- "$DMEMCTL" set --weight 1
expect "set with two VMs" 2 err "unexpected argument 'vm2'" -- \
	"$DMEMCTL" set vm vm2 --weight 1
expect "set --bogus" 2 err "Unknown option --bogus" -- "$DMEMCTL" set vm --bogus
expect "set writes the metadata element" 0 out \
	'test: <dmem minimum="2048" buffer="35" weight="100" enabled="no"/>' -- \
	"$DMEMCTL" --connect test:///default set test --minimum 2G --buffer 35% \
	--weight 100 --disable
expect "set on an unknown VM names it" 1 err "no VM named 'nosuch'" -- \
	"$DMEMCTL" --connect test:///default set nosuch --weight 1
expect "set refuses a minimum above the startup memory" 1 err \
	"test: minimum 3072 MiB is above startup 2048 MiB (minimum <= startup <= maximum); nothing changed" -- \
	"$DMEMCTL" --connect test:///default set test --minimum 3G --weight 1
expect "set without a reachable libvirt says so" 1 err \
	"dmemctl: cannot connect to qemu:///system?socket=$T/no-libvirtd:" -- \
	"$DMEMCTL" --connect "qemu:///system?socket=$T/no-libvirtd" set test --weight 1
expect "status --bogus" 2 err "Unknown option --bogus" -- "$DMEMCTL" status --bogus
expect "explain without a VM" 2 err "which VM?" -- "$DMEMCTL" explain
expect "explain with two VMs" 2 err "unexpected argument" -- "$DMEMCTL" explain a b

# A state file the user may not read: what to do about it. Needs root, to
# run dmemctl as nobody (who must be able to reach the binary).
desc="status on an unreadable state names the libvirt group"
as_nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
}
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null &&
   as_nobody "$DMEMCTL" --version >/dev/null 2>&1; then
	chmod 711 "$T"
	mkdir -m 755 "$T/perm"
	printf '[daemon]\nstate_file=%s\n' "$T/perm/state" >"$T/perm/perm.conf"
	chmod 644 "$T/perm/perm.conf"
	: >"$T/perm/state"
	chmod 600 "$T/perm/state"
	expect "$desc" 1 err \
		"cannot read $T/perm/state: permission denied; the state is readable by root and the libvirt group" -- \
		as_nobody "$DMEMCTL" --config "$T/perm/perm.conf" status
else
	ok "$desc # SKIP needs root, setpriv and a dmemctl that nobody may run"
fi

if [ "$n" -ne 67 ]; then
	echo "# plan mismatch: ran $n tests, planned 67"
	failed=$((failed + 1))
fi
[ "$failed" -eq 0 ]
