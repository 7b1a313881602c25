# vkey: the two commands a user needs are `make run` and `make check`.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
BENCH_BUILD ?= build-release
FUZZ_SECONDS ?= 600
CHECK_FUZZ_SECONDS ?= 15
MESON_TEST = meson test --print-errorlogs --num-processes 2

.PHONY: all deps build run check check-unit check-asan check-fuzz fuzz bench install clean
.PHONY: demo guest-image qemu-canokey

all: build

deps:
	@scripts/deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

# Start a key on the host's PC/SC stack (pcscd + vpcd) and say how to use it.
run: build
	@scripts/run.sh $(BUILD)/vkey

# Boot a QEMU guest with a key plugged in by usb-redir and show what the
# guest's fido2-token sees (docs/GUEST.md).
demo: build guest-image
	@scripts/guest/demo.sh $(BUILD)/vkey

# The guests' Debian kernel (downloaded once) and initramfs, cached in
# $XDG_CACHE_HOME/vkey-guest (default ~/.cache/vkey-guest).
guest-image: deps
	@scripts/guest/image.sh

# QEMU 7.2 from Debian's source package with -device canokey linked
# against $(BUILD)'s libcanokey-qemu, built once and cached in
# $XDG_CACHE_HOME/vkey-qemu (docs/CANOKEY.md); prints its path.
qemu-canokey: build
	@scripts/qemu-canokey.sh $(BUILD)

check: build check-unit check-asan check-fuzz

check-unit: build
	$(MESON_TEST) -C $(BUILD)

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug

# The same tests under ASan+UBSan, less the guest runs that repeat another
# on a second USB controller (same vkey code; the normal pass has them).
check-asan: deps $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	$(MESON_TEST) -C $(ASAN_BUILD) --no-suite controller-variant

$(FUZZ_BUILD)/build.ninja:
	CC=clang meson setup $(FUZZ_BUILD) -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false

# Every fuzz target for a short while (part of make check).
check-fuzz: deps $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD)
	scripts/fuzz.sh $(FUZZ_BUILD) $(CHECK_FUZZ_SECONDS)

# The long campaign: FUZZ_SECONDS per target.
fuzz: deps $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD)
	scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

$(BENCH_BUILD)/build.ninja:
	meson setup $(BENCH_BUILD) -Dbuildtype=release

bench: deps $(BENCH_BUILD)/build.ninja
	ninja -C $(BENCH_BUILD)
	bench/run.sh $(BENCH_BUILD)

install: build
	meson install -C $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(BENCH_BUILD)
