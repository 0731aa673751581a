#!/bin/sh
# test-kernels.sh: build and run csrc/test/test_kernels.c under every
# compiler configuration we support: gcc, clang, both with ASan+UBSan, and
# aarch64 (NEON) under qemu when the cross compiler is installed.
#
#   tools/test-kernels.sh            # build dir: $RV_BUILD_DIR or /tmp/ruvector-test-kernels
#   CC_CLANG=clang-15 tools/test-kernels.sh
#
# Exits nonzero if any build or any run fails.
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
build=${RV_BUILD_DIR:-${TMPDIR:-/tmp}/ruvector-test-kernels}
cc_gcc=${CC_GCC:-gcc}
cc_clang=${CC_CLANG:-$(command -v clang-14 || command -v clang || echo clang)}
cc_arm=${CC_AARCH64:-aarch64-linux-gnu-gcc}
qemu=${QEMU_AARCH64:-qemu-aarch64}
arm_sysroot=${AARCH64_SYSROOT:-/usr/aarch64-linux-gnu}

cflags="-std=c11 -O2 -Wall -Wextra -Werror -ffp-contract=off"
san="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
srcs="$root/csrc/test/test_kernels.c $root/csrc/kernels_scalar.c $root/csrc/kernels_avx2.c $root/csrc/kernels_avx512.c $root/csrc/kernels_neon.c"

mkdir -p "$build" || exit 1
status=0

# run_config NAME COMPILER EXTRA_FLAGS [RUNNER...]
run_config()
{
	name=$1 cc=$2 extra=$3
	shift 3
	exe="$build/test_kernels-$name"
	echo "== $name ($cc $extra)"
	# shellcheck disable=SC2086
	if ! $cc $cflags $extra -I"$root/csrc" $srcs -o "$exe" -lm; then
		echo "== $name: BUILD FAILED"
		status=1
		return
	fi
	if "$@" "$exe" > "$build/$name.log" 2>&1; then
		echo "== $name: $(tail -n 1 "$build/$name.log")"
	else
		grep -E '^FAIL|ERROR|runtime error' "$build/$name.log" | head -n 20
		echo "== $name: FAILED ($(tail -n 1 "$build/$name.log")), log in $build/$name.log"
		status=1
	fi
}

if ! command -v "$cc_gcc" > /dev/null 2>&1; then
	echo "== $cc_gcc not found"
	status=1
else
	run_config gcc "$cc_gcc" ""
	run_config gcc-asan-ubsan "$cc_gcc" "$san"
fi
if ! command -v "$cc_clang" > /dev/null 2>&1; then
	echo "== clang not found"
	status=1
else
	run_config clang "$cc_clang" ""
	run_config clang-asan-ubsan "$cc_clang" "$san"
fi
if command -v "$cc_arm" > /dev/null 2>&1 && command -v "$qemu" > /dev/null 2>&1; then
	run_config aarch64-qemu "$cc_arm" "" "$qemu" -L "$arm_sysroot"
else
	echo "== aarch64: skipped ($cc_arm or $qemu not installed)"
fi

[ $status -eq 0 ] && echo "all kernel tests passed" || echo "kernel tests FAILED"
exit $status
