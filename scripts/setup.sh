#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Turn a fresh Debian 12 machine into one that builds, runs and tests dmem.
# Idempotent: packages already present are left alone. Quiet unless it fails.
set -eu

PKGS="build-essential pkg-config kmod cpio gzip xz-utils
libglib2.0-dev libvirt-dev libvirt-glib-1.0-dev libvirt-daemon-system libvirt-clients groff-base
qemu-system-x86 qemu-utils seabios
linux-image-amd64 linux-headers-amd64
linux-image-6.12-amd64 linux-headers-6.12-amd64
linux-source-6.1
busybox-static sparse valgrind jq dkms gnuplot-nox
debhelper dh-dkms lintian mmdebstrap"

if [ "$(id -u)" -ne 0 ]; then
	echo "setup.sh: must run as root (it installs Debian packages)" >&2
	exit 1
fi

missing=""
for p in $PKGS; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = installed ] || missing="$missing $p"
done

if [ -n "$missing" ]; then
	log=$(mktemp /tmp/dmem-setup.XXXXXX)
	export DEBIAN_FRONTEND=noninteractive
	# No init system runs services here: keep maintainer scripts from trying.
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod +x /usr/sbin/policy-rc.d
		trap 'rm -f /usr/sbin/policy-rc.d' EXIT
	fi
	if ! { apt-get update -q &&
	       apt-get install -y -q --no-install-recommends $missing; } >"$log" 2>&1; then
		tail -n 40 "$log" >&2
		echo "setup.sh: package installation failed (full log: $log)" >&2
		exit 1
	fi
	rm -f "$log"
fi

# checkpatch.pl ships only inside Debian's kernel source tarball: extract it
# (and the data files it reads) once.
CP=/usr/local/share/dmem/checkpatch
if [ ! -x "$CP/scripts/checkpatch.pl" ]; then
	tarball=$(ls /usr/src/linux-source-6.1.tar.xz 2>/dev/null | head -n 1)
	mkdir -p "$CP"
	tar -xJf "$tarball" -C "$CP" --strip-components=1 --wildcards \
		'*/scripts/checkpatch.pl' '*/scripts/spelling.txt' \
		'*/scripts/const_structs.checkpatch'
fi
