#!/usr/bin/env bash
# tools/test-c.sh: build and run the C test drivers (csrc/test/*.c) of the
# core under every configuration we promise to support:
#   gcc and clang, -O2, -Wall -Wextra -Werror (what ships);
#   gcc and clang with AddressSanitizer + UndefinedBehaviorSanitizer;
#   the scalar backend forced through RUVECTOR_SIMD (the init path);
#   aarch64 (NEON) cross-compiled and run under qemu-aarch64;
#   on x86-64, the AVX-512 table on emulated intrinsics (-DRV_EMULATE_AVX512,
#   csrc/test/avx512_emu.h over SIMDe), plain and with the sanitizers, so that
#   it is tested on CPUs without AVX-512 too.
# Usage: tools/test-c.sh [--quick]   (--quick: gcc only, no sanitizers/qemu)
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0; [ "${1:-}" = "--quick" ] && quick=1
out=build/ctest; mkdir -p "$out"
warn=(-std=c11 -Wall -Wextra -Werror -ffp-contract=off -Icsrc)
core=(csrc/*.c)
drivers=(csrc/test/*.c)
fails=0

jobs=$(nproc 2>/dev/null || echo 2)

# run NAME CMD...: runs one test driver, writes its status line to $out/NAME.status
run() {
  local name=$1; shift
  local log="$out/$name.log"
  if "$@" >"$log" 2>&1; then
    echo "ok   $name: $(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)" >"$out/$name.status"
  else
    { echo "FAIL $name (log: $log)"; tail -n 20 "$log"; } >"$out/$name.status"
  fi
}

# build_and_run TAG CC [RUNNER...] -- CFLAGS...: the core compiled once for the configuration
# (files in parallel), each driver linked against it, the drivers run $jobs at a time; status
# lines printed in driver order.
build_and_run() {
  local tag=$1 cc=$2; shift 2
  local runner=(); while [ "$1" != "--" ]; do runner+=("$1"); shift; done; shift
  local dir="$out/$tag" names=() name
  rm -rf "$dir"; mkdir -p "$dir"
  if ! printf '%s\n' "${core[@]}" | CC=$cc DIR=$dir xargs -P "$jobs" -I{} \
      bash -c '$CC "$@" -c {} -o "$DIR/$(basename {} .c).o"' _ "${warn[@]}" "$@" >"$dir/build.log" 2>&1; then
    echo "FAIL $tag: build of the core"; cat "$dir/build.log"; fails=$((fails + 1)); return
  fi
  for drv in "${drivers[@]}"; do
    name="$(basename "$drv" .c)-$tag"
    if ! $cc "${warn[@]}" "$@" "$drv" "$dir"/*.o -lm -lpthread -o "$out/$name" >"$out/$name.build.log" 2>&1; then
      echo "FAIL $name: build"; cat "$out/$name.build.log"; fails=$((fails + 1)); continue
    fi
    names+=("$name")
    run "$name" ${runner[@]+"${runner[@]}"} "$out/$name" &
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  done
  wait
  for name in ${names[@]+"${names[@]}"}; do report "$name"; done
}

report() {  # report NAME: print the status line of a run and count a failure
  cat "$out/$1.status"
  if grep -q '^FAIL' "$out/$1.status"; then fails=$((fails + 1)); fi
}

build_and_run gcc gcc -- -O2
if [ $quick = 0 ]; then
  build_and_run clang clang-14 -- -O2
  san=(-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  build_and_run gcc-asan gcc -- "${san[@]}"
  build_and_run clang-asan clang-14 -- "${san[@]}"
  run test_core-env-scalar env RUVECTOR_SIMD=scalar "$out/test_core-gcc"
  report test_core-env-scalar
  if [ "$(uname -m)" = x86_64 ]; then
    if [ -f /usr/include/simde/x86/avx512.h ]; then
      # the emulated build drops target attributes and always_inline, so gcc's flow analysis
      # of the register-array kernels sees bounds and initialisation it cannot prove
      emu=(-DRV_EMULATE_AVX512 -Wno-psabi -Wno-array-bounds -Wno-maybe-uninitialized)
      build_and_run gcc-avx512emu gcc -- -O2 "${emu[@]}"
      build_and_run gcc-asan-avx512emu gcc -- "${san[@]}" "${emu[@]}"
    else
      echo "FAIL avx512emu: /usr/include/simde missing (tools/setup.sh installs libsimde-dev)"
      fails=$((fails + 1))
    fi
  fi
  if command -v aarch64-linux-gnu-gcc >/dev/null && command -v qemu-aarch64 >/dev/null; then
    build_and_run aarch64 aarch64-linux-gnu-gcc qemu-aarch64 -L /usr/aarch64-linux-gnu -- -O2
  else
    echo "FAIL aarch64: aarch64-linux-gnu-gcc or qemu-aarch64 missing (tools/setup.sh installs them)"
    fails=$((fails + 1))
  fi
fi
[ $fails = 0 ] || { echo "C tests: $fails configuration(s) failed"; exit 1; }
echo "C tests: all configurations passed"
