# Cross builds for ARM gateways, with Debian's cross compilers and a per-architecture sysroot under build/.
#
#   make cross ARCH=aarch64|armhf [STATIC=1]       ferry-agent and the agent's unit tests, in build/<arch>[-static]
#   make test-cross ARCH=aarch64|armhf [STATIC=1]  the same, then runs them under qemu-user (ports/cross/test.sh)
#
# The sysroot (build/sysroot-<arch>) holds the target's -dev packages and runtime libraries, downloaded and
# unpacked by ports/cross/sysroot.sh; nothing is installed for the target architecture, so the host's own
# -dev packages stay and native and cross builds live side by side.  The C library comes from the cross
# compiler (libc6-dev-<arch>-cross); the sysroot's libc6 is only what qemu loads.
#
# STATIC=1 links ferry-agent fully static (-static) from the .a archives of the -dev packages.  Debian ships
# no libcmocka.a, so the static build's unit tests link every library statically except cmocka and libc.

ARCH   ?= aarch64
STATIC ?=
# Debian's and the kernel's name for 64-bit ARM, accepted too (ARCH=arm64 is often already in the environment).
ifeq ($(ARCH),arm64)
override ARCH := aarch64
endif

CROSS_DEBARCH_aarch64 := arm64
CROSS_TRIPLET_aarch64 := aarch64-linux-gnu
CROSS_QEMU_aarch64    := qemu-aarch64
CROSS_DEBARCH_armhf   := armhf
CROSS_TRIPLET_armhf   := arm-linux-gnueabihf
CROSS_QEMU_armhf      := qemu-arm

CROSS_DEBARCH = $(CROSS_DEBARCH_$(ARCH))
CROSS_TRIPLET = $(CROSS_TRIPLET_$(ARCH))
CROSS_QEMU    = $(CROSS_QEMU_$(ARCH))
CROSS_SYSROOT = $(abspath $(BUILD)/sysroot-$(ARCH))
CROSS_BUILD   = $(BUILD)/$(ARCH)$(if $(filter 1,$(STATIC)),-static)
# The agent's unit tests: everything the agent links (common, ports, agent); the cloud's stay native.
CROSS_UNIT_SRC  = $(filter-out tests/unit/cloud/%,$(UNIT_SRC))
CROSS_UNIT_BINS = $(patsubst %.c,$(CROSS_BUILD)/%,$(CROSS_UNIT_SRC))
CROSS_PKGS      = crossbuild-essential-$(CROSS_DEBARCH) qemu-user

# The recursive make that builds for the target; CROSS_GOALS=... on the command line builds something else.
CROSS_GOALS ?= $(CROSS_BUILD)/ferry-agent $(CROSS_UNIT_BINS)
# 32-bit ARM: 64-bit off_t everywhere.  Debian's armhf libevent is built with it (its event-config.h even
# defines _FILE_OFFSET_BITS 64 mid-include, so ev_off_t is 8 bytes), and without it readdir()/stat() fail with
# EOVERFLOW on file systems with 64-bit inode numbers, and files stop at 2 GB.  time_t stays 32-bit: Debian
# 12's armhf libraries have 32-bit time_t in their ABI (_TIME_BITS=64 would break libevent's struct timeval).
CROSS_CPPFLAGS_armhf := -D_FILE_OFFSET_BITS=64
# The cross builds are what ships to gateways, so they are built for size (issue 8, docs/footprint.md): -Os,
# and every function and object in its own section so the linker drops what nothing references (--gc-sections;
# our archives are built with it, Debian's are not, so it trims only our code).  --as-needed keeps a library
# the agent does not call out of NEEDED (Debian's gcc passes it already; said here so another toolchain does
# too), -O1 lets the linker optimise the hash tables.  No unwind tables (.eh_frame, about 40 KB on aarch64): the
# agent is C, never cancels a thread nor throws through a frame; gdb on a core still has the unstripped
# binary's .debug_frame.  The unit tests are built the same way, so test-cross
# tests the code that ships.  CROSS_OPT=-O2 CROSS_SIZE_CFLAGS= CROSS_SIZE_LDFLAGS= undoes it.
CROSS_OPT          ?= -Os
CROSS_SIZE_CFLAGS  ?= -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables -fno-unwind-tables
CROSS_SIZE_LDFLAGS ?= -Wl,--gc-sections -Wl,--as-needed -Wl,-O1
CROSS_MAKE = $(MAKE) --no-print-directory BUILD=$(CROSS_BUILD) CC=$(CROSS_TRIPLET)-gcc AR=$(CROSS_TRIPLET)-ar \
	OPT="$(CROSS_OPT)" EXTRA_CFLAGS="$(CROSS_SIZE_CFLAGS)" \
	CPPFLAGS="--sysroot=$(CROSS_SYSROOT) $(CROSS_CPPFLAGS_$(ARCH))" \
	LDFLAGS="--sysroot=$(CROSS_SYSROOT) $(CROSS_SIZE_LDFLAGS)" FERRY_STATIC=$(STATIC)

.PHONY: cross test-cross cross-check-arch cross-deps cross-sysroot
cross-check-arch:
	@case "$(ARCH)" in aarch64|armhf) ;; *) echo "cross: ARCH must be aarch64 or armhf (got '$(ARCH)')" >&2; exit 2 ;; esac
cross-deps: cross-check-arch
	@bash ports/deps.sh $(CROSS_PKGS)
cross-sysroot: cross-deps
	@bash ports/cross/sysroot.sh $(ARCH) $(CROSS_SYSROOT)
cross: cross-sysroot
	+@$(CROSS_MAKE) $(CROSS_GOALS)
test-cross: cross
	@bash ports/cross/test.sh $(ARCH) $(CROSS_SYSROOT) $(abspath $(CROSS_BUILD)) $(CROSS_UNIT_BINS)

# Inside the recursive make of a STATIC=1 build.  The third-party archives have link-order cycles once static
# (libevent_pthreads needs libevent_core), hence the group.  The agent itself is fully static.
ifeq ($(FERRY_STATIC),1)
LDLIBS := -Wl,--start-group $(LDLIBS) -Wl,--end-group
$(AGENT_BIN) $(CLOUD_BIN): override LDFLAGS += -static
$(BUILD)/tests/unit/%: LDLIBS := -Wl,-Bstatic $(LDLIBS) -Wl,-Bdynamic
endif

# make size: footprint figures (ports/footprint/size.sh) for the native build and all four cross builds.
# make size-record also writes them into docs/footprint.md.
.PHONY: cross-agent size-builds size size-record
cross-agent: cross-sysroot
	+@$(CROSS_MAKE) $(CROSS_BUILD)/ferry-agent
# native-static: the agent for this machine built like a static release (the size flags above, -static), so
# size.sh can show the idle RSS of a static agent natively, where qemu does not inflate it.
NATIVE_STATIC_BUILD = $(BUILD)/native-static
.PHONY: native-static
native-static:
	+@$(MAKE) --no-print-directory BUILD=$(NATIVE_STATIC_BUILD) OPT="$(CROSS_OPT)" EXTRA_CFLAGS="$(CROSS_SIZE_CFLAGS)" \
		LDFLAGS="$(CROSS_SIZE_LDFLAGS)" FERRY_STATIC=1 $(NATIVE_STATIC_BUILD)/ferry-agent
size-builds:
	@bash ports/deps.sh
	+@$(MAKE) --no-print-directory all native-static
	+@for a in aarch64 armhf; do for s in "" 1; do \
		$(MAKE) --no-print-directory cross-agent ARCH=$$a STATIC=$$s || exit 1; done; done
size: size-builds
	@bash ports/footprint/size.sh $(abspath $(BUILD))
size-record: size-builds
	@bash ports/footprint/size.sh $(abspath $(BUILD)) --record docs/footprint.md
