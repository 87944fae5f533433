# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# Helpers for VM tests of the host daemon (tests/vm/dmemd-*.sh), on top of
# tests/lib/vm.sh:
#
#   source tests/lib/dmemd.sh        # sources vm.sh too
#   dmemd_init                       # vm_init + builds + test config
#   dmemd_start [asan]               # dmemd --foreground in the background
#   dmemd_stop                       # SIGTERM, wait, check the exit status
#   dmemctl status --json            # dmemctl on the test config
#
# dmemd is ended by its PID on exit, failure included, before the harness
# destroys the VMs and stops libvirtd; on failure its log tail is printed.

source "$(dirname "${BASH_SOURCE[0]}")/vm.sh"

DMEMD_PID=
DMEMD_BIN=
DMEMD_LOG=
DMEMD_CONF=
DMEMD_STATE=
DMEMD_RUNS=0

dmemd_init() {
	vm_init
	trap dmemd_cleanup EXIT
	make -s -C "$DMEM_TOP/hostd" >/dev/null || bail "cannot build hostd"
	DMEMD_CONF=$VM_DIR/dmemd.conf
	DMEMD_STATE=$VM_DIR/dmemd.state
	dmemd_config
}

# dmemd_config [KEY=VALUE...]: write the test config; later keys override.
# interval and shrink delay are short so that tests take seconds.
dmemd_config() {
	cat >"$DMEMD_CONF" <<-CONF
	[daemon]
	uri=$DMEM_URI
	interval_ms=${interval_ms:-500}
	state_file=$DMEMD_STATE
	metrics_file=${metrics_file:-}
	[policy]
	host_pool_mib=${host_pool_mib:-6144}
	shrink_delay_s=${shrink_delay_s:-5}
	max_shrink_mib_per_s=${max_shrink_mib_per_s:-256}
	reclaim_unresponsive_s=${reclaim_unresponsive_s:-300}
	cache_aware=${cache_aware:-yes}
	cache_probe_s=${cache_probe_s:-30}
	cache_reprobe_s=${cache_reprobe_s:-600}
	[hotadd]
	dimm_size_mib=${dimm_size_mib:-256}
	unplug=${unplug:-yes}
	unplug_delay_s=${unplug_delay_s:-}
	CONF
}

# dmemd_start [asan|valgrind]: start dmemd on the test config, wait until it
# has published its first state.
dmemd_start() {
	local flavour=${1:-plain} i
	DMEMD_RUNS=$((DMEMD_RUNS + 1))
	DMEMD_LOG=$VM_DIR/dmemd.$DMEMD_RUNS.log
	case $flavour in
	plain)
		DMEMD_BIN=$DMEM_TOP/hostd/dmemd
		env --default-signal=PIPE "$DMEMD_BIN" --foreground --config "$DMEMD_CONF" >"$DMEMD_LOG" 2>&1 &
		;;
	asan)
		make -s -C "$DMEM_TOP/hostd" B=build-asan OUT=build-asan \
			CFLAGS="-O1 -g" \
			EXTRA_CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
			EXTRA_LDFLAGS="-fsanitize=address,undefined" \
			build-asan/dmemd >/dev/null || bail "cannot build the ASan dmemd"
		DMEMD_BIN=$DMEM_TOP/hostd/build-asan/dmemd
		ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:exitcode=99 \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
			env --default-signal=PIPE "$DMEMD_BIN" --foreground --config "$DMEMD_CONF" >"$DMEMD_LOG" 2>&1 &
		;;
	*) bail "dmemd_start: unknown flavour $flavour" ;;
	esac
	DMEMD_PID=$!
	for i in $(seq 100); do
		[ -s "$DMEMD_STATE" ] && grep -q "^pid=$DMEMD_PID\$" "$DMEMD_STATE" && return 0
		kill -0 "$DMEMD_PID" 2>/dev/null || break
		sleep 0.1
	done
	dmemd_log_tail
	bail "dmemd did not start"
}

# dmemd_stop: SIGTERM; succeeds when dmemd exits 0 and its log has no
# sanitizer report.
dmemd_stop() {
	local rc
	[ -n "$DMEMD_PID" ] || return 1
	kill -TERM "$DMEMD_PID" 2>/dev/null
	wait "$DMEMD_PID"
	rc=$?
	DMEMD_PID=
	if [ "$rc" -ne 0 ] || dmemd_sanitizer_report; then
		tap_diag "dmemd exited with status $rc"
		dmemd_log_tail
		return 1
	fi
}

# dmemd_kill9: SIGKILL, as a crash would.
dmemd_kill9() {
	[ -n "$DMEMD_PID" ] || return 1
	kill -KILL "$DMEMD_PID" 2>/dev/null
	wait "$DMEMD_PID" 2>/dev/null
	DMEMD_PID=
}

dmemd_sanitizer_report() {
	grep -qE 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:' "$DMEMD_LOG"
}

dmemd_log_tail() {
	[ -n "$DMEMD_LOG" ] && [ -s "$DMEMD_LOG" ] || return 0
	echo "# ---- dmemd log (last 60 lines): $DMEMD_LOG"
	tail -n 60 "$DMEMD_LOG" | sed 's/^/# /'
}

dmemctl() { "$DMEM_TOP/hostd/dmemctl" --config "$DMEMD_CONF" "$@"; }

# dmemd_vm_json NAME FIELD: a field of NAME's entry in dmemctl status --json.
dmemd_vm_json() {
	dmemctl status --json 2>/dev/null |
		jq -r --arg n "$(vm_dom "$1")" --arg f "$2" '.vms[] | select(.name == $n) | .[$f]'
}

# dmemd_log_has TEXT: dmemd's current log contains TEXT.
dmemd_log_has() { grep -qF -- "$1" "$DMEMD_LOG"; }

# vm_dimms NAME: DIMMs in the live definition.
vm_dimms() { vm_virsh dumpxml "$(vm_dom "$1")" | grep -c "<memory model='dimm'"; }

dmemd_cleanup() {
	local rc=$?
	if [ -n "$DMEMD_PID" ]; then
		kill -TERM "$DMEMD_PID" 2>/dev/null
		wait "$DMEMD_PID" 2>/dev/null
		DMEMD_PID=
	fi
	{ [ "$rc" -ne 0 ] || [ "${TAP_FAILED:-0}" -ne 0 ]; } && dmemd_log_tail
	(exit "$rc")
	vm_cleanup
}

# dmemd_restart_libvirtd: kill the libvirtd this harness started and start a
# new one, recorded in its place so that the harness cleanup stops it. Fails
# (the caller skips) when libvirtd was not ours to kill.
dmemd_restart_libvirtd() {
	local old i idx=-1
	old=$(cat /run/libvirtd.pid 2>/dev/null) || return 1
	for i in "${!LIBVIRT_STARTED_PIDS[@]}"; do
		[ "${LIBVIRT_STARTED_PIDS[i]}" = "$old" ] && idx=$i
	done
	[ "$idx" -ge 0 ] || return 1
	kill "$old" 2>/dev/null || return 1
	for i in $(seq 100); do kill -0 "$old" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$old" 2>/dev/null && return 1
	LIBVIRTD_DOWN_HOOK
	libvirtd -d || return 1
	for i in $(seq 100); do libvirt_running /run/libvirtd.pid && break; sleep 0.1; done
	LIBVIRT_STARTED_PIDS[idx]=$(cat /run/libvirtd.pid)
	for i in $(seq 150); do
		virsh -q -c "$DMEM_URI" version >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}
# Tests may redefine this to check things while libvirtd is down.
LIBVIRTD_DOWN_HOOK() { :; }
