#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Build checks: dmem_balloon.ko builds warning-free with W=1 and sparse-clean
# (C=2) against every installed Debian 12 guest kernel (6.1 and 6.12), and the
# driver sources are checkpatch --strict clean.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
source "$TOP/tests/lib/tap.sh"

work=$(mktemp -d /tmp/dmem-build.XXXXXX)
trap 'rm -rf "$work"' EXIT

for series in 6.1 6.12; do
	kdir=$(ls -d /usr/src/linux-headers-"$series".*-amd64 2>/dev/null | sort -V | tail -n 1)
	if [ -z "$kdir" ]; then
		tap_not_ok "no $series guest kernel headers installed (scripts/setup.sh installs them)"
		continue
	fi
	src=$work/$series
	mkdir -p "$src"
	cp -r "$TOP/Kbuild" "$TOP/guest-driver" "$TOP/include" "$src/"
	log=$work/$series.log
	if make -C "$kdir" M="$src" W=1 C=2 CHECK="sparse -Wsparse-error" modules >"$log" 2>&1 &&
		[ -e "$src/guest-driver/dmem_balloon.ko" ]; then
		tap_ok "dmem_balloon.ko builds against $(basename "$kdir")"
	else
		tap_not_ok "dmem_balloon.ko builds against $(basename "$kdir")"
		tail -n 20 "$log" | sed 's/^/# /'
		continue
	fi
	warnings=$(grep -E 'warning:|error:' "$log" || true)
	check "W=1 and sparse report nothing for $(basename "$kdir")" test -z "$warnings"
	[ -z "$warnings" ] || echo "$warnings" | head -n 20 | sed 's/^/# /'
done

# The DKMS configuration that scripts/install-guest.sh installs builds the
# module for both kernels (in a private DKMS tree: nothing is installed).
ver=$(sed -n 's/^#define DMEM_VERSION[[:space:]]*"\(.*\)"/\1/p' "$TOP/include/dmem_defaults.h")
dsrc=$work/dkms-src/dmem_balloon-$ver
mkdir -p "$dsrc" "$work/dkms-tree"
cp -r "$TOP/Kbuild" "$TOP/guest-driver" "$TOP/include" "$dsrc/"
sed "s/@VERSION@/$ver/" "$TOP/guest-driver/dkms.conf" >"$dsrc/dkms.conf"
dkms_() { dkms --dkmstree "$work/dkms-tree" --sourcetree "$work/dkms-src" "$@"; }
if dkms_ add -m dmem_balloon -v "$ver" >"$work/dkms.log" 2>&1; then
	for series in 6.1 6.12; do
		kver=$(basename "$(ls -d /usr/src/linux-headers-"$series".*-amd64 2>/dev/null | sort -V | tail -n 1)" | sed 's/^linux-headers-//')
		dkms_build() { dkms_ build -m dmem_balloon -v "$ver" -k "$1" >>"$work/dkms.log" 2>&1; }
		check "DKMS builds dmem_balloon $ver for $kver" dkms_build "$kver"
	done
else
	tap_not_ok "dkms add of dmem_balloon $ver"
	tail -n 5 "$work/dkms.log" | sed 's/^/# /'
fi

cp=/usr/local/share/dmem/checkpatch/scripts/checkpatch.pl
if [ -x "$cp" ]; then
	# Kernel identifiers (PageOffline, __PageMovable) are known from the
	# headers, as in a kernel tree; checkpatch caches them in the cwd.
	hdr=$(ls -d /usr/src/linux-headers-6.1.*-common | sort -V | tail -n 1)
	out=$(cd "$work" && "$cp" --strict --no-tree --root "$hdr" --terse --show-types -f \
		"$TOP"/guest-driver/*.c "$TOP"/guest-driver/*.h "$TOP"/include/dmem_stats.h "$TOP"/include/dmem_floor.h 2>&1 |
		grep -v '^total: ' || true)
	out=$(echo "$out" | grep -v '\.mod\.c' | grep . || true)
	check "checkpatch --strict reports nothing for the driver sources" test -z "$out"
	[ -z "$out" ] || echo "$out" | head -n 30 | sed 's/^/# /'
else
	tap_not_ok "checkpatch.pl not installed at $cp (scripts/setup.sh extracts it)"
fi

tap_done
