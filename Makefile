# SPDX-License-Identifier: GPL-2.0
#
# mlx5c: a vfio-pci variant driver with live migration, its tools and tests.
#
#   make            build the module (W=1), vfio-mig and the selftests
#   make check      install what is missing, lint, run every test (host + VM)
#   make demo       install what is missing and run the demo in the VM
#   make bench      benchmarks in the VM (not tests)
#   make fuzz       10000 fuzzed streams through the resuming parser in the VM
#   make vm-shell   an interactive shell in the test VM
#   make C=1        also run sparse over the module
#   make install    see Documentation/mlx5c-vfio-pci.rst
#
# KVER, KDIR and VM_KERNEL select another kernel to build for and boot.

TOP := $(CURDIR)
BUILD := $(TOP)/build
KVER ?= $(shell ls /lib/modules 2>/dev/null | grep -E '^6\.12\.[0-9]+\+deb12-amd64$$' | sort -V | tail -n 1)
KDIR ?= /lib/modules/$(KVER)/build
KSRC ?= /usr/src/linux-source-6.12
VM_KERNEL ?= /boot/vmlinuz-$(KVER)
MODULE := $(BUILD)/module/mlx5c-vfio-pci.ko
MODSRC := drivers/vfio/pci/mlx5c

export KVER KDIR KSRC VM_KERNEL

.PHONY: all deps module tools selftests check demo bench fuzz vm-shell lint \
	checkpatch sparse clean

all: module tools selftests

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
	$(TOP)/tools/testing/vm/run --timeout 1800 -- $(TOP)/tools/testing/bench/run.sh

fuzz: deps
	$(MAKE) all
	$(TOP)/tools/testing/vm/run --timeout 3600 -- env MLX5C_FUZZ_CASES=10000 \
		$(TOP)/tools/testing/selftests/mlx5c/run_tests.sh fuzz

vm-shell: all
	$(TOP)/tools/testing/vm/run --shell

clean:
	$(MAKE) -C $(KDIR) M=$(TOP) clean || true
	rm -rf $(BUILD)
