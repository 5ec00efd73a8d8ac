#!/usr/bin/env bash
# Builds and runs the emulated device's own tests (no GPU, no Java):
#   1. simt_test: the SIMT emulation itself (shuffled order catches a missing __syncthreads/__syncwarp,
#      shared memory per block, warp collectives, atomics, cp.async, fault detection), once with the
#      x86-64 context switch and once with the portable ucontext fallback;
#   2. the self-test kernel library (cuda/selftest/*.cu -> scripts/emu-kernels.sh) through its C ABI
#      with harness.cpp, against plain C++ computations on random inputs;
#   3. reproducibility: the same ATTNRT_EMU_SEED gives the same interleaving, another seed another one;
#   4. when nvcc is found: the self-test kernels compile to PTX and ptxas accepts them for sm_80/sm_90.
# Usage: cuda/emu/test/run.sh [BUILD_DIR]   (default: a temporary directory)
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
build=${1:-}
if [ -z "$build" ]; then
  build=$(mktemp -d "${TMPDIR:-/tmp}/attnrt-emu-test.XXXXXX")
  trap 'rm -rf "$build"' EXIT
fi
mkdir -p "$build"
start=$(date +%s)

cuda_include=""
for candidate in "${CUDA_HOME:+$CUDA_HOME/include}" \
                 "$(command -v nvcc >/dev/null 2>&1 && dirname "$(dirname "$(command -v nvcc)")")/include" \
                 /usr/local/cuda/include; do
  if [ -n "$candidate" ] && [ -f "$candidate/cuda_fp16.h" ]; then cuda_include=$candidate; break; fi
done
[ -n "$cuda_include" ] || { echo "run.sh: CUDA headers not found" >&2; exit 3; }

echo "== building"
bash "$root/scripts/emu-kernels.sh" "$build/libattnrt_selftest_emu.so" "$root"/cuda/selftest/*.cu &
lib_pid=$!
bash "$root/scripts/emu-kernels.sh" --program "$build/simt_test" "$root/cuda/emu/test/simt_test.cu" &
simt_pid=$!
g++ -std=c++17 -O1 -Wall -I"$root/cuda/emu" -I"$cuda_include" "$root/cuda/emu/test/harness.cpp" -ldl \
  -o "$build/harness"
wait $lib_pid
wait $simt_pid
ATTNRT_EMU_CXXFLAGS="-DATTNRT_EMU_USE_UCONTEXT" \
  bash "$root/scripts/emu-kernels.sh" --program "$build/simt_test_ucontext" "$root/cuda/emu/test/simt_test.cu"

echo "== SIMT emulation (x86-64 context switch)"
"$build/simt_test"
echo "== SIMT emulation (ucontext fallback)"
"$build/simt_test_ucontext"
echo "== self-test kernels through the C ABI (2 worker threads)"
ATTNRT_EMU_THREADS=2 "$build/harness" "$build/libattnrt_selftest_emu.so"

echo "== reproducibility of the fiber order"
a=$(ATTNRT_EMU_SEED=42 "$build/harness" "$build/libattnrt_selftest_emu.so" --digest 2>/dev/null)
b=$(ATTNRT_EMU_SEED=42 ATTNRT_EMU_THREADS=1 "$build/harness" "$build/libattnrt_selftest_emu.so" --digest 2>/dev/null)
c=$(ATTNRT_EMU_SEED=43 "$build/harness" "$build/libattnrt_selftest_emu.so" --digest 2>/dev/null)
echo "seed 42: $a; seed 42 on one worker: $b; seed 43: $c"
[ "$a" = "$b" ] || { echo "FAIL: the same seed gave different interleavings"; exit 1; }
[ "$a" != "$c" ] || { echo "FAIL: different seeds gave the same interleaving"; exit 1; }

nvcc=""
for candidate in "${CUDA_HOME:+$CUDA_HOME/bin/nvcc}" "$(command -v nvcc || true)" /usr/local/cuda/bin/nvcc; do
  if [ -n "$candidate" ] && [ -x "$candidate" ]; then nvcc=$candidate; break; fi
done
if [ -n "$nvcc" ]; then
  echo "== PTX of the self-test kernels (nvcc + ptxas sm_80/sm_90)"
  bash "$root/scripts/build-ptx.sh" "$root/cuda/selftest" "$build/ptx" sm_80 "$build/ptxas" "$root/cuda/include"
else
  echo "== PTX check skipped: nvcc not found"
fi
echo "run.sh: all emulator tests passed in $(( $(date +%s) - start )) s"
