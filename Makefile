# SPDX-License-Identifier: GPL-2.0
#
# mlx5c: a vfio-pci variant driver with live migration, its tools and tests.
#
#   make            build the module (W=1), vfio-mig and the selftests
#   make check      install what is missing, lint, run every test (host + VM)
#   make demo       install what is missing and run the demo in the VM
#   make bench      benchmarks, on the host and in the VM (not tests);
#                   make bench-transport only the host part
#                   make bench-datapath only the data path (issue #15)
#   make mutants    one-line mutations of the driver and vfio-mig, each run
#                   against the tests that cover it: every one must be caught
#   make fuzz       10000 fuzzed streams through the resuming parser in the VM
#   make check-debug  the VM suite on a debug kernel (KASAN, lockdep,
#                   kmemleak, debug objects) built once from linux-source-6.12
#   make check-iommufd  on that kernel, the vfio cdev and /dev/iommu: ioctl
#                   tests, vfio-mig and QEMU (iommufd backend, convergence)
#   make vm-shell   an interactive shell in the test VM
#   make C=1        also run sparse over the module
#   make docs-check every Documentation/*.rst through docutils, warnings as errors
#   make install    install the module through Kbuild's modules_install
#                   (updates/, stripped, compressed and signed as the kernel
#                   expects, then depmod), vfio-mig, its man page and
#                   mlx5c-vfio-pci-bind; make uninstall removes them
#   make man        the vfio-mig(1) man page from Documentation/vfio-mig.rst
#   make dkms-src   the module's source tree for DKMS (DKMS_SRC=...)
#
# KVER, KDIR and VM_KERNEL select another kernel to build for and boot.
# make install honours DESTDIR, PREFIX (/usr/local), BINDIR, SBINDIR and MANDIR for
# the tools, INSTALL_MOD_PATH (default DESTDIR), INSTALL_MOD_DIR (updates) and
# INSTALL_MOD_STRIP (1) for the module, MODULE_SIG_KEY and MODULE_SIG_CERT to
# sign it; with INSTALL_MOD_PATH set it does not run depmod (run "depmod KVER"
# on the target).
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
KTAP := $(TOP)/tools/testing/ktap.py

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
DEPMOD ?= depmod
# The module goes through Kbuild's modules_install, which installs it under
# $(INSTALL_MOD_PATH)/lib/modules/KERNELRELEASE/$(INSTALL_MOD_DIR), strips it
# (INSTALL_MOD_STRIP: 1 is --strip-debug, empty keeps everything, anything else
# is strip's options), signs it when the kernel has CONFIG_MODULE_SIG_ALL and
# compresses it as CONFIG_MODULE_COMPRESS_* say (Debian: xz).
INSTALL_MOD_PATH ?= $(DESTDIR)
INSTALL_MOD_DIR ?= updates
INSTALL_MOD_STRIP ?= 1
# Signing: Kbuild signs with the kernel's own key when the build tree has it
# (a kernel built here); MODULE_SIG_KEY (a PEM private key, or a pkcs11: URI)
# and MODULE_SIG_CERT (its X.509 certificate, PEM or DER: e.g. DKMS's
# /var/lib/dkms/mok.key and mok.pub) sign with another key; with neither the
# module is installed unsigned.
MODULE_SIG_KEY ?=
MODULE_SIG_CERT ?=
kconfig = $(shell sed -n 's/^$(1)=//p' $(KDIR)/include/config/auto.conf 2>/dev/null)
KREL = $(shell cat $(KDIR)/include/config/kernel.release 2>/dev/null)
MODLIB = $(INSTALL_MOD_PATH)/lib/modules/$(KVER)
RST2MAN ?= rst2man
DKMS_SRC ?= $(DESTDIR)/usr/src/mlx5c-vfio-pci-$(VERSION)

export KVER KDIR KSRC VM_KERNEL

.PHONY: all deps module tools selftests check check-debug check-iommufd demo bench bench-transport bench-datapath fuzz vm-shell lint \
	checkpatch sparse docs-check mutants clean man install install-check modules_install uninstall dkms-src samples

all: module tools selftests samples man

deps:
	@$(TOP)/scripts/install-deps.sh >/dev/null

module:
	$(MAKE) -C $(KDIR) M=$(TOP) W=1 modules
	@mkdir -p $(BUILD)/module
	cp $(MODSRC)/mlx5c-vfio-pci.ko $(MODULE)

# mtty: linux-source-6.12's mtty sample, built for KDIR, for the VM test of
# vfio-mig against a driver written elsewhere (tools/vfio-mig/tests/mtty-vm.sh).
tools:
	$(MAKE) -C tools/vfio-mig O=$(BUILD)/vfio-mig
	$(MAKE) -C tools/vfio-mig O=$(BUILD)/vfio-mig mtty

# The kselftests, built and installed by the kernel's kselftest framework
# (linux-source-6.12) in a tree of links, build/ktree: programs in
# build/kselftest/mlx5c, the runnable tree in build/kselftest/kselftest_install.
selftests:
	$(TOP)/tools/testing/ksft-tree.sh $(KSRC) $(BUILD)/ktree
	$(MAKE) -C $(BUILD)/ktree/tools/testing/selftests TARGETS=mlx5c O=$(BUILD) install

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
install: $(MAN) modules_install
	install -D -m 755 $(VFIO_MIG) $(DESTDIR)$(BINDIR)/vfio-mig
	install -D -m 755 samples/udev/mlx5c-vfio-pci-bind $(DESTDIR)$(SBINDIR)/mlx5c-vfio-pci-bind
	install -D -m 644 $(MAN) $(DESTDIR)$(MANDIR)/man1/vfio-mig.1
	$(if $(INSTALL_MOD_PATH),@echo "install: INSTALL_MOD_PATH is set: run 'depmod $(KVER)' on the target",$(DEPMOD) -a $(KVER))

install-check:
	@test -n "$(KVER)" || { echo "install: no KVER" >&2; exit 1; }
	@test "$(KREL)" = "$(KVER)" || { echo "install: KDIR $(KDIR) is for '$(KREL)', not KVER $(KVER)" >&2; exit 1; }
	@for f in $(MODSRC)/mlx5c-vfio-pci.ko modules.order $(VFIO_MIG); do test -f $$f || \
		{ echo "install: $$f is missing: run make first" >&2; exit 1; }; done
	@test -z "$(MODULE_SIG_KEY)$(MODULE_SIG_CERT)" || \
		{ test -n "$(MODULE_SIG_KEY)" && test -n "$(MODULE_SIG_CERT)"; } || \
		{ echo "install: MODULE_SIG_KEY and MODULE_SIG_CERT go together" >&2; exit 1; }
	@test -z "$(MODULE_SIG_KEY)" || test -n "$(call kconfig,CONFIG_MODULE_SIG_HASH)" || \
		{ echo "install: $(KDIR) has no CONFIG_MODULE_SIG: it cannot check a signature" >&2; exit 1; }
	@test -z "$(MODULE_SIG_CERT)" || test -r "$(MODULE_SIG_CERT)" || \
		{ echo "install: cannot read MODULE_SIG_CERT $(MODULE_SIG_CERT)" >&2; exit 1; }
	@case "$(MODULE_SIG_KEY)" in ""|pkcs11:*) ;; *) test -r "$(MODULE_SIG_KEY)" || \
		{ echo "install: cannot read MODULE_SIG_KEY $(MODULE_SIG_KEY)" >&2; exit 1; } ;; esac

# Kbuild signs during modules_install with CONFIG_MODULE_SIG_KEY and
# certs/signing_key.x509 of the build tree, and for an external module it
# ignores a failure (Debian's headers have neither). Without a key of ours or
# of the tree's, signing is turned off so that no failed attempt is printed;
# with MODULE_SIG_KEY, Kbuild's sign command is given our key and certificate
# and a failure stops the install. depmod is ours (below), not Kbuild's.
sig_tree_key = $(wildcard $(KDIR)/certs/signing_key.x509)
sig_args = $(if $(MODULE_SIG_KEY),CONFIG_MODULE_SIG_ALL=y \
	'cmd_sign=scripts/sign-file $$(CONFIG_MODULE_SIG_HASH) "$(if $(filter pkcs11:%,$(MODULE_SIG_KEY)),$(MODULE_SIG_KEY),$(abspath $(MODULE_SIG_KEY)))" "$(abspath $(MODULE_SIG_CERT))" $$@',$(if $(sig_tree_key),,CONFIG_MODULE_SIG_ALL=))

modules_install: install-check
	rm -f $(MODLIB)/$(INSTALL_MOD_DIR)/$(MODSRC)/mlx5c-vfio-pci.ko{,.gz,.xz,.zst}
	DEPMOD=true $(MAKE) -C $(KDIR) M=$(TOP) modules_install INSTALL_MOD_PATH=$(INSTALL_MOD_PATH) \
		INSTALL_MOD_DIR=$(INSTALL_MOD_DIR) INSTALL_MOD_STRIP=$(INSTALL_MOD_STRIP) $(sig_args)

uninstall:
	@test -n "$(KVER)" || { echo "uninstall: no KVER" >&2; exit 1; }
	rm -f $(MODLIB)/$(INSTALL_MOD_DIR)/$(MODSRC)/mlx5c-vfio-pci.ko{,.gz,.xz,.zst} \
		$(DESTDIR)$(BINDIR)/vfio-mig \
		$(DESTDIR)$(SBINDIR)/mlx5c-vfio-pci-bind $(DESTDIR)$(MANDIR)/man1/vfio-mig.1
	$(if $(INSTALL_MOD_PATH),@echo "uninstall: INSTALL_MOD_PATH is set: run 'depmod $(KVER)' on the target",$(DEPMOD) -a $(KVER))

# The module's sources as DKMS wants them under /usr/src/NAME-VERSION.
dkms-src:
	@test -n "$(VERSION)" || { echo "dkms-src: no MODULE_VERSION in $(MODSRC)/main.c" >&2; exit 1; }
	rm -rf $(DKMS_SRC)
	install -d $(DKMS_SRC)/$(MODSRC) $(DKMS_SRC)/include/uapi/linux
	install -m 644 dkms.conf Kbuild $(DKMS_SRC)/
	install -m 644 $(MODSRC)/Kbuild $(MODSRC)/*.h \
		$(filter-out %.mod.c,$(wildcard $(MODSRC)/*.c)) $(DKMS_SRC)/$(MODSRC)/
	install -m 644 include/uapi/linux/*.h $(DKMS_SRC)/include/uapi/linux/

# Every page of Documentation/ through docutils, warnings as errors.
docs-check:
	@command -v rst2html >/dev/null || \
		{ echo "rst2html not found: scripts/install-deps.sh (python3-docutils)" >&2; exit 1; }
	@for f in Documentation/*.rst; do \
		rst2html --halt=warning --report=warning $$f > /dev/null || \
		{ echo "$$f: docutils reports above" >&2; exit 1; }; done

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

# The commit every benchmark's JSON records, taken on the host.
BENCH_COMMIT = $(shell git -C $(TOP) describe --always --dirty 2>/dev/null || echo unknown)
BENCH_ENV = env MLX5C_BENCH_COMMIT=$(BENCH_COMMIT)

bench: deps
	$(MAKE) all
	$(MAKE) bench-transport
	$(TOP)/tools/testing/vm/run --timeout 1800 -- \
		$(BENCH_ENV) $(TOP)/tools/testing/bench/run.sh downtime
	$(TOP)/tools/testing/vm/run --timeout 3600 --ivshmem-size 16M -- \
		$(BENCH_ENV) $(TOP)/tools/testing/bench/run.sh channels
	$(TOP)/tools/testing/vm/run --timeout 5400 --ivshmem-size 256M --mem 3G -- \
		$(BENCH_ENV) $(TOP)/tools/testing/bench/run.sh qemu
	$(MAKE) bench-datapath
	$(TOP)/tools/testing/bench/plot.py $(BUILD)/bench

# The data path with 64 MiB and with 1 GiB functions (issue #15's targets),
# joined into build/bench/datapath.json.
bench-datapath: all
	$(TOP)/tools/testing/vm/run --timeout 1800 -- \
		$(BENCH_ENV) $(TOP)/tools/testing/bench/run.sh datapath
	$(TOP)/tools/testing/vm/run --timeout 3600 --ivshmem-size 1G --mem 5G -- \
		$(BENCH_ENV) $(TOP)/tools/testing/bench/run.sh datapath
	$(TOP)/tools/testing/bench/datapath_json.py $(BUILD)/bench

# The host part of make bench (no VM): vfio-mig's transport over loopback
# against a raw copy, build/bench/transport.json.  Fails if a run fails.
bench-transport:
	$(MAKE) -C $(TOP)/tools/vfio-mig bench
	@mkdir -p $(BUILD)/bench
	BENCH_COMMIT=$(BENCH_COMMIT) \
		$(BUILD)/vfio-mig/transport-bench $(BUILD)/bench/transport.json

check-debug: deps
	$(MAKE) all
	@mkdir -p $(BUILD)/debug
	@{ echo "TAP version 13"; echo "1..1"; \
	$(TOP)/tools/testing/debug-kernel/check.sh > $(BUILD)/debug/vm.out; status=$$?; \
	$(KTAP) --wrap $(BUILD)/debug/vm.out > $(BUILD)/debug/vm.ktap; \
	sed 's/^/# /' $(BUILD)/debug/vm.ktap; \
	$(KTAP) --expected-skips $(TOP)/tools/testing/expected-skips --name debug_vm_suite $(BUILD)/debug/vm.ktap > $(BUILD)/debug/vm.judge; judged=$$?; \
	sed 's/^/# /' $(BUILD)/debug/vm.judge; \
	if [ $$status -eq 0 ] && [ $$judged -eq 0 ]; then echo "ok 1 debug_vm_suite"; \
	else echo "not ok 1 debug_vm_suite # exit=$$status"; fi; } | tee $(BUILD)/debug/ktap; \
	$(KTAP) --expected-skips $(TOP)/tools/testing/expected-skips --tally $(BUILD)/debug/ktap

# The iommufd half of the debug kernel (CONFIG_IOMMUFD, VFIO_DEVICE_CDEV,
# IOMMUFD_DRIVER): the ioctl kselftests in both fixture variants, vfio-mig
# and QEMU (iommufd backend) through /dev/iommu and the vfio cdevs, the ynl
# client; tools/testing/debug-kernel/iommufd.sh.  Builds the debug kernel
# first if it is not cached.
check-iommufd: deps
	$(MAKE) all
	@mkdir -p $(BUILD)/iommufd
	@{ echo "TAP version 13"; echo "1..1"; \
	kdir=$$($(TOP)/tools/testing/debug-kernel/build.sh | tail -n 1) && \
	$(TOP)/tools/testing/debug-kernel/iommufd.sh "$$kdir" > $(BUILD)/iommufd/vm.out; status=$$?; \
	$(KTAP) --wrap $(BUILD)/iommufd/vm.out > $(BUILD)/iommufd/vm.ktap; \
	sed 's/^/# /' $(BUILD)/iommufd/vm.ktap; \
	$(KTAP) --name iommufd_suite $(BUILD)/iommufd/vm.ktap > $(BUILD)/iommufd/vm.judge; judged=$$?; \
	sed 's/^/# /' $(BUILD)/iommufd/vm.judge; \
	if [ $$status -eq 0 ] && [ $$judged -eq 0 ]; then echo "ok 1 iommufd_suite"; \
	else echo "not ok 1 iommufd_suite # exit=$$status"; fi; } | tee $(BUILD)/iommufd/ktap; \
	$(KTAP) --tally $(BUILD)/iommufd/ktap

# Each mutation of tools/testing/mutants/mutants.list built and run against
# the tests that cover it (MUTANTS="NAME..." for some); not part of check.
mutants: deps
	$(MAKE) all
	$(TOP)/tools/testing/mutants/run.sh $(MUTANTS)

fuzz: deps
	$(MAKE) all
	$(TOP)/tools/testing/vm/run --timeout 3600 -- env MLX5C_FUZZ_CASES=10000 \
		$(TOP)/tools/testing/selftests/mlx5c/run_tests.sh fuzz

vm-shell: all
	$(TOP)/tools/testing/vm/run --shell

clean:
	$(MAKE) -C $(KDIR) M=$(TOP) clean || true
	rm -rf $(BUILD)
