#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Debian packages: `make deb` builds dmemd and dmem-balloon-dkms (and the
# source package) from a copy of the tree, lintian-clean (no error, no
# warning), with the files, conffile, dependencies, trigger and maintainer
# scripts that debian/ promises; the packaged module source builds with DKMS
# for the Debian 12 guest kernels (in a private DKMS tree). Nothing is
# installed on this host. Packages go to tests/build/deb/.
#
# Single-quoted $ below is for an inner shell or is maintainer-script text.
# shellcheck disable=SC2016,SC2012
set -uo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
source "$TOP/tests/lib/tap.sh"

OUT=$TOP/tests/build/deb
work=$(mktemp -d /tmp/dmem-deb.XXXXXX)
trap 'rm -rf "$work"' EXIT

ver=$(sed -n 's/^#define DMEM_VERSION[[:space:]]*"\(.*\)"/\1/p' "$TOP/include/dmem_defaults.h")
arch=$(dpkg --print-architecture)
host_deb=$OUT/dmemd_${ver}_$arch.deb
dkms_deb=$OUT/dmem-balloon-dkms_${ver}_all.deb
changes=$OUT/dmem_${ver}_$arch.changes

# What the build must not touch: the tree (as git sees it) and its parent
# (where dpkg-buildpackage puts its results when run in place).
# (Only additions count: someone may commit meanwhile.)
tree_state() {
	if git -C "$TOP" rev-parse --git-dir >/dev/null 2>&1; then
		git -C "$TOP" status --porcelain --untracked-files=all
	fi
	local f
	for f in "$TOP"/../dmem*_*; do
		[ -e "$f" ] && basename "$f"
	done
	return 0
}
tree_state >"$work/before"

log=$work/make-deb.log
start=$(date +%s)
if make -C "$TOP" deb DEBDIR="$OUT" >"$log" 2>&1; then
	tap_ok "make deb builds the packages ($(($(date +%s) - start)) s)"
else
	tail -n 30 "$log" | sed 's/^/# /'
	bail "make deb failed (log above)"
fi

tree_state >"$work/after"
added=$(grep -vxF -f "$work/before" "$work/after" || true)
check "make deb adds nothing to the tree or its parent" test -z "$added"
[ -z "$added" ] || tap_diag "$added"

for f in "$host_deb" "$dkms_deb" "$OUT/dmem_$ver.dsc" "$OUT/dmem_$ver.tar.xz" "$changes"; do
	check "built $(basename "$f")" test -s "$f"
done
if [ ! -s "$host_deb" ] || [ ! -s "$dkms_deb" ] || [ ! -s "$changes" ]; then
	bail "packages missing in $OUT"
fi
check "nothing but the results is left in $OUT" test ! -e "$OUT/dmem-$ver"

# lintian at its default level over everything the build produced (the
# .changes names the source package and every .deb); info tags are shown.
lintian -I --fail-on error,warning "$changes" >"$work/lintian" 2>"$work/lintian.err"
lrc=$?
grep -v 'running with root privileges' "$work/lintian.err" | sed 's/^/# lintian: /'
sed 's/^/# /' "$work/lintian"
ew=$(grep -E '^[EW]: ' "$work/lintian" || true)
check "lintian: no error and no warning (source, dmemd, dmem-balloon-dkms)" \
	test "$lrc" -eq 0 -a -z "$ew"

# Package contents.
has() { grep -qxF "$2" "$work/$1.list"; }
dpkg-deb -c "$host_deb" | awk '{print $6}' | sed 's|^\./|/|' >"$work/dmemd.list"
dpkg-deb -c "$dkms_deb" | awk '{print $6}' | sed 's|^\./|/|' >"$work/dkms.list"
mkdir -p "$work/dmemd.ctl" "$work/dkms.ctl" "$work/dmemd.root" "$work/dkms.root"
dpkg-deb -e "$host_deb" "$work/dmemd.ctl"
dpkg-deb -e "$dkms_deb" "$work/dkms.ctl"
dpkg-deb -x "$host_deb" "$work/dmemd.root"
dpkg-deb -x "$dkms_deb" "$work/dkms.root"

for f in /usr/sbin/dmemd /usr/bin/dmemctl /lib/systemd/system/dmemd.service \
	/etc/dmemd/dmemd.conf /usr/share/man/man8/dmemd.8.gz \
	/usr/share/man/man8/dmemctl.8.gz /usr/share/man/man5/dmemd.conf.5.gz \
	/usr/share/doc/dmemd/copyright; do
	check "dmemd ships $f" has dmemd "$f"
done
check "dmemd: /etc/dmemd/dmemd.conf is a conffile" \
	grep -qxF /etc/dmemd/dmemd.conf "$work/dmemd.ctl/conffiles"
check "dmemd: /etc/dmemd/dmemd.conf is the tree's hostd/dist/dmemd.conf" \
	cmp -s "$TOP/hostd/dist/dmemd.conf" "$work/dmemd.root/etc/dmemd/dmemd.conf"
dep=$(dpkg-deb -f "$host_deb" Depends)
tap_diag "dmemd Depends: $dep"
check "dmemd depends on libvirt-daemon-system" grep -qE '(^|, )libvirt-daemon-system([ ,]|$)' <<<"$dep"
unit=$work/dmemd.root/lib/systemd/system/dmemd.service
check "dmemd.service starts /usr/sbin/dmemd --foreground" \
	grep -qxF 'ExecStart=/usr/sbin/dmemd --foreground' "$unit"
dv=$("$work/dmemd.root/usr/sbin/dmemd" --version 2>&1)
check "the packaged dmemd runs and says $ver ($dv)" grep -qF "$ver" <<<"$dv"
# Installing must not enable or start the unit (dh_installsystemd
# --no-enable: the unit is enabled only if it was before, and
# deb-systemd-invoke starts only enabled units); removal stops it.
pi=$work/dmemd.ctl/postinst
check "dmemd postinst does not enable dmemd.service on install" \
	grep -q "deb-systemd-helper debian-installed 'dmemd.service'" "$pi"
check "dmemd postinst has no unconditional enable" \
	bash -c '! grep -q "was-enabled defaults to true" "$1"' _ "$pi"
check "dmemd prerm stops dmemd.service on removal" \
	grep -q "deb-systemd-invoke stop 'dmemd.service'" "$work/dmemd.ctl/prerm"

src=/usr/src/dmem_balloon-$ver
for f in "$src/dkms.conf" "$src/Kbuild" /lib/modprobe.d/dmem_balloon.conf \
	/lib/udev/rules.d/80-dmem-memory-online.rules; do
	check "dmem-balloon-dkms ships $f" has dkms "$f"
done
missing=""
for f in "$TOP"/guest-driver/*.c "$TOP"/guest-driver/*.h "$TOP"/guest-driver/Kbuild "$TOP"/include/*.h; do
	rel=${f#"$TOP"/}
	case $rel in *.mod.c) continue ;; esac # kbuild output of an in-tree build
	cmp -s "$f" "$work/dkms.root$src/$rel" || missing="$missing $rel"
done
check "dmem-balloon-dkms ships every driver source and shared header under $src" test -z "$missing"
[ -z "$missing" ] || tap_diag "missing or different:$missing"
conf=$work/dkms.root$src/dkms.conf
check "dkms.conf names dmem_balloon $ver" \
	bash -c 'grep -qx "PACKAGE_NAME=\"dmem_balloon\"" "$1" && grep -qx "PACKAGE_VERSION=\"$2\"" "$1"' _ "$conf" "$ver"
check "the modprobe.d file blacklists virtio_balloon" \
	grep -qx 'blacklist virtio_balloon' "$work/dkms.root/lib/modprobe.d/dmem_balloon.conf"
check "the udev rule is the tree's" cmp -s "$TOP/guest-driver/80-dmem-memory-online.rules" \
	"$work/dkms.root/lib/udev/rules.d/80-dmem-memory-online.rules"
check "dmem-balloon-dkms updates the initramfs through its trigger (install and removal)" \
	grep -qx 'activate-noawait update-initramfs' "$work/dkms.ctl/triggers"
ddep=$(dpkg-deb -f "$dkms_deb" Depends)
tap_diag "dmem-balloon-dkms Depends: $ddep"
check "dmem-balloon-dkms depends on dkms" grep -qE '(^|, )dkms([ ,]|$)' <<<"$ddep"
check "dmem-balloon-dkms postinst adds and builds dmem_balloon $ver with DKMS" \
	bash -c 'grep -qx "DKMS_NAME=dmem_balloon" "$1" && grep -qx "DKMS_VERSION=$2" "$1" &&
		grep -q common.postinst "$1"' _ "$work/dkms.ctl/postinst" "$ver"
check "dmem-balloon-dkms prerm removes it from DKMS" \
	grep -q 'dkms remove -m $DKMS_NAME -v $DKMS_VERSION --all' "$work/dkms.ctl/prerm"

# The preinst takes over what scripts/install-guest.sh registered with DKMS
# (else the postinst's "dkms add" fails): run it against a fake DKMS tree
# with a dkms that only records its calls.
fake=$work/fake
mkdir -p "$fake/var/lib/dkms/dmem_balloon/$ver/k/x86_64" "$fake/var/lib/dkms/dmem_balloon/original_module" \
	"$fake/usr/src/dmem_balloon-$ver" "$fake/bin"
ln -s "$ver/k/x86_64" "$fake/var/lib/dkms/dmem_balloon/kernel-k-x86_64"
printf '#!/bin/sh\necho "dkms $*" >>"%s/calls"\n' "$fake" >"$fake/bin/dkms"
chmod +x "$fake/bin/dkms"
sed -e "s|/var/lib/dkms|$fake/var/lib/dkms|g" -e "s|/usr/src|$fake/usr/src|g" \
	"$work/dkms.ctl/preinst" >"$fake/preinst"
PATH=$fake/bin:$PATH sh "$fake/preinst" install >"$fake/out" 2>&1
check "dmem-balloon-dkms preinst drops an install-guest.sh DKMS registration on first install" \
	bash -c '[ "$(cat "$1/calls")" = "dkms remove -m dmem_balloon -v $2 --all" ] &&
		[ ! -e "$1/usr/src/dmem_balloon-$2" ]' _ "$fake" "$ver"
rm -f "$fake/calls"
PATH=$fake/bin:$PATH sh "$fake/preinst" upgrade "$ver" >>"$fake/out" 2>&1
check "dmem-balloon-dkms preinst leaves DKMS alone on upgrade" test ! -e "$fake/calls"

# The packaged source as DKMS sees it on a guest: add it to a private DKMS
# tree and build it for the newest installed Debian 12 guest kernels.
dkms_() { dkms --dkmstree "$work/dkms-tree" --sourcetree "$work/dkms.root/usr/src" "$@"; }
mkdir -p "$work/dkms-tree"
if dkms_ add -m dmem_balloon -v "$ver" >"$work/dkms.log" 2>&1; then
	for series in 6.1 6.12; do
		kdir=$(ls -d /usr/src/linux-headers-"$series".*-amd64 2>/dev/null | sort -V | tail -n 1)
		if [ -z "$kdir" ]; then
			tap_not_ok "no $series guest kernel headers installed (scripts/setup.sh installs them)"
			continue
		fi
		kver=${kdir#/usr/src/linux-headers-}
		if dkms_ build -m dmem_balloon -v "$ver" -k "$kver" >>"$work/dkms.log" 2>&1; then
			tap_ok "DKMS builds the packaged dmem_balloon $ver for $kver"
		else
			tap_not_ok "DKMS builds the packaged dmem_balloon $ver for $kver"
			tail -n 20 "$work/dkms.log" | sed 's/^/# /'
		fi
	done
else
	tap_not_ok "dkms add of the packaged dmem_balloon $ver"
	tail -n 5 "$work/dkms.log" | sed 's/^/# /'
fi

tap_done
