#!/usr/bin/env bash
# Builds an EMULATED-device kernel library (a test target, never production) from CUDA sources:
#   emu-kernels.sh OUT.so FILE.cu...
# Each .cu is compiled by g++ as C++17 with cuda/emu/attnrt_emu.h force-included, so the kernels
# nvcc turns into PTX also run on the CPU. The library exports the C ABI of cuda/emu/attnrt_emu_abi.h
# (attnrt_emu_kernel_table, attnrt_emu_seed) and nothing else.
#
# Per .cu a translation unit is generated that holds the source, with two mechanical rewrites, and
# one registration line per kernel:
#   * every `extern "C" __global__ ... void NAME(` is registered by NAME (found by a regex over the
#     source with comments removed), so adding a kernel to a .cu needs nothing else;
#   * `extern __shared__ T NAME[];` becomes a thread_local pointer to the worker's dynamic shared memory
#     (all such arrays alias its start, as on the GPU).
# A #line directive keeps compiler messages pointing at the original file and line.
#
# The CUDA headers (cuda_fp16.h, cuda_bf16.h, vector_types.h) come from $CUDA_HOME/include, the
# directory of nvcc on PATH, or /usr/local/cuda/include. Environment: CXX (default g++),
# ATTNRT_EMU_CXXFLAGS (extra flags, e.g. -DATTNRT_EMU_USE_UCONTEXT or -O0 -g).
set -euo pipefail
out=${1:?usage: emu-kernels.sh OUT.so FILE.cu...}
shift
[ $# -gt 0 ] || { echo "emu-kernels.sh: no .cu files given" >&2; exit 2; }

root=$(cd "$(dirname "$0")/.." && pwd)
emu_dir=$root/cuda/emu
shared_include=$root/cuda/include
cxx=${CXX:-g++}

cuda_include=""
for candidate in "${CUDA_HOME:+$CUDA_HOME/include}" \
                 "$(command -v nvcc >/dev/null 2>&1 && dirname "$(dirname "$(command -v nvcc)")")/include" \
                 /usr/local/cuda/include; do
  if [ -n "$candidate" ] && [ -f "$candidate/cuda_fp16.h" ]; then cuda_include=$candidate; break; fi
done
if [ -z "$cuda_include" ]; then
  echo "emu-kernels.sh: cuda_fp16.h not found (CUDA_HOME, nvcc on PATH, /usr/local/cuda): cannot build" >&2
  exit 3
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/attnrt-emu.XXXXXX")
trap 'rm -rf "$work"' EXIT

# -fno-strict-aliasing: kernels pun registers (uint32_t <-> __half2) the way nvcc allows.
# -fwrapv: integer overflow wraps as it does on the GPU.
flags=(-std=c++17 -O2 -fPIC -pthread -fno-strict-aliasing -fwrapv -Wall -Wno-unused-function
       -Wno-unused-variable -Wno-unused-but-set-variable
       -I"$emu_dir" -I"$shared_include" -I"$cuda_include")
# shellcheck disable=SC2206
extra=(${ATTNRT_EMU_CXXFLAGS:-})

objects=()
pids=()
index=0
for cu in "$@"; do
  [ -f "$cu" ] || { echo "emu-kernels.sh: no such file: $cu" >&2; exit 2; }
  abs=$(cd "$(dirname "$cu")" && pwd)/$(basename "$cu")
  gen=$work/$index.$(basename "$cu" .cu).emu.cpp
  perl -e '
    use strict; use warnings;
    my ($path) = @ARGV;
    open(my $fh, "<", $path) or die "cannot read $path: $!";
    local $/; my $src = <$fh>; close $fh;

    # Kernel names, from the source without comments and string literals other than "C".
    my $code = $src;
    $code =~ s{/\*.*?\*/}{ my $c = $&; $c =~ tr/\n//cd; $c }gse;
    $code =~ s{//[^\n]*}{}g;
    my @kernels;
    while ($code =~ /\bextern\s+"C"\s+(?:(?:static|inline)\s+)*__global__\s+(?:__launch_bounds__\s*\([^()]*\)\s*)?void\s+(?:__launch_bounds__\s*\([^()]*\)\s*)?(\w+)\s*\(/g) {
      push @kernels, $1;
    }

    # extern __shared__ T name[];  ->  thread_local T* const name = <dynamic shared memory>;
    $src =~ s{\bextern\s+__shared__\s+([^;{}\[\]]*?)\s*\b(\w+)\s*\[\s*\]\s*;}{
      my ($type, $name) = ($1, $2);
      (my $plain = $type) =~ s/(?:__align__|alignas)\s*\([^()]*\)//g;
      $plain =~ s/^\s+|\s+$//g;
      "thread_local $plain* const $name = static_cast<$plain*>(::attnrt_emu::dynamic_smem());"
    }ge;

    (my $quoted = $path) =~ s/(["\\])/\\$1/g;
    print "#line 1 \"$quoted\"\n", $src, "\n";
    print "#line 1 \"$quoted (attnrt-emu registration)\"\n";
    print "ATTNRT_EMU_REGISTER_KERNEL($_)\n" for @kernels;
    print STDERR "emu-kernels.sh: warning: no extern \"C\" __global__ kernel found in $path\n" unless @kernels;
  ' "$abs" > "$gen"
  obj=$work/$index.o
  "$cxx" "${flags[@]}" "${extra[@]}" -iquote "$(dirname "$abs")" -include "$emu_dir/attnrt_emu.h" \
    -c "$gen" -o "$obj" &
  pids+=($!)
  objects+=("$obj")
  index=$((index + 1))
done
"$cxx" "${flags[@]}" "${extra[@]}" -c "$emu_dir/attnrt_emu_runtime.cpp" -o "$work/runtime.o" &
pids+=($!)
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
[ $failed -eq 0 ] || { echo "emu-kernels.sh: compilation failed" >&2; exit 1; }

cat > "$work/exports.map" <<'EOF'
{ global: attnrt_emu_kernel_table; attnrt_emu_seed; local: *; };
EOF
mkdir -p "$(dirname "$out")"
# nodelete: worker threads of the library stay parked after a launch, so it must never be unmapped.
"$cxx" -shared -pthread -o "$out.tmp" "${objects[@]}" "$work/runtime.o" \
  -Wl,--version-script="$work/exports.map" -Wl,-z,nodelete -Wl,--no-undefined
mv -f "$out.tmp" "$out"
