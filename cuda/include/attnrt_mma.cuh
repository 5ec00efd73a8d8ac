// attnrt_mma.cuh — the only way attnrt kernels reach tensor cores and asynchronous copies.
//
// Each wrapper has two bodies:
//   * on the GPU (__CUDA_ARCH__), one inline-PTX instruction (sm_80+);
//   * on the emulated device (ATTNRT_EMU, see cuda/emu/attnrt_emu.h), a warp-collective emulation
//     that follows the PTX ISA's per-lane fragment layouts exactly, so a kernel that gets a layout
//     wrong computes wrong numbers in the CPU tests too.
// Kernels use these functions and never write raw asm themselves.
//
// Fragment layouts of mma.m16n8k16 (.f16/.bf16 inputs, .f32 accumulators), with
//   groupID = lane >> 2, tig = lane % 4 (thread in group), element i of a fragment:
//   A (16x16, row-major "row"), 4 regs = a0..a7, two 16-bit elements per reg, low half first:
//       row = groupID      for a0,a1,a4,a5;   groupID + 8 for a2,a3,a6,a7
//       col = tig*2 + (i&1) for a0..a3;       tig*2 + (i&1) + 8 for a4..a7
//   B (16x8, "col"), 2 regs = b0..b3:
//       row (k) = tig*2 + (i&1) for b0,b1;    tig*2 + (i&1) + 8 for b2,b3
//       col (n) = groupID
//   C/D (16x8 fp32), 4 floats c0..c3:
//       row = groupID for c0,c1;              groupID + 8 for c2,c3
//       col = tig*2 + (i&1)
//
//   ldmatrix.m8n8.b16: lanes 8j..8j+7 give the addresses of the 8 rows (16 bytes each, 16-byte
//   aligned, shared memory) of matrix j (j < 1, 2 or 4 for .x1/.x2/.x4); every lane receives one reg
//   per matrix holding (row lane/4, cols 2*(lane%4), +1), or with .trans (rows 2*(lane%4), +1, col
//   lane/4). So: A row-major in smem -> ldmatrix.x4 with lane l pointing at row (l%16), col 8*(l/16);
//   B stored k-major (row k = 8 n-values) -> ldmatrix.x2.trans; B stored n-major -> ldmatrix.x2.
//
//   cp.async: the copy lands at some point before the cp.async.wait_group that retires its group;
//   until then the destination has no defined content (the emulator fills it with 0xFF bytes) and
//   other threads see it only after a __syncthreads that follows their own wait.
#ifndef ATTNRT_MMA_CUH
#define ATTNRT_MMA_CUH

#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <stdint.h>

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
#error "attnrt_mma.cuh needs sm_80 or newer (mma.m16n8k16 bf16, cp.async)"
#endif

#if defined(__CUDA_ARCH__)
#define ATTNRT_SMEM_ADDR(p) static_cast<unsigned>(__cvta_generic_to_shared(p))
#endif

// ---- packing helpers --------------------------------------------------------------------------------

// Two 16-bit values in one register, `lo` in the low half (fragment element order).
__device__ __forceinline__ uint32_t attnrt_pack_half2(__half lo, __half hi) {
    return static_cast<uint32_t>(__half_as_ushort(lo)) | (static_cast<uint32_t>(__half_as_ushort(hi)) << 16);
}
__device__ __forceinline__ uint32_t attnrt_pack_bf162(__nv_bfloat16 lo, __nv_bfloat16 hi) {
    return static_cast<uint32_t>(__bfloat16_as_ushort(lo)) | (static_cast<uint32_t>(__bfloat16_as_ushort(hi)) << 16);
}

// ---- mma.sync.aligned.m16n8k16.row.col ----------------------------------------------------------------

// d = a * b + c, f16 inputs, f32 accumulate. All 32 lanes of the warp must call it together.
// d may alias c.
__device__ __forceinline__ void attnrt_mma_m16n8k16_f16(float (&d)[4], const uint32_t (&a)[4],
                                                        const uint32_t (&b)[2], const float (&c)[4]) {
#if defined(__CUDA_ARCH__)
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%10,%11,%12,%13};\n"
        : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]),
          "f"(c[3]));
#elif defined(ATTNRT_EMU)
    attnrt_emu::mma_m16n8k16_f32(false, d, a, b, c);
#endif
}

// d = a * b + c, bf16 inputs, f32 accumulate. All 32 lanes of the warp must call it together.
__device__ __forceinline__ void attnrt_mma_m16n8k16_bf16(float (&d)[4], const uint32_t (&a)[4],
                                                         const uint32_t (&b)[2], const float (&c)[4]) {
#if defined(__CUDA_ARCH__)
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%10,%11,%12,%13};\n"
        : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]),
          "f"(c[3]));
#elif defined(ATTNRT_EMU)
    attnrt_emu::mma_m16n8k16_f32(true, d, a, b, c);
#endif
}

// ---- ldmatrix.sync.aligned.m8n8.{x1,x2,x4}{,.trans}.shared.b16 -----------------------------------------
// `row` is this lane's row address in shared memory (used from lanes 0-7 / 0-15 / 0-31). All 32 lanes
// of the warp must call it together.

__device__ __forceinline__ void attnrt_ldmatrix_x1(uint32_t (&r)[1], const void* row) {
#if defined(__CUDA_ARCH__)
    asm volatile("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];\n" : "=r"(r[0]) : "r"(ATTNRT_SMEM_ADDR(row)) : "memory");
#elif defined(ATTNRT_EMU)
    attnrt_emu::ldmatrix_b16(r, 1, false, row);
#endif
}

__device__ __forceinline__ void attnrt_ldmatrix_x2(uint32_t (&r)[2], const void* row) {
#if defined(__CUDA_ARCH__)
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0,%1}, [%2];\n"
                 : "=r"(r[0]), "=r"(r[1]) : "r"(ATTNRT_SMEM_ADDR(row)) : "memory");
#elif defined(ATTNRT_EMU)
    attnrt_emu::ldmatrix_b16(r, 2, false, row);
#endif
}

__device__ __forceinline__ void attnrt_ldmatrix_x4(uint32_t (&r)[4], const void* row) {
#if defined(__CUDA_ARCH__)
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(ATTNRT_SMEM_ADDR(row)) : "memory");
#elif defined(ATTNRT_EMU)
    attnrt_emu::ldmatrix_b16(r, 4, false, row);
#endif
}

__device__ __forceinline__ void attnrt_ldmatrix_x1_trans(uint32_t (&r)[1], const void* row) {
#if defined(__CUDA_ARCH__)
    asm volatile("ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16 {%0}, [%1];\n" : "=r"(r[0]) : "r"(ATTNRT_SMEM_ADDR(row)) : "memory");
#elif defined(ATTNRT_EMU)
    attnrt_emu::ldmatrix_b16(r, 1, true, row);
#endif
}

__device__ __forceinline__ void attnrt_ldmatrix_x2_trans(uint32_t (&r)[2], const void* row) {
#if defined(__CUDA_ARCH__)
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0,%1}, [%2];\n"
                 : "=r"(r[0]), "=r"(r[1]) : "r"(ATTNRT_SMEM_ADDR(row)) : "memory");
#elif defined(ATTNRT_EMU)
    attnrt_emu::ldmatrix_b16(r, 2, true, row);
#endif
}

__device__ __forceinline__ void attnrt_ldmatrix_x4_trans(uint32_t (&r)[4], const void* row) {
#if defined(__CUDA_ARCH__)
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(ATTNRT_SMEM_ADDR(row)) : "memory");
#elif defined(ATTNRT_EMU)
    attnrt_emu::ldmatrix_b16(r, 4, true, row);
#endif
}

// ---- cp.async (global -> shared, per thread) ---------------------------------------------------------

// 16 bytes, cached in L2 only (.cg); both addresses 16-byte aligned.
__device__ __forceinline__ void attnrt_cp_async_cg16(void* smem_dst, const void* gmem_src) {
#if defined(__CUDA_ARCH__)
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(ATTNRT_SMEM_ADDR(smem_dst)), "l"(gmem_src) : "memory");
#elif defined(ATTNRT_EMU)
    attnrt_emu::cp_async(smem_dst, gmem_src, 16, 16, true);
#endif
}

// 16 bytes (.cg) of which only the first src_bytes (0..16) are read; the rest of the destination is
// zero-filled. For the ragged edge of a tile: src_bytes = 0 zero-fills without reading gmem_src
// (which must still be a valid, aligned address).
__device__ __forceinline__ void attnrt_cp_async_cg16_zfill(void* smem_dst, const void* gmem_src, unsigned src_bytes) {
#if defined(__CUDA_ARCH__)
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(ATTNRT_SMEM_ADDR(smem_dst)), "l"(gmem_src),
                 "r"(src_bytes) : "memory");
#elif defined(ATTNRT_EMU)
    attnrt_emu::cp_async(smem_dst, gmem_src, 16, src_bytes, true);
#endif
}

// 4, 8 or 16 bytes, cached at all levels (.ca); both addresses aligned to Bytes.
template <int Bytes>
__device__ __forceinline__ void attnrt_cp_async_ca(void* smem_dst, const void* gmem_src) {
    static_assert(Bytes == 4 || Bytes == 8 || Bytes == 16, "cp.async.ca copies 4, 8 or 16 bytes");
#if defined(__CUDA_ARCH__)
    asm volatile("cp.async.ca.shared.global [%0], [%1], %2;\n" ::"r"(ATTNRT_SMEM_ADDR(smem_dst)), "l"(gmem_src),
                 "n"(Bytes) : "memory");
#elif defined(ATTNRT_EMU)
    attnrt_emu::cp_async(smem_dst, gmem_src, Bytes, Bytes, false);
#endif
}

// Closes the current group of this thread's cp.async copies (an empty group counts too).
__device__ __forceinline__ void attnrt_cp_async_commit() {
#if defined(__CUDA_ARCH__)
    asm volatile("cp.async.commit_group;\n" ::: "memory");
#elif defined(ATTNRT_EMU)
    attnrt_emu::cp_async_commit();
#endif
}

// Waits until at most N of this thread's committed groups are still in flight. Other threads' copies
// become visible only after a __syncthreads that follows their own wait.
template <int N>
__device__ __forceinline__ void attnrt_cp_async_wait_group() {
    static_assert(N >= 0, "cp.async.wait_group takes a non-negative count");
#if defined(__CUDA_ARCH__)
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
#elif defined(ATTNRT_EMU)
    attnrt_emu::cp_async_wait_group(N);
#endif
}

// Commits the open group and waits for every copy of this thread (cp.async.wait_all).
__device__ __forceinline__ void attnrt_cp_async_wait_all() {
#if defined(__CUDA_ARCH__)
    asm volatile("cp.async.wait_all;\n" ::: "memory");
#elif defined(ATTNRT_EMU)
    attnrt_emu::cp_async_commit();
    attnrt_emu::cp_async_wait_group(0);
#endif
}

#endif  // ATTNRT_MMA_CUH
