#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Install dmem's guest side in a Debian 12 guest (run inside the guest, as
# root). Idempotent.
#
#   scripts/install-guest.sh [--no-udev]
#
# - dmem_balloon sources under /usr/src/dmem_balloon-<version>, built and
#   installed for every kernel by DKMS (rebuilt on kernel updates);
# - /etc/modprobe.d/dmem_balloon.conf: keeps the in-tree virtio_balloon from
#   claiming the device;
# - /etc/udev/rules.d/80-dmem-memory-online.rules: hot-added memory comes
#   online movable (skip with --no-udev if the kernel command line already
#   has memhp_default_state=online_movable);
# - the initramfs is rebuilt, and dmem_balloon replaces virtio_balloon now.
set -eu

TOP=$(cd "$(dirname "$0")/.." && pwd)
UDEV=1
die() { echo "install-guest.sh: $*" >&2; exit 1; }

for a in "$@"; do
	case $a in
	--no-udev) UDEV=0 ;;
	-h|--help) sed -n '3,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument '$a' (see --help)" ;;
	esac
done
[ "$(id -u)" -eq 0 ] || die "must run as root"

VERSION=$(sed -n 's/^#define DMEM_VERSION[[:space:]]*"\(.*\)"/\1/p' "$TOP/include/dmem_defaults.h")
[ -n "$VERSION" ] || die "cannot read DMEM_VERSION from include/dmem_defaults.h"

missing=""
for p in dkms "linux-headers-$(uname -r)"; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = installed ] || missing="$missing $p"
done
if [ -n "$missing" ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing >/dev/null
fi

SRC=/usr/src/dmem_balloon-$VERSION
rm -rf "$SRC"
mkdir -p "$SRC"
cp -r "$TOP/Kbuild" "$TOP/guest-driver" "$TOP/include" "$SRC/"
sed "s/@VERSION@/$VERSION/" "$TOP/guest-driver/dkms.conf" >"$SRC/dkms.conf"
dkms remove -m dmem_balloon -v "$VERSION" --all >/dev/null 2>&1 || true
dkms install -m dmem_balloon -v "$VERSION" >/dev/null ||
	die "dkms install failed (see /var/lib/dkms/dmem_balloon/$VERSION/build/make.log)"

install -m 0644 "$TOP/guest-driver/dmem_balloon.conf" /etc/modprobe.d/dmem_balloon.conf
if [ "$UDEV" -eq 1 ]; then
	install -m 0644 "$TOP/guest-driver/80-dmem-memory-online.rules" \
		/etc/udev/rules.d/80-dmem-memory-online.rules
	udevadm control --reload 2>/dev/null || true
fi
update-initramfs -u >/dev/null

modprobe -r virtio_balloon 2>/dev/null || true
modprobe dmem_balloon
echo "dmem_balloon $VERSION installed and loaded for $(uname -r)"
