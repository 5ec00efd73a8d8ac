#!/usr/bin/env bash
# Builds the emulated CUDA device (a test target, never loaded by the attnrt runtime) into OUT_DIR:
#   libcuda.so.1               fake driver (cuda/emu/driver) + generated NOT_SUPPORTED stubs
#   libcublas.so.12            fake cuBLAS (cuda/emu/cublas), version node libcublas.so.12, + stubs
#   libattnrt_kernels.so       kernel library for cuda/*.cu
#   libattnrt_selftest.so      kernel library for cuda/selftest/*.cu (an empty table when there is none)
#   test/libattnrt_emu_bindnow_canary.so   imports a symbol nobody defines: proves LD_BIND_NOW is in force
#
#   build-emulator.sh OUT_DIR NATIVES_DIR
#
# NATIVES_DIR holds the JCuda natives (the build unpacks jcuda-natives and jcublas-natives there); the stubs
# cover every cu*/cublas* symbol they import. Kernel libraries come from scripts/emu-kernels.sh (the SIMT
# emulation of cuda/emu/attnrt_emu.h), one per kernel folder.
# Tests select the emulator with LD_LIBRARY_PATH=OUT_DIR and ATTNRT_EMU_KERNEL_LIBS (see pom.xml).
#
# cuda.h is taken from $CUDA_HOME/include, next to nvcc, or /usr/local/cuda/include. Without it the
# emulator cannot be built: OUT_DIR/UNAVAILABLE then says why and the emulated-device tests fail with that
# message (the build goes on so the other tests still run and report).
# Rebuilds only when an input changed (hash of sources, scripts, natives and compiler in OUT_DIR/.inputs).
set -euo pipefail
out=${1:?output dir}; natives=${2:?JCuda natives dir}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out/test" "$out/gen"
out=$(cd "$out" && pwd)
rm -f "$out/UNAVAILABLE"

unavailable() {
  echo "$1" > "$out/UNAVAILABLE"
  echo "[attnrt] EMULATOR NOT BUILT: $1" >&2
  echo "[attnrt] every emulated-device test will fail with this message" >&2
  exit 0
}

cuda_include=""
nvcc=$(command -v nvcc || true)
for candidate in "${CUDA_HOME:+$CUDA_HOME/include}" \
                 "${nvcc:+$(dirname "$(readlink -f "$nvcc")")/../include}" /usr/local/cuda/include; do
  if [ -n "$candidate" ] && [ -f "$candidate/cuda.h" ]; then cuda_include=$candidate; break; fi
done
[ -n "$cuda_include" ] || unavailable "cuda.h not found (CUDA_HOME, next to nvcc, /usr/local/cuda/include): install the CUDA toolkit to build the emulated CUDA device"

find_native() {
  local found
  found=$(find "$natives" -name "$1" -type f 2>/dev/null | head -n 1)
  [ -n "$found" ] || { echo "[attnrt] no $1 under $natives (the build unpacks the JCuda natives there)" >&2; exit 1; }
  echo "$found"
}
driver_native=$(find_native 'libJCudaDriver-*-linux-x86_64.so')
cublas2_native=$(find_native 'libJCublas2-*-linux-x86_64.so')
cublas_native=$(find_native 'libJCublas-*-linux-x86_64.so')

kernels_script="$root/scripts/emu-kernels.sh"
shopt -s nullglob
main_sources=("$root"/cuda/*.cu)
selftest_sources=("$root"/cuda/selftest/*.cu)
shopt -u nullglob

inputs_hash=$( {
  cat "$0" "$root/scripts/emu-stubs.sh" "$driver_native" "$cublas2_native" "$cublas_native" "$cuda_include/cuda.h"
  cat "$kernels_script"
  find "$root/cuda" -type f | LC_ALL=C sort | while read -r f; do echo "$f"; cat "$f"; done
  g++ --version; gcc --version
  echo "ATTNRT_EMU_SANITIZE=${ATTNRT_EMU_SANITIZE:-}"
} | sha256sum | cut -d' ' -f1 )
outputs=(libcuda.so.1 libcublas.so.12 libattnrt_kernels.so libattnrt_selftest.so test/libattnrt_emu_bindnow_canary.so)
up_to_date=true
for f in "${outputs[@]}"; do [ -f "$out/$f" ] || up_to_date=false; done
if $up_to_date && [ "$(cat "$out/.inputs" 2>/dev/null)" = "$inputs_hash" ]; then
  echo "[attnrt] emulated CUDA device in $out is up to date"
  exit 0
fi
rm -f "$out/.inputs"

cxx=(g++ -std=c++17 -O2 -g -fPIC -fvisibility=hidden -Wall -Wextra)
cc=(gcc -std=c11 -O2 -fPIC -Wall)
emu="$root/cuda/emu"

# Driver: implementation first, then stubs for whatever JCudaDriver imports beyond it.
"${cxx[@]}" -I"$cuda_include" -c "$emu/driver/emu_driver.cpp" -o "$out/gen/emu_driver.o"
bash "$root/scripts/emu-stubs.sh" "$out/gen/cuda_stubs.c" '^cu[A-Z]' 801 CUDA_ERROR_NOT_SUPPORTED \
  "$out/gen/emu_driver.o" "$driver_native"
"${cc[@]}" -c "$out/gen/cuda_stubs.c" -o "$out/gen/cuda_stubs.o"
g++ -shared -Wl,-soname,libcuda.so.1 -Wl,--version-script="$emu/driver/libcuda.map" -Wl,--no-undefined \
  -o "$out/libcuda.so.1" "$out/gen/emu_driver.o" "$out/gen/cuda_stubs.o" -ldl -lpthread

# cuBLAS: links against the fake driver for its allocation checks; $ORIGIN finds it next to this library.
"${cxx[@]}" -c "$emu/cublas/emu_cublas.cpp" -o "$out/gen/emu_cublas.o"
bash "$root/scripts/emu-stubs.sh" "$out/gen/cublas_stubs.c" '^cublas' 15 CUBLAS_STATUS_NOT_SUPPORTED \
  "$out/gen/emu_cublas.o" "$cublas2_native" "$cublas_native"
"${cc[@]}" -c "$out/gen/cublas_stubs.c" -o "$out/gen/cublas_stubs.o"
g++ -shared -Wl,-soname,libcublas.so.12 -Wl,--version-script="$emu/cublas/libcublas.map" -Wl,--no-undefined \
  -Wl,-rpath,'$ORIGIN' -o "$out/libcublas.so.12" "$out/gen/emu_cublas.o" "$out/gen/cublas_stubs.o" \
  "$out/libcuda.so.1"

# Kernel libraries.
empty_kernel_library() {
  cat > "$out/gen/empty_kernels.c" <<'EOF'
/* A kernel library with no kernels: keeps ATTNRT_EMU_KERNEL_LIBS valid while a kernel folder is empty. */
#include <stddef.h>
typedef struct { const char* name; void* launch; unsigned max_dynamic_smem; } attnrt_emu_kernel;
const attnrt_emu_kernel* attnrt_emu_kernel_table(int* count) { *count = 0; return NULL; }
unsigned long long attnrt_emu_seed(void) { return 0; }
EOF
  "${cc[@]}" -shared -o "$1" "$out/gen/empty_kernels.c"
}
if [ "${#main_sources[@]}" -gt 0 ]; then
  bash "$kernels_script" "$out/libattnrt_kernels.so" "${main_sources[@]}"
else
  empty_kernel_library "$out/libattnrt_kernels.so"
fi
if [ "${#selftest_sources[@]}" -gt 0 ]; then
  bash "$kernels_script" "$out/libattnrt_selftest.so" "${selftest_sources[@]}"
else
  empty_kernel_library "$out/libattnrt_selftest.so"
fi

# The canary: with LD_BIND_NOW=1 loading it must fail, which shows the flag really reached the test JVM.
cat > "$out/gen/bindnow_canary.c" <<'EOF'
extern int attnrt_emu_symbol_nobody_defines(void);
int attnrt_emu_bindnow_canary(void) { return attnrt_emu_symbol_nobody_defines(); }
EOF
"${cc[@]}" -shared -o "$out/test/libattnrt_emu_bindnow_canary.so" "$out/gen/bindnow_canary.c"

echo "$inputs_hash" > "$out/.inputs"
echo "[attnrt] emulated CUDA device built in $out (cuda.h from $cuda_include; ${#main_sources[@]} + ${#selftest_sources[@]} kernel source(s))"
