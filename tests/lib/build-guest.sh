#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# build-guest.sh KVER OUTDIR
#
# Build everything a test guest running Debian kernel KVER needs into OUTDIR:
#   OUTDIR/vmlinuz           the guest kernel (copied: readable by QEMU)
#   OUTDIR/dmem_balloon.ko   our module, built against KVER's headers
#   OUTDIR/initramfs.cpio.gz busybox, virtio modules (virtio_blk too: a test
#                            disk is /dev/vda), dmem_balloon.ko,
#                            in-tree virtio_balloon.ko, dmem-agent, memhog,
#                            alloczero, and the test-only module
#                            dmem_alloczero.ko (tests/guest/kmod)
set -euo pipefail

KVER=$1
OUT=$2
TOP=$(cd "$(dirname "$0")/../.." && pwd)
KDIR=/usr/src/linux-headers-$KVER
MODDIR=/lib/modules/$KVER

die() { echo "build-guest.sh: $*" >&2; exit 1; }

[ -e "/boot/vmlinuz-$KVER" ] || die "no guest kernel /boot/vmlinuz-$KVER (run scripts/setup.sh)"
[ -e "$KDIR/Makefile" ] || die "no headers in $KDIR (run scripts/setup.sh)"
mkdir -p "$OUT"

# The module, built out of a private copy of the sources so that builds for
# several kernels do not share object files.
src=$OUT/src
rm -rf "$src"
mkdir -p "$src"
cp -r "$TOP/Kbuild" "$TOP/guest-driver" "$TOP/include" "$src/"
make -s -C "$KDIR" M="$src" W=1 modules >"$OUT/module-build.log" 2>&1 ||
	{ cat "$OUT/module-build.log" >&2; die "module build failed for $KVER"; }
if grep -E 'warning:|error:' "$OUT/module-build.log" >&2; then
	die "module build for $KVER is not warning-free"
fi
cp "$src/guest-driver/dmem_balloon.ko" "$OUT/"

# Test-only module (benchmarks), built the same way.
ksrc=$OUT/kmod-src
rm -rf "$ksrc"
mkdir -p "$ksrc"
cp "$TOP/tests/guest/kmod/Kbuild" "$TOP"/tests/guest/kmod/*.c "$ksrc/"
make -s -C "$KDIR" M="$ksrc" W=1 modules >"$OUT/kmod-build.log" 2>&1 ||
	{ cat "$OUT/kmod-build.log" >&2; die "test module build failed for $KVER"; }
if grep -E 'warning:|error:' "$OUT/kmod-build.log" >&2; then
	die "test module build for $KVER is not warning-free"
fi

# Guest tools: static, so the initramfs needs no libc.
make -s -C "$TOP/tests" guest-tools

install -m 0644 "/boot/vmlinuz-$KVER" "$OUT/vmlinuz"

root=$OUT/root
rm -rf "$root"
mkdir -p "$root"/{bin,sbin,etc/dmem,proc,sys,dev,tmp,run,lib/dmem,lib/modules/virtio}
cp /bin/busybox "$root/bin/busybox"
case $(ldd "$root/bin/busybox" 2>&1 || true) in
*"not a dynamic"*) ;;
*) die "/bin/busybox is not static (install busybox-static)" ;;
esac
cp "$TOP/tests/build/guest/dmem-agent" "$TOP/tests/build/guest/memhog" \
	"$TOP/tests/build/guest/alloczero" "$root/bin/"
install -m 0755 "$TOP/tests/guest/init" "$root/init"
cp "$OUT/dmem_balloon.ko" "$ksrc/dmem_alloczero.ko" "$root/lib/dmem/"

# Modules in load order; a module the kernel has built in is skipped.
order="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_console virtio_blk"
: >"$root/etc/dmem/modules"
for m in $order virtio_balloon; do
	f=$(find "$MODDIR/kernel" -name "$m.ko" -o -name "$m.ko.xz" -o -name "$m.ko.zst" | head -n 1)
	if [ -z "$f" ]; then
		grep -q "/$m.ko\$" "$MODDIR/modules.builtin" ||
			die "module $m is neither built in nor in $MODDIR"
		continue
	fi
	case $f in
	*.xz) xz -dc "$f" >"$root/lib/modules/virtio/$m.ko" ;;
	*.zst) zstd -qdc "$f" >"$root/lib/modules/virtio/$m.ko" ;;
	*) cp "$f" "$root/lib/modules/virtio/$m.ko" ;;
	esac
	[ "$m" = virtio_balloon ] || echo "$m" >>"$root/etc/dmem/modules"
done

(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$OUT/initramfs.cpio.gz"
