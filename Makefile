# SPDX-License-Identifier: GPL-2.0-or-later
#
# dmem top-level build.
#
#   make                 build dmem_balloon.ko (guest) and dmemd/dmemctl (host)
#   make module          just the guest module
#   make hostd           just the host programs
#   make check           set the machine up, then run every test
#   make demo            set the machine up, then boot a demo VM under dmemd
#   make install         install the host side (dmemd, dmemctl, unit, config,
#                        man pages; DESTDIR and PREFIX are honoured)
#   make deb             Debian packages dmemd and dmem-balloon-dkms (with the
#                        source package) into build/deb/, or DEBDIR=
#   make clean
#
# The guest side is installed inside a guest with scripts/install-guest.sh.
#
# The module is built against the *guest* kernel's headers, not the running
# kernel's: by default the newest installed Debian 6.1 headers
# (linux-headers-amd64). Override with KDIR=/path/to/kernel/build.

KDIR ?= $(shell ls -d /usr/src/linux-headers-6.1.*-amd64 2>/dev/null | sort -V | tail -n 1)
W ?=
C ?=

.PHONY: all module hostd check demo clean install deb

all: module hostd

module:
	@if [ -z "$(KDIR)" ] || [ ! -e "$(KDIR)/Makefile" ]; then \
		echo "make: no guest kernel headers found (install linux-headers-amd64 or set KDIR=)" >&2; \
		exit 1; \
	fi
	$(MAKE) -C $(KDIR) M=$(CURDIR) W=$(W) C=$(C) modules

hostd:
	$(MAKE) -C hostd

# The one test command (README.md, .ci/run): installs what the tests need,
# builds, and runs every test with a closing "N passed, N failed" line.
check:
	./scripts/setup.sh
	./tests/run

demo:
	./scripts/setup.sh
	$(MAKE) all
	./tests/demo.sh

install:
	$(MAKE) -C hostd install

# Debian packages, built by dpkg-buildpackage from a copy of the tree in
# $(DEBDIR) (what git tracks, and new files it does not ignore; without git,
# the tree minus its build output), which is removed afterwards: the tree
# stays as it is. debian/ says how; the version is DMEM_VERSION.
DEBDIR ?= build/deb
DEB_VERSION := $(shell sed -n 's/^\#define DMEM_VERSION[[:space:]]*"\(.*\)"/\1/p' include/dmem_defaults.h)
DEB_SRC = $(DEBDIR)/dmem-$(DEB_VERSION)
# What an in-tree module build leaves (as in .gitignore, which a tree
# unpacked from the source package lacks).
DEB_KBUILD_OUTPUT := *.o *.ko *.mod *.mod.c .*.cmd *.a Module.symvers \
	modules.order .tmp_versions

deb:
	@command -v dpkg-buildpackage >/dev/null && command -v dh >/dev/null || { \
		echo "make: dpkg-buildpackage and debhelper are missing (scripts/setup.sh installs them)" >&2; \
		exit 1; \
	}
	rm -rf $(DEBDIR)
	mkdir -p $(DEB_SRC)
	if [ "$$(git rev-parse --show-toplevel 2>/dev/null)" = "$(CURDIR)" ]; then \
		git ls-files -z --cached --others --exclude-standard | \
			tar --null -T - --ignore-failed-read -cf -; \
	else \
		tar --exclude-vcs --exclude-vcs-ignores --exclude=./build \
			--exclude=./tests/build --exclude=./hostd/build \
			--exclude=./hostd/build-asan --exclude=./hostd/dmemd \
			--exclude=./hostd/dmemctl $(DEB_KBUILD_OUTPUT:%=--exclude='%') \
			-cf - .; \
	fi | tar -xf - -C $(DEB_SRC)
	cd $(DEB_SRC) && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL dpkg-buildpackage -us -uc -J
	rm -rf $(DEB_SRC)
	@echo "Debian packages in $(DEBDIR):"; ls -1 $(DEBDIR)

clean:
	@if [ -n "$(KDIR)" ] && [ -e "$(KDIR)/Makefile" ]; then \
		$(MAKE) -C $(KDIR) M=$(CURDIR) clean; \
	fi
	$(MAKE) -C hostd clean
	rm -rf tests/build build
