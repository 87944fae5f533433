#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# A real Debian 12 guest for the VM tests: a root filesystem built with
# mmdebstrap from Debian's archive (systemd, udev, DKMS, the 6.1 kernel and
# its headers, qemu-guest-agent), with dmem-balloon-dkms from tests/build/deb
# installed the way an admin would (apt-get install ./dmem-balloon-dkms_*.deb
# in the image: DKMS builds the module for the image's kernel, the package's
# trigger rebuilds the initramfs), turned into a qcow2 disk image.
#
#   tests/lib/debian-image.sh            # build (or reuse) it, print its directory
#   source tests/lib/debian-image.sh; debian_image_dir=$(debian_image)
#
# The image directory, outside the source tree, is
#   ${DMEM_IMAGE_CACHE:-/var/cache/dmem}/debian-12-<key>/
# with disk.qcow2 (the root filesystem, ext4 on the whole disk, label
# dmemroot), vmlinuz and initrd.img (the image's own kernel and initramfs,
# copied out of its /boot for libvirt's <os><kernel>/<initrd>), kver, and
# build.log. <key> hashes this script, the package list, the archive and the
# .deb, so a changed package or script builds a new image; an existing one is
# reused. Builds are serialised with a lock and finish by renaming a complete
# directory into place: an interrupted build leaves nothing that looks built.
# Each step's time is printed on stderr ("# debian-image: STEP: N s").
#
# The guest boots with root=/dev/vda and console=ttyS0 (what a bootloader
# would pass): no memhp_default_state; the package's udev rule onlines
# hot-added memory. root has no password (serial console login).
# The initramfs built in the image is Debian's default (MODULES=most: the
# chroot's hardware is not the guest's); for rebuilds inside the guest (the
# package's removal), MODULES=dep is set afterwards: under TCG a MODULES=most
# rebuild takes well over 10 minutes.

DMEM_TOP=${DMEM_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
DMEM_IMAGE_CACHE=${DMEM_IMAGE_CACHE:-/var/cache/dmem}
DMEM_IMAGE_SUITE=${DMEM_IMAGE_SUITE:-bookworm}
# The host's archive (Debian's, or the mirror the machine is set up with).
DMEM_IMAGE_MIRROR=${DMEM_IMAGE_MIRROR:-http://deb.debian.org/debian}
DMEM_IMAGE_SECURITY=${DMEM_IMAGE_SECURITY:-http://deb.debian.org/debian-security}
DMEM_IMAGE_PACKAGES=${DMEM_IMAGE_PACKAGES:-systemd systemd-sysv udev dbus kmod initramfs-tools dkms linux-image-amd64 linux-headers-amd64 qemu-guest-agent e2fsprogs procps util-linux numactl}
DMEM_IMAGE_SIZE=${DMEM_IMAGE_SIZE:-4G}
# Bound on the whole build (downloads included).
DMEM_IMAGE_TIMEOUT=${DMEM_IMAGE_TIMEOUT:-1500}

_dimg_t0=
_dimg_step() { _dimg_t0=$(date +%s); _dimg_name=$1; }
_dimg_done() { echo "# debian-image: $_dimg_name: $(($(date +%s) - _dimg_t0)) s" >&2; }
_dimg_fail() { echo "# debian-image: $*" >&2; return 1; }

# The packages of this tree (make deb; tests/deb-checks.sh builds them here too).
DMEM_DEB_DIR=${DMEM_DEB_DIR:-$DMEM_TOP/tests/build/deb}

# debian_image_debs: build the packages unless they are there.
debian_image_debs() {
	ls "$DMEM_DEB_DIR"/dmem-balloon-dkms_*_all.deb "$DMEM_DEB_DIR"/dmemd_*.deb >/dev/null 2>&1 ||
		make -s -C "$DMEM_TOP" deb DEBDIR="$DMEM_DEB_DIR" >&2
}

# debian_image_deb: the dmem-balloon-dkms package to install (newest there).
debian_image_deb() {
	ls "$DMEM_DEB_DIR"/dmem-balloon-dkms_*_all.deb 2>/dev/null | sort -V | tail -n 1
}

# debian_image_key: what the image is built from, hashed.
debian_image_key() {
	local deb
	deb=$(debian_image_deb)
	{
		sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1
		echo "$DMEM_IMAGE_SUITE $DMEM_IMAGE_MIRROR $DMEM_IMAGE_SECURITY $DMEM_IMAGE_SIZE"
		echo "$DMEM_IMAGE_PACKAGES"
		[ -n "$deb" ] && sha256sum "$deb" | cut -d' ' -f1
	} | sha256sum | cut -c1-16
}

# debian_image: build the image unless it is cached; print its directory.
debian_image() {
	local deb key dir tmp rc start
	debian_image_debs || _dimg_fail "make deb failed" || return 1
	deb=$(debian_image_deb)
	[ -n "$deb" ] || _dimg_fail "no dmem-balloon-dkms_*.deb in $DMEM_DEB_DIR after make deb" || return 1
	command -v mmdebstrap >/dev/null || _dimg_fail "mmdebstrap is not installed (scripts/setup.sh)" || return 1
	key=$(debian_image_key)
	dir=$DMEM_IMAGE_CACHE/debian-12-$key
	mkdir -p "$DMEM_IMAGE_CACHE" || return 1
	if [ -s "$dir/disk.qcow2" ] && [ -s "$dir/kver" ]; then
		touch "$dir"
		echo "# debian-image: cached: $dir" >&2
		echo "$dir"
		return 0
	fi
	(
		# One build at a time; a build that waited may find the image built.
		exec 8>"$DMEM_IMAGE_CACHE/.build.lock"
		flock -w "$DMEM_IMAGE_TIMEOUT" 8 || _dimg_fail "another build holds $DMEM_IMAGE_CACHE/.build.lock" || exit 1
		[ -s "$dir/disk.qcow2" ] && [ -s "$dir/kver" ] && exit 0
		tmp=$(mktemp -d "$DMEM_IMAGE_CACHE/.build-$key.XXXXXX") || exit 1
		trap 'rm -rf "$tmp"' EXIT
		start=$(date +%s)
		export DMEM_IMAGE_SUITE DMEM_IMAGE_MIRROR DMEM_IMAGE_SECURITY DMEM_IMAGE_PACKAGES DMEM_IMAGE_SIZE
		timeout -k 10 "$DMEM_IMAGE_TIMEOUT" bash -c "$(declare -f _debian_image_build _dimg_step _dimg_done _dimg_fail); _debian_image_build \"\$@\"" _ "$tmp" "$deb" ||
			{ rc=$?; echo "# debian-image: build failed (status $rc); log: $DMEM_IMAGE_CACHE/failed-build.log" >&2
			  cp "$tmp/build.log" "$DMEM_IMAGE_CACHE/failed-build.log" 2>/dev/null
			  tail -n 30 "$tmp/build.log" 2>/dev/null | sed 's/^/# /' >&2; exit 1; }
		rm -rf "$tmp/rootfs"
		mv "$tmp" "$dir" || exit 1
		trap - EXIT
		# Images of other keys unused for two days go (a test still using
		# one has it open).
		find "$DMEM_IMAGE_CACHE" -mindepth 1 -maxdepth 1 -name 'debian-12-*' \
			! -name "debian-12-$key" -mtime +1 -exec rm -rf {} + 2>/dev/null
		echo "# debian-image: total: $(($(date +%s) - start)) s" >&2
	) || return 1
	echo "$dir"
}

# _debian_image_build TMPDIR DEB (run under timeout, in its own bash)
_debian_image_build() {
	local tmp=$1 deb=$2 kver size_mib
	local log=$tmp/build.log
	cp "$deb" "$tmp/" || return 1
	deb=$tmp/$(basename "$deb")

	_dimg_step "mmdebstrap (download, install, DKMS build, initramfs)"
	# Customize hooks run in the finished chroot (/proc, /sys, /dev mounted;
	# services are not started). uname -r there is the host's kernel: the
	# image's own kernel version is found in its /lib/modules and passed on.
	if ! mmdebstrap --mode=root --variant=minbase --format=directory \
		--aptopt='APT::Install-Recommends "false"' \
		--include="$(echo $DMEM_IMAGE_PACKAGES | tr ' ' ',')" \
		--customize-hook='echo dmem-guest >"$1/etc/hostname"' \
		--customize-hook='printf "127.0.0.1\tlocalhost\n127.0.1.1\tdmem-guest\n" >"$1/etc/hosts"' \
		--customize-hook='printf "LABEL=dmemroot / ext4 rw,errors=remount-ro 0 1\n" >"$1/etc/fstab"' \
		--customize-hook='chroot "$1" passwd -d root' \
		--customize-hook='chroot "$1" systemctl enable serial-getty@ttyS0.service' \
		--customize-hook='chroot "$1" systemctl mask systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer man-db.timer e2scrub_all.timer fstrim.timer 2>/dev/null || true' \
		--customize-hook="copy-in $deb /root" \
		--customize-hook='ls "$1/lib/modules" >"$1/root/kver"; test "$(wc -l <"$1/root/kver")" = 1' \
		--customize-hook='chroot "$1" env DEBIAN_FRONTEND=noninteractive apt-get install -y /root/'"$(basename "$deb")" \
		--customize-hook='k=$(cat "$1/root/kver"); chroot "$1" dkms status -m dmem_balloon -k "$k" | grep -q ": installed" || { chroot "$1" dkms autoinstall -k "$k" && chroot "$1" update-initramfs -u -k "$k"; }' \
		--customize-hook='k=$(cat "$1/root/kver"); chroot "$1" modinfo -k "$k" -F filename dmem_balloon | grep -q updates/dkms' \
		--customize-hook='k=$(cat "$1/root/kver"); chroot "$1" lsinitramfs "/boot/initrd.img-$k" | grep -q "lib/modprobe.d/dmem_balloon.conf"' \
		--customize-hook='printf "# dmem test image: initramfs rebuilt in the (TCG) guest holds only the\n# modules its hardware needs (MODULES=most takes over 10 minutes there).\nMODULES=dep\n" >"$1/etc/initramfs-tools/conf.d/dmem-test-modules"' \
		--customize-hook='chroot "$1" apt-get clean' \
		--customize-hook='rm -rf "$1"/var/lib/apt/lists/*_Packages "$1"/var/lib/apt/lists/*_Translation-*' \
		--customize-hook='chroot "$1" dkms status' \
		"$DMEM_IMAGE_SUITE" "$tmp/rootfs" \
		"deb $DMEM_IMAGE_MIRROR $DMEM_IMAGE_SUITE main" \
		"deb $DMEM_IMAGE_MIRROR $DMEM_IMAGE_SUITE-updates main" \
		"deb $DMEM_IMAGE_SECURITY $DMEM_IMAGE_SUITE-security main" \
		>"$log" 2>&1; then
		_dimg_fail "mmdebstrap failed"
		return 1
	fi
	_dimg_done
	grep -E '^dmem_balloon/' "$log" | sed 's/^/# debian-image: dkms status: /' >&2

	kver=$(cat "$tmp/rootfs/root/kver")
	echo "$kver" >"$tmp/kver"
	cp "$tmp/rootfs/boot/vmlinuz-$kver" "$tmp/vmlinuz" || return 1
	cp "$tmp/rootfs/boot/initrd.img-$kver" "$tmp/initrd.img" || return 1

	_dimg_step "root filesystem to ext4 (mkfs.ext4 -d)"
	size_mib=$(du -sm "$tmp/rootfs" | cut -f1)
	echo "# debian-image: root filesystem: $size_mib MiB, kernel $kver" >&2
	truncate -s "$DMEM_IMAGE_SIZE" "$tmp/disk.raw" &&
		mkfs.ext4 -q -F -L dmemroot -d "$tmp/rootfs" "$tmp/disk.raw" >>"$log" 2>&1 ||
		{ _dimg_fail "mkfs.ext4 -d failed"; return 1; }
	_dimg_done

	_dimg_step "ext4 to qcow2"
	qemu-img convert -f raw -O qcow2 "$tmp/disk.raw" "$tmp/disk.qcow2" >>"$log" 2>&1 ||
		{ _dimg_fail "qemu-img convert failed"; return 1; }
	rm -f "$tmp/disk.raw"
	_dimg_done
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -uo pipefail
	debian_image
fi
