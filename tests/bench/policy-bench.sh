#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Build and run the policy cycle benchmark (10, 100, 1000 synthetic VMs).
#   tests/bench/policy-bench.sh [SECONDS_PER_SIZE]
set -eu
TOP=$(cd "$(dirname "$0")/../.." && pwd)
make -s -C "$TOP/hostd" build/libdmem.a
mkdir -p "$TOP/tests/build"
# shellcheck disable=SC2046
cc -std=gnu11 -O2 -g -Wall -Wextra -I"$TOP/hostd" -I"$TOP/include" \
	$(pkg-config --cflags glib-2.0) -o "$TOP/tests/build/policy-bench" \
	"$TOP/tests/bench/policy-bench.c" "$TOP/hostd/build/libdmem.a" \
	$(pkg-config --libs glib-2.0)
TMPDIR=${TMPDIR:-/dev/shm} exec "$TOP/tests/build/policy-bench" "$@"
