#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Build a benchmark that links hostd's policy library:
#   tests/bench/build.sh NAME [LIBS...]
# compiles tests/bench/NAME.c against hostd/build/libdmem.a (built first)
# into tests/build/NAME; LIBS are extra linker arguments.
set -eu
TOP=$(cd "$(dirname "$0")/../.." && pwd)
name=$1
shift
make -s -C "$TOP/hostd" build/libdmem.a
mkdir -p "$TOP/tests/build"
# shellcheck disable=SC2046
cc -std=gnu11 -O2 -g -Wall -Wextra -I"$TOP/hostd" -I"$TOP/include" \
	$(pkg-config --cflags glib-2.0) -o "$TOP/tests/build/$name" \
	"$TOP/tests/bench/$name.c" "$TOP/hostd/build/libdmem.a" \
	$(pkg-config --libs glib-2.0) "$@"
