#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Build and run the policy trace benchmark: dmem's policy (hostd's own code)
# against oVirt MOM's, Proxmox's and static sizing on the same demand traces.
#   tests/bench/policy-trace.sh
# Exit status 1 when dmem misses one of its targets on some trace.
set -eu
TOP=$(cd "$(dirname "$0")/../.." && pwd)
make -s -C "$TOP/hostd" build/libdmem.a
mkdir -p "$TOP/tests/build"
# shellcheck disable=SC2046
cc -std=gnu11 -O2 -g -Wall -Wextra -I"$TOP/hostd" -I"$TOP/include" \
	$(pkg-config --cflags glib-2.0) -o "$TOP/tests/build/policy-trace" \
	"$TOP/tests/bench/policy-trace.c" "$TOP/hostd/build/libdmem.a" \
	$(pkg-config --libs glib-2.0) -lm
exec "$TOP/tests/build/policy-trace" "$@"
