# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# mpconv build. `make help` lists targets and knobs.
#
#   bpf/*.bpf.c   -> $(BUILD)/bpf/*.bpf.o -> $(BUILD)/skel/*.skel.h
#   user/*.c      -> $(BUILD)/mpconv
#   tests/unit/*.c + tests/unit/lib/*.c + tests/progs/*.bpf.c -> $(BUILD)/tests/unit_runner
#
# Generated files live in $(BUILD) (git-ignored) and are never committed.

BUILD     ?= build
CC        ?= cc
CLANG     ?= clang
BPFTOOL   ?= bpftool
V         ?= 0

ARCH      := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux

ifeq ($(V),1)
Q :=
msg =
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.DELETE_ON_ERROR:
.SECONDARY:

BPF_SRCS   := $(wildcard bpf/*.bpf.c)
BPF_OBJS   := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
BPF_SKELS  := $(patsubst bpf/%.bpf.c,$(BUILD)/skel/%.skel.h,$(BPF_SRCS))
BPF_HDRS   := $(wildcard bpf/*.bpf.h) $(wildcard include/mpconv/*.h)

TPROG_SRCS  := $(wildcard tests/progs/*.bpf.c)
TPROG_SKELS := $(patsubst tests/progs/%.bpf.c,$(BUILD)/skel/%.skel.h,$(TPROG_SRCS))

USER_SRCS  := $(wildcard user/*.c)
USER_OBJS  := $(patsubst user/%.c,$(BUILD)/user/%.o,$(USER_SRCS))
LIB_OBJS   := $(filter-out $(BUILD)/user/main.o,$(USER_OBJS))

UNIT_SRCS  := $(wildcard tests/unit/*.c)
UNIT_OBJS  := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%.o,$(UNIT_SRCS))
# tests/unit/lib/: helpers shared by unit tests (packet builder, test
# environment); linked into the runner, never listed as tests.
ULIB_SRCS  := $(wildcard tests/unit/lib/*.c)
ULIB_OBJS  := $(patsubst tests/unit/lib/%.c,$(BUILD)/tests/unit/lib/%.o,$(ULIB_SRCS))
ULIB_HDRS  := $(wildcard tests/unit/lib/*.h)
TOOL_SRCS  := $(wildcard tests/tools/*.c)
TOOL_BINS  := $(patsubst tests/tools/%.c,$(BUILD)/tests/%,$(TOOL_SRCS))

BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
	      -Wno-unused-function -Iinclude -Ibpf -Ivmlinux \
	      $(if $(MULTIARCH),-I/usr/include/$(MULTIARCH))
CFLAGS     ?= -O2 -g
CFLAGS     += -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
	      -std=gnu11 -D_GNU_SOURCE -Iinclude -Iuser -I$(BUILD)/skel
LDLIBS     += -lbpf -lelf -lz -lmnl

MPCONV := $(BUILD)/mpconv
UNIT   := $(BUILD)/tests/unit_runner

all: $(MPCONV) tests-build

$(BUILD)/bpf $(BUILD)/skel $(BUILD)/user $(BUILD)/tests/unit $(BUILD)/tests/unit/lib $(BUILD)/tests:
	$(Q)mkdir -p $@

# clang, then `bpftool gen object` (static linking pass that also checks
# the object the way the skeleton loader will see it).
$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) | $(BUILD)/bpf
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@.tmp.o
	$(Q)$(BPFTOOL) gen object $@ $@.tmp.o
	$(Q)rm -f $@.tmp.o

$(BUILD)/bpf/%.bpf.o: tests/progs/%.bpf.c $(BPF_HDRS) | $(BUILD)/bpf
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@.tmp.o
	$(Q)$(BPFTOOL) gen object $@ $@.tmp.o
	$(Q)rm -f $@.tmp.o

$(BUILD)/skel/%.skel.h: $(BUILD)/bpf/%.bpf.o | $(BUILD)/skel
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst .bpf.o,,$(notdir $<))_bpf > $@

$(BUILD)/user/%.o: user/%.c $(wildcard user/*.h) $(wildcard include/mpconv/*.h) $(BPF_SKELS) | $(BUILD)/user
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(MPCONV): $(USER_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Unit tests: one binary; the test list is generated from file names
# (test_progs style): tests/unit/foo.c defines test_foo().
$(BUILD)/tests/unit/tests.inc: $(UNIT_SRCS) | $(BUILD)/tests/unit
	$(call msg,GEN,$@)
	$(Q)for f in $(sort $(basename $(notdir $(filter-out tests/unit/runner.c,$(UNIT_SRCS))))); do \
		echo "DEFINE_TEST($$f)"; done > $@.tmp && \
		(cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@)

$(BUILD)/tests/unit/%.o: tests/unit/%.c tests/unit/test.h $(BUILD)/tests/unit/tests.inc \
		$(wildcard include/mpconv/*.h) $(wildcard user/*.h) $(ULIB_HDRS) $(BPF_SKELS) \
		$(TPROG_SKELS) | $(BUILD)/tests/unit
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -I$(BUILD)/tests/unit -Itests/unit -c $< -o $@

$(BUILD)/tests/unit/lib/%.o: tests/unit/lib/%.c tests/unit/test.h $(ULIB_HDRS) \
		$(wildcard include/mpconv/*.h) $(wildcard user/*.h) | $(BUILD)/tests/unit/lib
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/unit -c $< -o $@

$(UNIT): $(UNIT_OBJS) $(ULIB_OBJS) $(LIB_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/tools/%.c $(LIB_OBJS) $(wildcard include/mpconv/*.h) | $(BUILD)/tests
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(LIB_OBJS) $(LDLIBS)

# mpc_peer hashes what it sends and receives (--sha) with libcrypto's EVP.
$(BUILD)/tests/mpc_peer: LDLIBS += -lcrypto

tests-build: $(UNIT) $(TOOL_BINS)

bpf-objects: $(BPF_OBJS)

# vmlinux.h is committed; regenerate it from the running kernel's BTF.
vmlinux:
	$(call msg,GEN,vmlinux/vmlinux.h)
	$(Q)$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > vmlinux/vmlinux.h.tmp
	$(Q)mv vmlinux/vmlinux.h.tmp vmlinux/vmlinux.h

deps:
	$(Q)scripts/deps.sh build

check: 
	$(Q)scripts/deps.sh check
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) tests/run $(TESTS)

demo:
	$(Q)scripts/deps.sh demo
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) tests/demo.sh

bench:
	$(Q)scripts/deps.sh bench
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) bench/run $(BENCH)

vm-check:
	$(Q)scripts/deps.sh vm
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) selftests-vm/run $(TESTS)

format:
	$(Q)clang-format -i $(wildcard bpf/*.c bpf/*.h user/*.c user/*.h include/mpconv/*.h tests/unit/*.c tests/unit/*.h tests/unit/lib/*.c tests/unit/lib/*.h tests/tools/*.c tests/progs/*.c)

install: $(MPCONV)
	install -D -m 0755 $(MPCONV) $(DESTDIR)/usr/local/sbin/mpconv

clean:
	rm -rf $(BUILD)

help:
	@echo 'Targets:'
	@echo '  all (default)  build BPF objects, skeletons, $(MPCONV) and the test binaries'
	@echo '  check          install missing packages, build, run every test (tests/run)'
	@echo '  demo           install missing packages, build, run the namespace lab demo'
	@echo '  bench          install missing packages, build, run bench/run (JSON in bench/results/)'
	@echo '  vm-check       run the test suite in a VM on a second kernel (selftests-vm/run)'
	@echo '  vmlinux        regenerate vmlinux/vmlinux.h from $$(VMLINUX_BTF)'
	@echo '  deps           install build dependencies (Debian packages)'
	@echo '  format clean install'
	@echo 'Knobs: BUILD=dir  V=1  TESTS="name..."  CLANG=  BPFTOOL=  VMLINUX_BTF='

.PHONY: all tests-build bpf-objects vmlinux deps check demo bench vm-check format install clean help
