#!/usr/bin/env bash
# Builds an EMULATED-device kernel library (a test target, never production) from CUDA sources:
#   emu-kernels.sh OUT.so FILE.cu...
#   emu-kernels.sh --program OUT FILE.cu...   (an executable instead: one FILE defines main; for the
#                                              emulator's own tests, cuda/emu/test/run.sh)
# Each .cu is compiled by g++ as C++17 with cuda/emu/attnrt_emu.h force-included, so the kernels
# nvcc turns into PTX also run on the CPU. The library exports the C ABI of cuda/emu/attnrt_emu_abi.h
# (attnrt_emu_kernel_table, attnrt_emu_seed, attnrt_emu_set_describer) and nothing else.
#
# Per .cu a translation unit is generated that holds the source, with two mechanical rewrites, and
# one registration line per kernel:
#   * every `extern "C" __global__ ... void NAME(` is registered by NAME (found by a regex over the
#     source with comments removed), so adding a kernel to a .cu needs nothing else;
#   * `extern __shared__ T NAME[];` becomes a thread_local pointer to the worker's dynamic shared memory
#     (all such arrays alias its start, as on the GPU).
#   * after each block-scope `__shared__ ... NAME[...];` a call poisons NAME (0xFF bytes) when the first
#     thread of a block reaches the declaration, so static shared memory starts each block undefined.
# A #line directive keeps compiler messages pointing at the original file and line.
#
# The CUDA headers (cuda_fp16.h, cuda_bf16.h, vector_types.h) come from $CUDA_HOME/include, the
# directory of nvcc on PATH, or /usr/local/cuda/include. Environment: CXX (default g++),
# ATTNRT_EMU_CXXFLAGS (extra flags, e.g. -DATTNRT_EMU_USE_UCONTEXT or -O0 -g),
# ATTNRT_EMU_SANITIZE=undefined (UBSan without -fwrapv: a signed 32-bit overflow in kernel index math, a
# shift past the width, a misaligned pointer... stops the process with file:line on stderr; see
# cuda/emu/EMULATED_DEVICE.md for how to run the tests that way; not for CI, it is slower).
set -euo pipefail
program=0
if [ "${1:-}" = "--program" ]; then program=1; shift; fi
out=${1:?usage: emu-kernels.sh [--program] OUT FILE.cu...}
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
# ATTNRT_EMU_KEEP=DIR keeps the generated translation units there (to read what the rewrites did).
keep=${ATTNRT_EMU_KEEP:-}

# -fno-strict-aliasing: kernels pun registers (uint32_t <-> __half2) the way nvcc allows.
# -fwrapv: integer overflow wraps as it does on the GPU.
flags=(-std=c++17 -O2 -fPIC -pthread -fno-strict-aliasing -Wall -Wno-unused-function
       -Wno-unused-variable -Wno-unused-but-set-variable
       -I"$emu_dir" -I"$shared_include" -I"$cuda_include")
link_flags=()
case "${ATTNRT_EMU_SANITIZE:-}" in
  "") flags+=(-fwrapv) ;;
  undefined)
    # Without -fwrapv, so that signed overflow is undefined and reported (on the GPU it wraps silently,
    # which is exactly the index bug to find). -fno-sanitize-recover: the first report ends the process.
    flags+=(-fsanitize=undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g)
    link_flags+=(-fsanitize=undefined) ;;
  *) echo "emu-kernels.sh: ATTNRT_EMU_SANITIZE=$ATTNRT_EMU_SANITIZE: only 'undefined' is supported" >&2; exit 2 ;;
esac
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

    # Static shared memory: poison each __shared__ variable when the first thread of a block reaches
    # its declaration (block scope only), so reading it before writing it shows up like dynamic smem.
    (my $blank = $src) =~ s{/\*.*?\*/|//[^\n]*}{ my $c = $&; $c =~ s/[^\n]/ /g; $c }gse;
    my @decls;
    while ($blank =~ /\b__shared__\s+(?:[^;{}()=]|\([^()]*\))*?\b(\w+)\s*(?:\[[^\];{}]*\]\s*)*;/g) {
      push @decls, [$+[0], $1];
    }
    if (@decls) {
      # Which braces are open at each declaration: a function body or a namespace / extern "C" block?
      my (@stack, %in_code);
      my $k = 0;
      for (my $i = 0; $i < length($blank) && $k < @decls; ++$i) {
        while ($k < @decls && $decls[$k][0] - 1 == $i) { $in_code{$k} = scalar(grep { $_ } @stack); ++$k; }
        my $ch = substr($blank, $i, 1);
        if ($ch eq "{") {
          my $from = 0;
          for my $c (";", "{", "}") { my $at = rindex($blank, $c, $i - 1); $from = $at + 1 if $at + 1 > $from; }
          my $before = substr($blank, $from, $i - $from);
          push @stack, ($before =~ /\bnamespace\b|\bextern\s+"C"\s*$/ ? 0 : 1);
        } elsif ($ch eq "}") {
          pop @stack;
        }
      }
      for my $j (reverse 0 .. $#decls) {
        next unless $in_code{$j};
        my ($end, $name) = @{$decls[$j]};
        substr($src, $end, 0) = " ::attnrt_emu::shared_first_use(&$name, sizeof($name));";
      }
    }

    (my $quoted = $path) =~ s/(["\\])/\\$1/g;
    print "#line 1 \"$quoted\"\n", $src, "\n";
    print "#line 1 \"$quoted (attnrt-emu registration)\"\n";
    print "ATTNRT_EMU_REGISTER_KERNEL($_)\n" for @kernels;
    print STDERR "emu-kernels.sh: warning: no extern \"C\" __global__ kernel found in $path\n" unless @kernels;
  ' "$abs" > "$gen"
  if [ -n "$keep" ]; then mkdir -p "$keep" && cp "$gen" "$keep/"; fi
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
{ global: attnrt_emu_kernel_table; attnrt_emu_seed; attnrt_emu_set_describer; local: *; };
EOF
mkdir -p "$(dirname "$out")"
if [ $program -eq 1 ]; then
  "$cxx" -pthread "${link_flags[@]}" -o "$out.tmp" "${objects[@]}" "$work/runtime.o"
  mv -f "$out.tmp" "$out"
  exit 0
fi
# nodelete: worker threads of the library stay parked after a launch, so it must never be unmapped.
"$cxx" -shared -pthread "${link_flags[@]}" -o "$out.tmp" "${objects[@]}" "$work/runtime.o" \
  -Wl,--version-script="$work/exports.map" -Wl,-z,nodelete -Wl,--no-undefined
mv -f "$out.tmp" "$out"
