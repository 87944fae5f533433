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

.PHONY: all module hostd check demo clean install

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

clean:
	@if [ -n "$(KDIR)" ] && [ -e "$(KDIR)/Makefile" ]; then \
		$(MAKE) -C $(KDIR) M=$(CURDIR) clean; \
	fi
	$(MAKE) -C hostd clean
	rm -rf tests/build build
