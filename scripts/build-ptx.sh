#!/usr/bin/env bash
# Compiles every CUDA source in SRC_DIR to PTX in OUT_DIR, then runs ptxas -v on each PTX for
# sm_80 and sm_90 as a static resource check (registers, shared memory, spills), saving the report.
#   build-ptx.sh SRC_DIR OUT_DIR ARCH REPORT_DIR [INCLUDE_DIR]
# INCLUDE_DIR defaults to SRC_DIR/include (the shared device headers).
# nvcc is looked up in $CUDA_HOME/bin, then PATH, then /usr/local/cuda/bin. Without it the build
# goes on with one line of explanation: the jar then carries no PTX and the CUDA backend reports that.
set -euo pipefail
src=${1:?source dir}; out=${2:?output dir}; arch=${3:-sm_80}; report=${4:-$out/../ptxas}
include=${5:-$src/include}

nvcc=""
for candidate in "${CUDA_HOME:+$CUDA_HOME/bin/nvcc}" "$(command -v nvcc || true)" /usr/local/cuda/bin/nvcc; do
  if [ -n "$candidate" ] && [ -x "$candidate" ]; then nvcc=$candidate; break; fi
done
if [ -z "$nvcc" ]; then
  echo "[attnrt] nvcc not found (CUDA_HOME, PATH, /usr/local/cuda): building without PTX"
  exit 0
fi
ptxas="$(dirname "$nvcc")/ptxas"

mkdir -p "$out" "$report"
shopt -s nullglob
sources=("$src"/*.cu)
for cu in "${sources[@]}"; do
  name=$(basename "$cu" .cu)
  "$nvcc" -ptx -arch="$arch" -O3 -std=c++17 -I"$include" -o "$out/$name.ptx" "$cu"
  for sm in sm_80 sm_90; do
    "$ptxas" -v -arch="$sm" -o /dev/null "$out/$name.ptx" > "$report/$name.$sm.txt" 2>&1 \
      || { cat "$report/$name.$sm.txt"; echo "[attnrt] ptxas rejected $name.ptx for $sm"; exit 1; }
  done
done
# The runtime loads the modules named here (a jar cannot be listed portably).
for cu in "${sources[@]}"; do basename "$cu" .cu; done > "$out/index.txt"
echo "[attnrt] ${#sources[@]} CUDA source(s) -> PTX ($arch) with $nvcc; ptxas reports in $report"
