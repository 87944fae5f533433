#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Build and install dmem's host side on a Debian 12 host: dmemd, dmemctl,
# the systemd unit, the default /etc/dmemd/dmemd.conf (an existing one is
# kept) and the man pages. Idempotent: run it again after an update.
#
#   scripts/install-host.sh [--prefix DIR] [--enable]
#
#   --prefix DIR  install under DIR (default /usr/local)
#   --enable      also enable and (re)start dmemd.service
#
# DESTDIR=... stages the files instead of installing them (no package
# installation, no systemctl).
set -eu

TOP=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=/usr/local
ENABLE=0
DESTDIR=${DESTDIR:-}

die() { echo "install-host.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
	case $1 in
	--prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; PREFIX=$2; shift 2 ;;
	--prefix=*) PREFIX=${1#--prefix=}; shift ;;
	--enable) ENABLE=1; shift ;;
	-h|--help) sed -n '3,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
done

# What building needs, and what dmemd needs at run time.
BUILD_PKGS="build-essential pkg-config libglib2.0-dev libvirt-dev libvirt-glib-1.0-dev"
RUN_PKGS="libvirt-daemon-system"

if [ -z "$DESTDIR" ]; then
	[ "$(id -u)" -eq 0 ] || die "must run as root (or set DESTDIR to stage the files)"
	missing=""
	for p in $BUILD_PKGS $RUN_PKGS; do
		st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
		[ "$st" = installed ] || missing="$missing $p"
	done
	if [ -n "$missing" ]; then
		echo "installing:$missing"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -q >/dev/null
		# shellcheck disable=SC2086
		apt-get install -y -q --no-install-recommends $missing >/dev/null
	fi
fi

make -s -C "$TOP/hostd" WERROR=1
make -s -C "$TOP/hostd" install DESTDIR="$DESTDIR" PREFIX="$PREFIX"

[ -z "$DESTDIR" ] || exit 0
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload
	if [ "$ENABLE" -eq 1 ]; then
		systemctl enable dmemd.service
		systemctl restart dmemd.service
		echo "dmemd.service enabled and (re)started"
	elif systemctl is-active --quiet dmemd.service; then
		systemctl restart dmemd.service
		echo "dmemd.service restarted with the new build"
	else
		echo "installed; start it with: systemctl enable --now dmemd"
	fi
else
	echo "installed; systemd is not running here: start dmemd --foreground yourself"
fi
