// gemm.cu — projections of many tokens (prefill): out (+)= x · Wᵀ, on tensor cores, and an fp32 SIMT
// fallback for weights kept in f32.
//
// Layout: x [n, in] activations (A = f16 | bf16), row stride xStride elements; W [outFeatures, in] row-major,
// contiguous; out [n, outFeatures] (O = f32 | f16 | bf16), row stride outStride. Both operands are K-major,
// which is exactly mma.m16n8k16.row.col: x rows are A's rows, W rows are B's columns.
//
// 1. gemm_<A>_<O>: W in the activation dtype, mma.sync m16n8k16 (fp32 accumulators) via attnrt_mma.cuh.
//
//   CTA tile 128 tokens (M) x 128 output features (N), K step 32, 8 warps as 2 (M) x 4 (N), warp tile 64 x 32
//   = 4 x 4 mma tiles (64 fp32 accumulators per thread).
//
//        K step (32 elements = 4 chunks of 16 B)           smem stage s (of 4): A tile [128][32], B tile
//   x  ┌─────────┐ rows m0..m0+127  ── cp.async 16 B ──>   [128][32], 16-bit; chunk c of row r sits at chunk
//   W  ┌─────────┐ rows n0..n0+127  ── cp.async 16 B ──>   c ^ ((r >> 1) & 3), so the 8 row addresses of
//                                                          every ldmatrix phase hit 8 different 16-byte
//                                                          bank groups (rows are 64 B: 2 rows per 128 B).
//   Pipeline: 4-stage cp.async ring (3 K steps in flight while one is multiplied); one __syncthreads per
//   K step, both publishes the landed stage and retires the stage the next prefetch overwrites.
//   Fragments: A by ldmatrix.x4 (lane l -> row l % 16, k 8 (l / 16)); B by ldmatrix.x4 without .trans
//   (W rows are n-major = mma "col"): lane l -> n (l % 8) + 8 (l / 16), k 8 ((l / 8) % 2), giving b0b1 / b2b3
//   of two n8 tiles.
//   Ragged edges: rows >= n, rows >= outFeatures and k >= in are zero-filled by cp.async (src-size 0,
//   source clamped to the matrix base) and contribute 0; stores are guarded per element, as adjacent
//   pairs (one 4- or 8-byte access) when outStride is even and out is aligned to a pair.
//   Requirements (the host checks the first two): in % 8 == 0 and xStride % 8 == 0 (every chunk is one
//   16-byte cp.async), x and W 16-byte aligned.
//
//   gemm_<A>_<O>(const A* x, int xStride, const A* w, O* out, int outStride, int n, int in, int outFeatures,
//                int accumulate)                                               (A x O: 6 kernels)
//       out[t][j] = round_O(sum_k x[t][k] w[j][k] (+ out[t][j] when accumulate != 0)), fp32 accumulation,
//       one rounding; only rows t < n, columns j < outFeatures of out are touched.
//       LAUNCH: grid = (ceil(outFeatures / 128), ceil(n / 128), 1), block = (256, 1, 1),
//               dynamic smem = 65536 bytes (4 stages x 2 tiles x 128 x 32 x 2 B: above 48 KB, so
//               cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES) first), no workspace.
//
// 2. gemm_simt_<A>_f32_<O>: W kept in f32 (rare): plain fp32 FMA.
//
//   CTA tile 64 tokens x 64 output features, K step 32, 16 x 16 threads; thread (ty, tx) owns rows
//   ty + 16i and columns tx + 16j (i, j < 4), so the 16 tx of a row store 16 consecutive outputs and read
//   16 consecutive W values from smem. Tiles are staged transposed (smem [k][row], rows padded to 65 so the
//   k-major stores do not conflict); the next K step's global loads are issued before the current step is
//   multiplied (register double buffering). Any in, xStride, outStride (scalar loads, guarded).
//
//   gemm_simt_<A>_f32_<O>(const A* x, int xStride, const float* w, O* out, int outStride, int n, int in,
//                         int outFeatures, int accumulate)                     (A x O: 6 kernels)
//       same result contract as gemm_<A>_<O>.
//       LAUNCH: grid = (ceil(outFeatures / 64), ceil(n / 64), 1), block = (256, 1, 1), smem 0
//               (static: 2 x 32 x 65 floats = 16640 bytes), no workspace.
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <stdint.h>
#include <string.h>

#include "attnrt_mma.cuh"
#include "attnrt_elem.cuh"

namespace {

constexpr int kThreads = 256;

// Two adjacent outputs (p[0], p[1]) of one row. `pair`: both exist and p is aligned to 2 elements (one
// access); otherwise element by element, p[1] only when `second`.
template <typename O> struct alignas(2 * sizeof(O)) Pair { O v[2]; };
template <typename O>
__device__ __forceinline__ void store_pair(O* p, float v0, float v1, bool pair, bool second, int accumulate) {
    if (pair) {
        Pair<O> cur;
        if (accumulate) {
            cur = *reinterpret_cast<const Pair<O>*>(p);
            v0 += to_f(cur.v[0]);
            v1 += to_f(cur.v[1]);
        }
        cur.v[0] = from_f<O>(v0);
        cur.v[1] = from_f<O>(v1);
        *reinterpret_cast<Pair<O>*>(p) = cur;
        return;
    }
    p[0] = from_f<O>(accumulate ? v0 + to_f(p[0]) : v0);
    if (second) p[1] = from_f<O>(accumulate ? v1 + to_f(p[1]) : v1);
}

// ---------------------------------------------------------------------------------- tensor-core GEMM

constexpr int kBM = 128, kBN = 128, kBK = 32, kStages = 4;
constexpr int kWarpM = 64, kWarpN = 32;                     // 2 x 4 warps
constexpr int kMT = kWarpM / 16, kNT = kWarpN / 8;          // mma tiles per warp
constexpr int kTileElems = kBM * kBK;                        // one operand tile (kBM == kBN)
constexpr int kStageElems = 2 * kTileElems;
constexpr int kChunksPerRow = kBK / 8;
static_assert(kBM == kBN, "A and B tiles share the staging code");
static_assert(kBM * kChunksPerRow % kThreads == 0, "every thread copies the same number of chunks");

// Element offset of chunk c (8 elements) of row r in a [rows][32] tile, XOR-swizzled (see the header).
__device__ __forceinline__ int swz(int r, int c) { return r * kBK + ((c ^ ((r >> 1) & 3)) << 3); }

__device__ __forceinline__ void mma(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2], __half) {
    attnrt_mma_m16n8k16_f16(d, a, b, d);
}
__device__ __forceinline__ void mma(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2], __nv_bfloat16) {
    attnrt_mma_m16n8k16_bf16(d, a, b, d);
}

// One operand tile (rows r0 .. r0 + 127 of a K-major matrix with `rows` rows) of K step k0 -> smem.
template <typename A>
__device__ __forceinline__ void stage_tile(A* dst, const A* src, int stride, int rows, int r0, int k0, int in) {
ATTNRT_UNROLL
    for (int i = 0; i < kBM * kChunksPerRow / kThreads; ++i) {
        const int idx = threadIdx.x + i * kThreads;
        const int r = idx / kChunksPerRow, c = idx % kChunksPerRow;
        const int gr = r0 + r, k = k0 + c * 8;
        const bool valid = gr < rows && k < in;
        const A* from = valid ? src + (long long)gr * stride + k : src;
        attnrt_cp_async_cg16_zfill(dst + swz(r, c), from, valid ? 16u : 0u);
    }
}

template <typename A, typename O>
__device__ __forceinline__ void gemm_impl(const A* x, int xStride, const A* w, O* out, int outStride, int n, int in,
                                          int outFeatures, int accumulate) {
    extern __shared__ __align__(128) unsigned char gemm_smem[];
    A* smem = reinterpret_cast<A*>(gemm_smem);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int wm = warp / (kBN / kWarpN), wn = warp % (kBN / kWarpN);
    const int n0 = blockIdx.x * kBN, m0 = blockIdx.y * kBM;
    const int steps = (in + kBK - 1) / kBK;

    float acc[kMT][kNT][4];
ATTNRT_UNROLL
    for (int i = 0; i < kMT; ++i)
ATTNRT_UNROLL
        for (int j = 0; j < kNT; ++j)
ATTNRT_UNROLL
            for (int e = 0; e < 4; ++e) acc[i][j][e] = 0.0f;

    // Always commit kStages - 1 groups ahead (empty ones past the end) so wait_group<kStages - 2> at
    // step kt means exactly "step kt has landed".
ATTNRT_UNROLL
    for (int s = 0; s < kStages - 1; ++s) {
        if (s < steps) {
            stage_tile(smem + s * kStageElems, x, xStride, n, m0, s * kBK, in);
            stage_tile(smem + s * kStageElems + kTileElems, w, in, outFeatures, n0, s * kBK, in);
        }
        attnrt_cp_async_commit();
    }

    for (int kt = 0; kt < steps; ++kt) {
        attnrt_cp_async_wait_group<kStages - 2>();
        __syncthreads();
        const int next = kt + kStages - 1;
        if (next < steps) {
            A* st = smem + (next % kStages) * kStageElems;
            stage_tile(st, x, xStride, n, m0, next * kBK, in);
            stage_tile(st + kTileElems, w, in, outFeatures, n0, next * kBK, in);
        }
        attnrt_cp_async_commit();

        const A* As = smem + (kt % kStages) * kStageElems;
        const A* Bs = As + kTileElems;
ATTNRT_UNROLL
        for (int kk = 0; kk < kBK / 16; ++kk) {
            uint32_t a[kMT][4], b[kNT][2];
ATTNRT_UNROLL
            for (int i = 0; i < kMT; ++i) {
                const int r = wm * kWarpM + i * 16 + (lane & 15);
                attnrt_ldmatrix_x4(a[i], As + swz(r, kk * 2 + (lane >> 4)));
            }
ATTNRT_UNROLL
            for (int j = 0; j < kNT / 2; ++j) {
                const int r = wn * kWarpN + j * 16 + (lane & 7) + ((lane >> 4) << 3);
                uint32_t q[4];
                attnrt_ldmatrix_x4(q, Bs + swz(r, kk * 2 + ((lane >> 3) & 1)));
                b[2 * j][0] = q[0];
                b[2 * j][1] = q[1];
                b[2 * j + 1][0] = q[2];
                b[2 * j + 1][1] = q[3];
            }
ATTNRT_UNROLL
            for (int i = 0; i < kMT; ++i)
ATTNRT_UNROLL
                for (int j = 0; j < kNT; ++j) mma(acc[i][j], a[i], b[j], A());
        }
    }
    attnrt_cp_async_wait_all();  // only empty groups remain; leave no copy outstanding at exit

    const bool pairs = (outStride % 2 == 0) && (reinterpret_cast<uintptr_t>(out) % (2 * sizeof(O)) == 0);
    const int g = lane >> 2, tig = lane & 3;
ATTNRT_UNROLL
    for (int i = 0; i < kMT; ++i) {
ATTNRT_UNROLL
        for (int h = 0; h < 2; ++h) {
            const int row = m0 + wm * kWarpM + i * 16 + g + 8 * h;
            if (row >= n) continue;
ATTNRT_UNROLL
            for (int j = 0; j < kNT; ++j) {
                const int col = n0 + wn * kWarpN + j * 8 + tig * 2;
                if (col >= outFeatures) continue;
                const bool second = col + 1 < outFeatures;
                store_pair(out + (long long)row * outStride + col, acc[i][j][2 * h], acc[i][j][2 * h + 1],
                           pairs && second, second, accumulate);
            }
        }
    }
}

// ---------------------------------------------------------------------------------- SIMT fp32 GEMM

constexpr int kSB = 64, kSK = 32, kSPad = kSB + 1;
constexpr int kSLoads = kSB * kSK / kThreads;  // elements per thread per operand tile

template <typename T>
__device__ __forceinline__ void load_simt(float (&v)[kSLoads], const T* src, int stride, int rows, int r0, int k0,
                                          int in) {
ATTNRT_UNROLL
    for (int i = 0; i < kSLoads; ++i) {
        const int e = threadIdx.x + i * kThreads;
        const int r = r0 + e / kSK, k = k0 + e % kSK;
        v[i] = r < rows && k < in ? to_f(src[(long long)r * stride + k]) : 0.0f;
    }
}

__device__ __forceinline__ void store_simt(float (*dst)[kSPad], const float (&v)[kSLoads]) {
ATTNRT_UNROLL
    for (int i = 0; i < kSLoads; ++i) {
        const int e = threadIdx.x + i * kThreads;
        dst[e % kSK][e / kSK] = v[i];
    }
}

template <typename A, typename O>
__device__ __forceinline__ void gemm_simt_impl(const A* x, int xStride, const float* w, O* out, int outStride, int n,
                                               int in, int outFeatures, int accumulate) {
    __shared__ float xs[kSK][kSPad];
    __shared__ float ws[kSK][kSPad];
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
    const int n0 = blockIdx.x * kSB, m0 = blockIdx.y * kSB;
    const int steps = (in + kSK - 1) / kSK;

    float acc[4][4];
ATTNRT_UNROLL
    for (int i = 0; i < 4; ++i)
ATTNRT_UNROLL
        for (int j = 0; j < 4; ++j) acc[i][j] = 0.0f;

    float rx[kSLoads], rw[kSLoads];
    load_simt(rx, x, xStride, n, m0, 0, in);
    load_simt(rw, w, in, outFeatures, n0, 0, in);
    for (int kt = 0; kt < steps; ++kt) {
        store_simt(xs, rx);
        store_simt(ws, rw);
        __syncthreads();
        if (kt + 1 < steps) {
            load_simt(rx, x, xStride, n, m0, (kt + 1) * kSK, in);
            load_simt(rw, w, in, outFeatures, n0, (kt + 1) * kSK, in);
        }
ATTNRT_UNROLL
        for (int k = 0; k < kSK; ++k) {
            float a[4], b[4];
ATTNRT_UNROLL
            for (int i = 0; i < 4; ++i) a[i] = xs[k][ty + 16 * i];
ATTNRT_UNROLL
            for (int j = 0; j < 4; ++j) b[j] = ws[k][tx + 16 * j];
ATTNRT_UNROLL
            for (int i = 0; i < 4; ++i)
ATTNRT_UNROLL
                for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
        }
        __syncthreads();  // the next step's stores overwrite what this step read
    }

ATTNRT_UNROLL
    for (int i = 0; i < 4; ++i) {
        const int row = m0 + ty + 16 * i;
        if (row >= n) continue;
ATTNRT_UNROLL
        for (int j = 0; j < 4; ++j) {
            const int col = n0 + tx + 16 * j;
            if (col >= outFeatures) continue;
            O* dst = out + (long long)row * outStride + col;
            *dst = from_f<O>(accumulate ? acc[i][j] + to_f(*dst) : acc[i][j]);
        }
    }
}

}  // namespace

#define GEMM_ARGS(A, W, O) const A* x, int xStride, const W* w, O* out, int outStride, int n, int in, int outFeatures, int accumulate
#define GEMM_PASS x, xStride, w, out, outStride, n, in, outFeatures, accumulate

extern "C" __global__ void __launch_bounds__(kThreads) gemm_f16_f32(GEMM_ARGS(__half, __half, float)) { gemm_impl(GEMM_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemm_f16_f16(GEMM_ARGS(__half, __half, __half)) { gemm_impl(GEMM_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemm_f16_bf16(GEMM_ARGS(__half, __half, __nv_bfloat16)) { gemm_impl(GEMM_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemm_bf16_f32(GEMM_ARGS(__nv_bfloat16, __nv_bfloat16, float)) { gemm_impl(GEMM_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemm_bf16_f16(GEMM_ARGS(__nv_bfloat16, __nv_bfloat16, __half)) { gemm_impl(GEMM_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemm_bf16_bf16(GEMM_ARGS(__nv_bfloat16, __nv_bfloat16, __nv_bfloat16)) { gemm_impl(GEMM_PASS); }

extern "C" __global__ void __launch_bounds__(kThreads) gemm_simt_f16_f32_f32(GEMM_ARGS(__half, float, float)) { gemm_simt_impl(GEMM_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemm_simt_f16_f32_f16(GEMM_ARGS(__half, float, __half)) { gemm_simt_impl(GEMM_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemm_simt_f16_f32_bf16(GEMM_ARGS(__half, float, __nv_bfloat16)) { gemm_simt_impl(GEMM_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemm_simt_bf16_f32_f32(GEMM_ARGS(__nv_bfloat16, float, float)) { gemm_simt_impl(GEMM_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemm_simt_bf16_f32_f16(GEMM_ARGS(__nv_bfloat16, float, __half)) { gemm_simt_impl(GEMM_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemm_simt_bf16_f32_bf16(GEMM_ARGS(__nv_bfloat16, float, __nv_bfloat16)) { gemm_simt_impl(GEMM_PASS); }
