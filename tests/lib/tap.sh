# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
# Minimal TAP producer for shell test suites: ok/not ok lines, plan at the end.

TAP_N=0
TAP_FAILED=0

tap_ok() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N - $*"; }
tap_not_ok() { TAP_N=$((TAP_N + 1)); TAP_FAILED=$((TAP_FAILED + 1)); echo "not ok $TAP_N - $*"; }
tap_diag() { echo "$*" | sed 's/^/# /'; }

# check DESCRIPTION CMD...: one test point from a command's status.
check() {
	local desc=$1; shift
	if "$@"; then tap_ok "$desc"; else tap_not_ok "$desc"; fi
}

# bail MSG: a suite cannot go on (setup failed): one failing point, stop.
bail() {
	tap_not_ok "$*"
	echo "Bail out! $*"
	exit 1
}

tap_done() {
	echo "1..$TAP_N"
	[ "$TAP_FAILED" -eq 0 ]
}
