# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# Start virtlogd and libvirtd for tests when they are not running (there is no
# systemd here), stop what we started, by PID. qemu.conf gets a marked block
# that lets QEMU run without cgroups, as root, on the test files.

LIBVIRT_STARTED_PIDS=()

libvirt_running() { # PIDFILE
	local pid
	pid=$(cat "$1" 2>/dev/null) || return 1
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

libvirt_configure() {
	local conf=/etc/libvirt/qemu.conf
	grep -q '^# BEGIN dmem test harness' "$conf" 2>/dev/null && return 0
	cat >>"$conf" <<-'CONF'
	# BEGIN dmem test harness (tests/lib/libvirt.sh)
	# No systemd or cgroup delegation on test machines.
	cgroup_controllers = [ ]
	# Test guests boot kernels and sockets kept in a root-owned work dir.
	user = "root"
	group = "root"
	security_driver = "none"
	# END dmem test harness
	CONF
}

libvirt_start() {
	local i
	libvirt_configure
	if ! libvirt_running /run/virtlogd.pid; then
		virtlogd -d || return 1
		for i in $(seq 50); do libvirt_running /run/virtlogd.pid && break; sleep 0.1; done
		LIBVIRT_STARTED_PIDS+=("$(cat /run/virtlogd.pid)")
	fi
	if ! libvirt_running /run/libvirtd.pid; then
		libvirtd -d || return 1
		for i in $(seq 100); do libvirt_running /run/libvirtd.pid && break; sleep 0.1; done
		LIBVIRT_STARTED_PIDS+=("$(cat /run/libvirtd.pid)")
	fi
	for i in $(seq 150); do
		virsh -q -c qemu:///system version >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	echo "# libvirtd does not answer on qemu:///system" >&2
	return 1
}

# Stop, newest first, what libvirt_start started.
libvirt_stop() {
	local i pid
	for ((i = ${#LIBVIRT_STARTED_PIDS[@]} - 1; i >= 0; i--)); do
		pid=${LIBVIRT_STARTED_PIDS[i]}
		kill "$pid" 2>/dev/null || continue
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null || true
	done
	LIBVIRT_STARTED_PIDS=()
}
