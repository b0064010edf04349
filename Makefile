# SPDX-License-Identifier: GPL-2.0
#
# mlx5c: a vfio-pci variant driver with live migration, its tools and tests.
#
#   make            build the module (W=1), vfio-mig and the selftests
#   make check      install what is missing, lint, run every test (host + VM)
#   make demo       install what is missing and run the demo in the VM
#   make bench      benchmarks in the VM (not tests)
#   make fuzz       10000 fuzzed streams through the resuming parser in the VM
#   make check-debug  the VM suite on a debug kernel (KASAN, lockdep,
#                   kmemleak, debug objects) built once from linux-source-6.12
#   make vm-shell   an interactive shell in the test VM
#   make C=1        also run sparse over the module
#   make install    install the module (updates/, then depmod), vfio-mig, its
#                   man page and mlx5c-vfio-pci-bind; make uninstall removes them
#   make man        the vfio-mig(1) man page from Documentation/vfio-mig.rst
#   make dkms-src   the module's source tree for DKMS (DKMS_SRC=...)
#
# KVER, KDIR and VM_KERNEL select another kernel to build for and boot.
# make install honours DESTDIR, PREFIX (/usr/local), BINDIR, SBINDIR and MANDIR; with
# DESTDIR set it does not run depmod (run "depmod KVER" on the target).
# See Documentation/mlx5c-vfio-pci.rst, "Installing".

SHELL := /bin/bash
TOP := $(CURDIR)
BUILD := $(TOP)/build
KVER ?= $(shell ls /lib/modules 2>/dev/null | grep -E '^6\.12\.[0-9]+\+deb12-amd64$$' | sort -V | tail -n 1)
KDIR ?= /lib/modules/$(KVER)/build
KSRC ?= /usr/src/linux-source-6.12
VM_KERNEL ?= /boot/vmlinuz-$(KVER)
MODULE := $(BUILD)/module/mlx5c-vfio-pci.ko
MODSRC := drivers/vfio/pci/mlx5c
VERSION := $(shell sed -n 's/^MODULE_VERSION("\(.*\)");/\1/p' $(MODSRC)/main.c)
VFIO_MIG := $(BUILD)/vfio-mig/vfio-mig
MAN := $(BUILD)/man/vfio-mig.1

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
MODDIR ?= /lib/modules/$(KVER)/updates
DEPMOD ?= depmod
RST2MAN ?= rst2man
DKMS_SRC ?= $(DESTDIR)/usr/src/mlx5c-vfio-pci-$(VERSION)

export KVER KDIR KSRC VM_KERNEL

.PHONY: all deps module tools selftests check check-debug demo bench fuzz vm-shell lint \
	checkpatch sparse clean man install uninstall dkms-src samples

all: module tools selftests samples man

deps:
	@$(TOP)/scripts/install-deps.sh >/dev/null

module:
	$(MAKE) -C $(KDIR) M=$(TOP) W=1 modules
	@mkdir -p $(BUILD)/module
	cp $(MODSRC)/mlx5c-vfio-pci.ko $(MODULE)

tools:
	$(if $(wildcard tools/vfio-mig/Makefile),$(MAKE) -C tools/vfio-mig O=$(BUILD)/vfio-mig)

selftests:
	$(MAKE) -C tools/testing/selftests/mlx5c O=$(BUILD)/selftests KSRC=$(KSRC)

samples:
	$(MAKE) -C samples/vfio-mig-sample O=$(BUILD)/samples

man: $(MAN)

$(MAN): Documentation/vfio-mig.rst
	@command -v $(RST2MAN) >/dev/null || \
		{ echo "$(RST2MAN) not found: scripts/install-deps.sh (python3-docutils)" >&2; exit 1; }
	@mkdir -p $(dir $@)
	$(RST2MAN) --halt=warning $< $@.tmp
	mv $@.tmp $@

# Installs what "make" built; it builds nothing but the man page.
install: $(MAN)
	@test -n "$(KVER)" || { echo "install: no KVER" >&2; exit 1; }
	@for f in $(MODULE) $(VFIO_MIG); do test -f $$f || \
		{ echo "install: $$f is missing: run make first" >&2; exit 1; }; done
	install -D -m 644 $(MODULE) $(DESTDIR)$(MODDIR)/mlx5c-vfio-pci.ko
	install -D -m 755 $(VFIO_MIG) $(DESTDIR)$(BINDIR)/vfio-mig
	install -D -m 755 samples/udev/mlx5c-vfio-pci-bind $(DESTDIR)$(SBINDIR)/mlx5c-vfio-pci-bind
	install -D -m 644 $(MAN) $(DESTDIR)$(MANDIR)/man1/vfio-mig.1
	$(if $(DESTDIR),@echo "install: DESTDIR is set: run 'depmod $(KVER)' on the target",$(DEPMOD) -a $(KVER))

uninstall:
	@test -n "$(KVER)" || { echo "uninstall: no KVER" >&2; exit 1; }
	rm -f $(DESTDIR)$(MODDIR)/mlx5c-vfio-pci.ko $(DESTDIR)$(BINDIR)/vfio-mig \
		$(DESTDIR)$(SBINDIR)/mlx5c-vfio-pci-bind $(DESTDIR)$(MANDIR)/man1/vfio-mig.1
	$(if $(DESTDIR),@echo "uninstall: DESTDIR is set: run 'depmod $(KVER)' on the target",$(DEPMOD) -a $(KVER))

# The module's sources as DKMS wants them under /usr/src/NAME-VERSION.
dkms-src:
	@test -n "$(VERSION)" || { echo "dkms-src: no MODULE_VERSION in $(MODSRC)/main.c" >&2; exit 1; }
	rm -rf $(DKMS_SRC)
	install -d $(DKMS_SRC)/$(MODSRC) $(DKMS_SRC)/include/uapi/linux
	install -m 644 dkms.conf Kbuild $(DKMS_SRC)/
	install -m 644 $(MODSRC)/Kbuild $(MODSRC)/*.h \
		$(filter-out %.mod.c,$(wildcard $(MODSRC)/*.c)) $(DKMS_SRC)/$(MODSRC)/
	install -m 644 include/uapi/linux/*.h $(DKMS_SRC)/include/uapi/linux/

sparse:
	$(MAKE) -C $(KDIR) M=$(TOP) W=1 C=2 modules

checkpatch:
	perl $(KSRC)/scripts/checkpatch.pl --no-tree --strict --terse \
		--ignore FILE_PATH_CHANGES,SPDX_LICENSE_TAG \
		-f $(filter-out %.mod.c,$(wildcard $(MODSRC)/*.c)) $(MODSRC)/*.h \
		include/uapi/linux/*.h

check: deps
	$(MAKE) all
	$(TOP)/tools/testing/check.sh

demo: deps
	$(MAKE) all
	$(TOP)/tools/testing/vm/run -- $(TOP)/samples/demo.sh

bench: deps
	$(MAKE) all
	$(TOP)/tools/testing/vm/run --timeout 1800 -- $(TOP)/tools/testing/bench/run.sh downtime
	$(TOP)/tools/testing/vm/run --timeout 1800 --ivshmem-size 16M -- \
		$(TOP)/tools/testing/bench/run.sh channels

check-debug: deps
	$(MAKE) all
	@mkdir -p $(BUILD)/debug
	$(TOP)/tools/testing/debug-kernel/check.sh 2>&1 | tee $(BUILD)/debug/check.log; \
	status=$${PIPESTATUS[0]}; \
	grep -E '^(not )?ok ' $(BUILD)/debug/check.log > $(BUILD)/debug/tap; \
	if [ $$status -eq 0 ]; then echo "ok - debug_vm_run_clean" >> $(BUILD)/debug/tap; \
	else echo "not ok - debug_vm_run_clean (status $$status)" >> $(BUILD)/debug/tap; fi; \
	$(TOP)/tools/testing/tally.sh $(BUILD)/debug/tap

fuzz: deps
	$(MAKE) all
	$(TOP)/tools/testing/vm/run --timeout 3600 -- env MLX5C_FUZZ_CASES=10000 \
		$(TOP)/tools/testing/selftests/mlx5c/run_tests.sh fuzz

vm-shell: all
	$(TOP)/tools/testing/vm/run --shell

clean:
	$(MAKE) -C $(KDIR) M=$(TOP) clean || true
	rm -rf $(BUILD)
