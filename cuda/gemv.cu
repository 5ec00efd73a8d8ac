// gemv.cu — projections of a few tokens (decode): out (+)= x · Wᵀ, bound by streaming W once.
//
// Layout: x [n, in] activations (A = f16 | bf16), row stride xStride elements; W [outFeatures, in] row-major,
// contiguous (W = f32 | f16 | bf16, or ggml blocks q8_0 | q4_0 | q4_k | q5_k | q6_k, rows of whole blocks:
// see attnrt_quant.cuh); out [n, outFeatures] (O = f32 | f16 | bf16), row stride outStride.
// n <= 8 tokens. Requirements (the host checks the first two): in % 8 == 0, xStride % 8 == 0, x and W
// 16-byte aligned (every 8-element chunk is one 16-byte access, two for f32 W; a quantized chunk is the
// 8-16 bytes of its quants plus its block's scales, which the lanes of one block share through L1).
//
//   CTA = 8 warps = 32 consecutive output rows; warp w owns rows 4w .. 4w+3 of the CTA's tile
//
//                      k:  chunk c = 8 elements            lane l reads chunks l, l+32, l+64, ... of
//   W rows r0..r3  ┌──┬──┬──┬── ... ──┬──┐                 the K range (a warp instruction covers 512
//                  │l0│l1│l2│   ...   │  │                 contiguous bytes of a 16-bit row); two chunk
//                  └──┴──┴──┴── ... ──┴──┘                 steps are loaded before they are used, so each
//   x tokens 0..n-1  same chunk c, read from global        lane has 8 independent 16-byte W loads in flight.
//
//   Each weight byte is read exactly once per call, for all n tokens together: a lane multiplies its 4 W
//   chunks with the same chunk of every token, so one x load (L1 hits: all 8 warps walk the same k at
//   about the same time, and x is at most 8 x in x 2 bytes) feeds 4 rows. W goes through ld.global.cs
//   (streamed: a decode step touches each weight once, keep L2 for x and the KV cache).
//   acc[token][row] = 8 x 4 = 32 fp32 registers per lane, then ONE transposing butterfly reduction over the
//   warp (31 shuffles instead of 32 x 5): at offset s a lane keeps half of its values and sends the other
//   half to lane ^ s, so lane L ends with the full sum of value L = (token L/4, row L%4).
//
// Kernels:
//   gemv_<A>_<W>_<O>(const A* x, int xStride, const W* w, O* out, int outStride, int n, int in,
//                    int outFeatures, int accumulate)              (A x W x O: 18 + 30 quantized kernels)
//       out[t][j] = round_O(sum_k x[t][k] * w[j][k]  (+ out[t][j] when accumulate != 0)), fp32 throughout,
//       one rounding. Only rows t < n, columns j < outFeatures of out are touched.
//       LAUNCH: grid = (ceil(outFeatures / 32), 1, 1), block = (256, 1, 1), smem 0, no workspace.
//
//   gemv_splitk_<A>_<W>(const A* x, int xStride, const W* w, float* ws, int n, int in, int outFeatures)
//       (A x W: 6 + 10 quantized kernels) the same tile over the K range of split s = blockIdx.y: with chunks = in / 8 and
//       per = ceil(chunks / gridDim.y), split s covers chunks [s*per, min(chunks, (s+1)*per)) (possibly
//       empty: its partials are then 0). Writes the fp32 partial sums to ws[s][t][j] (dense [splits, n,
//       outFeatures]); every element of that box is written.
//       LAUNCH: grid = (ceil(outFeatures / 32), splits, 1), block = (256, 1, 1), smem 0,
//               workspace ws = 4 * splits * n * outFeatures bytes.
//
//   gemv_splitk_finish_<O>(const float* ws, int splits, O* out, int outStride, int n, int outFeatures,
//                          int accumulate)   (O: 3 kernels)
//       out[t][j] = round_O(ws[0][t][j] + ws[1][t][j] + ... (+ old out)), summed in split order so the
//       result does not depend on scheduling (deterministic for given shapes and split count).
//       one thread per output element, grid-stride.
//       LAUNCH: grid = (min(ceil(n * outFeatures / 256), 65535), 1, 1), block = (256, 1, 1), smem 0.
//
// Split-K pays when ceil(outFeatures / 32) CTAs cannot fill the GPU (e.g. 4096 rows = 128 CTAs on 132
// SMs); the split count is the host's (CudaLinear), a pure function of the shape and the SM count.
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <stdint.h>
#include <string.h>
#include "attnrt_elem.cuh"
#include "attnrt_quant.cuh"

namespace {

constexpr unsigned kFull = 0xffffffffu;
constexpr int kThreads = 256;
constexpr int kRowsPerWarp = 4;
constexpr int kRowsPerCta = kRowsPerWarp * kThreads / 32;
constexpr int kMaxTokens = 8;
constexpr int kSteps = 2;  // chunk steps whose loads are issued before their FMAs
static_assert(kMaxTokens * kRowsPerWarp == 32, "the transposing reduction hands one value to each lane");

// Eight consecutive elements as raw 16-byte words (one for 16-bit types, two for f32), or for a quantized W
// the raw loads of one chunk (attnrt_quant.cuh): loads are issued into these and converted only when used,
// so they stay in flight together.
template <typename T, bool kQuant = IsQuant<T>::value> struct Chunk {
    static constexpr int kWords = sizeof(T) * 8 / 16;
    uint4 raw[kWords];
};
template <typename Q> struct Chunk<Q, true> { QChunk<Q> q; };

template <typename T> __device__ __forceinline__ void load_cached(Chunk<T>& c, const T* p) {
ATTNRT_UNROLL
    for (int h = 0; h < Chunk<T>::kWords; ++h) c.raw[h] = __ldg(reinterpret_cast<const uint4*>(p) + h);
}

// Row `row` of W (in elements; whole blocks for a quantized W).
template <typename W> __device__ __forceinline__ const W* weight_row(const W* w, long long row, int in) {
    if constexpr (IsQuant<W>::value) {
        return reinterpret_cast<const W*>(qrow(w, row, in));
    } else {
        return w + row * in;
    }
}

// Chunk c (elements 8c .. 8c+7) of a weight row, through ld.global.cs.
template <typename W> __device__ __forceinline__ void load_weights(Chunk<W>& c, const W* row, int chunk) {
    if constexpr (IsQuant<W>::value) {
        qload<true>(c.q, reinterpret_cast<const uint8_t*>(row), chunk);
    } else {
ATTNRT_UNROLL
        for (int h = 0; h < Chunk<W>::kWords; ++h) c.raw[h] = __ldcs(reinterpret_cast<const uint4*>(row + 8 * chunk) + h);
    }
}

template <typename T> __device__ __forceinline__ void widen(const Chunk<T>& c, float (&v)[8]) {
    if constexpr (IsQuant<T>::value) {
        qwiden(c.q, v);
    } else {
        T e[8];
        memcpy(static_cast<void*>(e), c.raw, sizeof(e));
ATTNRT_UNROLL
        for (int i = 0; i < 8; ++i) v[i] = to_f(e[i]);
    }
}

// One step of the transposing reduction per offset S = 16, 8, .., 1, as a template so every index into v
// is a constant (a runtime loop over S left v in local memory in the larger variants: 128-byte stack).
template <int S> __device__ __forceinline__ void butterfly(float (&v)[32], int lane) {
    if constexpr (S > 0) {
        const bool upper = (lane & S) != 0;
ATTNRT_UNROLL
        for (int i = 0; i < S; ++i) {
            const float send = upper ? v[i] : v[i + S];
            const float keep = upper ? v[i + S] : v[i];
            v[i] = keep + __shfl_xor_sync(kFull, send, S);
        }
        butterfly<S / 2>(v, lane);
    }
}

// The sums of one CTA tile over chunks [cBegin, cEnd); on return lane L of each warp holds the warp-wide
// total for token L / 4 and row (first row of the warp) + L % 4.
template <typename A, typename W>
__device__ __forceinline__ float gemv_tile(const A* x, int xStride, const W* w, int n, int in, int outFeatures,
                                           int row0, int cBegin, int cEnd) {
    const int lane = threadIdx.x & 31;
    // Rows past the end load the last row (valid memory); their sums are never stored.
    const W* wr[kRowsPerWarp];
ATTNRT_UNROLL
    for (int r = 0; r < kRowsPerWarp; ++r) wr[r] = weight_row(w, min(row0 + r, outFeatures - 1), in);

    float acc[kMaxTokens][kRowsPerWarp];
ATTNRT_UNROLL
    for (int t = 0; t < kMaxTokens; ++t)
ATTNRT_UNROLL
        for (int r = 0; r < kRowsPerWarp; ++r) acc[t][r] = 0.0f;

    for (int c0 = cBegin + lane; c0 < cEnd; c0 += 32 * kSteps) {
        Chunk<W> wc[kSteps][kRowsPerWarp];
ATTNRT_UNROLL
        for (int s = 0; s < kSteps; ++s) {
            const int c = min(c0 + 32 * s, cEnd - 1);  // a step past the end re-reads a valid chunk, unused
ATTNRT_UNROLL
            for (int r = 0; r < kRowsPerWarp; ++r) load_weights(wc[s][r], wr[r], c);
        }
ATTNRT_UNROLL
        for (int s = 0; s < kSteps; ++s) {
            const int c = c0 + 32 * s;
            if (c >= cEnd) break;
            float wv[kRowsPerWarp][8];
ATTNRT_UNROLL
            for (int r = 0; r < kRowsPerWarp; ++r) widen(wc[s][r], wv[r]);
ATTNRT_UNROLL
            for (int t = 0; t < kMaxTokens; ++t) {
                if (t >= n) break;
                Chunk<A> xc;
                load_cached(xc, x + (long long)t * xStride + 8 * c);
                float xv[8];
                widen(xc, xv);
ATTNRT_UNROLL
                for (int r = 0; r < kRowsPerWarp; ++r)
ATTNRT_UNROLL
                    for (int i = 0; i < 8; ++i) acc[t][r] = fmaf(xv[i], wv[r][i], acc[t][r]);
            }
        }
    }

    // Transposing butterfly: v[i] with i = token * 4 + row; after offset s only v[0 .. s) are live.
    float v[32];
ATTNRT_UNROLL
    for (int t = 0; t < kMaxTokens; ++t)
ATTNRT_UNROLL
        for (int r = 0; r < kRowsPerWarp; ++r) v[t * kRowsPerWarp + r] = acc[t][r];
    butterfly<16>(v, lane);
    return v[0];
}

template <typename A, typename W, typename O>
__device__ __forceinline__ void gemv_impl(const A* x, int xStride, const W* w, O* out, int outStride, int n,
                                          int in, int outFeatures, int accumulate) {
    const int lane = threadIdx.x & 31;
    const int row0 = blockIdx.x * kRowsPerCta + (threadIdx.x >> 5) * kRowsPerWarp;
    const float sum = gemv_tile(x, xStride, w, n, in, outFeatures, row0, 0, in >> 3);
    const int t = lane / kRowsPerWarp, row = row0 + lane % kRowsPerWarp;
    if (t < n && row < outFeatures) {
        O* dst = out + (long long)t * outStride + row;
        *dst = from_f<O>(accumulate ? sum + to_f(*dst) : sum);
    }
}

template <typename A, typename W>
__device__ __forceinline__ void gemv_splitk_impl(const A* x, int xStride, const W* w, float* ws, int n, int in,
                                                 int outFeatures) {
    const int lane = threadIdx.x & 31;
    const int row0 = blockIdx.x * kRowsPerCta + (threadIdx.x >> 5) * kRowsPerWarp;
    const int chunks = in >> 3;
    const int per = (chunks + gridDim.y - 1) / gridDim.y;
    const int cBegin = min(chunks, (int)blockIdx.y * per);
    const int cEnd = min(chunks, cBegin + per);
    const float sum = gemv_tile(x, xStride, w, n, in, outFeatures, row0, cBegin, cEnd);
    const int t = lane / kRowsPerWarp, row = row0 + lane % kRowsPerWarp;
    if (t < n && row < outFeatures) ws[((long long)blockIdx.y * n + t) * outFeatures + row] = sum;
}

template <typename O>
__device__ __forceinline__ void gemv_splitk_finish_impl(const float* ws, int splits, O* out, int outStride, int n,
                                                        int outFeatures, int accumulate) {
    const long long total = (long long)n * outFeatures;
    const long long plane = total;
    for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < total;
         e += (long long)gridDim.x * blockDim.x) {
        float sum = 0.0f;
        for (int s = 0; s < splits; ++s) sum += ws[s * plane + e];
        const int t = (int)(e / outFeatures), j = (int)(e % outFeatures);
        O* dst = out + (long long)t * outStride + j;
        *dst = from_f<O>(accumulate ? sum + to_f(*dst) : sum);
    }
}

}  // namespace

#define GEMV_ARGS(A, W, O) const A* x, int xStride, const W* w, O* out, int outStride, int n, int in, int outFeatures, int accumulate
#define GEMV_PASS x, xStride, w, out, outStride, n, in, outFeatures, accumulate

extern "C" __global__ void __launch_bounds__(kThreads) gemv_f16_f32_f32(GEMV_ARGS(__half, float, float)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_f16_f32_f16(GEMV_ARGS(__half, float, __half)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_f16_f32_bf16(GEMV_ARGS(__half, float, __nv_bfloat16)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_f16_f16_f32(GEMV_ARGS(__half, __half, float)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_f16_f16_f16(GEMV_ARGS(__half, __half, __half)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_f16_f16_bf16(GEMV_ARGS(__half, __half, __nv_bfloat16)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_f16_bf16_f32(GEMV_ARGS(__half, __nv_bfloat16, float)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_f16_bf16_f16(GEMV_ARGS(__half, __nv_bfloat16, __half)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_f16_bf16_bf16(GEMV_ARGS(__half, __nv_bfloat16, __nv_bfloat16)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_bf16_f32_f32(GEMV_ARGS(__nv_bfloat16, float, float)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_bf16_f32_f16(GEMV_ARGS(__nv_bfloat16, float, __half)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_bf16_f32_bf16(GEMV_ARGS(__nv_bfloat16, float, __nv_bfloat16)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_bf16_f16_f32(GEMV_ARGS(__nv_bfloat16, __half, float)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_bf16_f16_f16(GEMV_ARGS(__nv_bfloat16, __half, __half)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_bf16_f16_bf16(GEMV_ARGS(__nv_bfloat16, __half, __nv_bfloat16)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_bf16_bf16_f32(GEMV_ARGS(__nv_bfloat16, __nv_bfloat16, float)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_bf16_bf16_f16(GEMV_ARGS(__nv_bfloat16, __nv_bfloat16, __half)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_bf16_bf16_bf16(GEMV_ARGS(__nv_bfloat16, __nv_bfloat16, __nv_bfloat16)) { gemv_impl(GEMV_PASS); }

// Quantized weights (attnrt_quant.cuh): the same tile, each chunk decoded from its block as it is used.
extern "C" __global__ void __launch_bounds__(kThreads) gemv_f16_q8_0_f32(GEMV_ARGS(__half, q8_0, float)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_f16_q8_0_f16(GEMV_ARGS(__half, q8_0, __half)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_f16_q8_0_bf16(GEMV_ARGS(__half, q8_0, __nv_bfloat16)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_f16_q4_0_f32(GEMV_ARGS(__half, q4_0, float)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_f16_q4_0_f16(GEMV_ARGS(__half, q4_0, __half)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_f16_q4_0_bf16(GEMV_ARGS(__half, q4_0, __nv_bfloat16)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_f16_q4_k_f32(GEMV_ARGS(__half, q4_k, float)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_f16_q4_k_f16(GEMV_ARGS(__half, q4_k, __half)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_f16_q4_k_bf16(GEMV_ARGS(__half, q4_k, __nv_bfloat16)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_f16_q5_k_f32(GEMV_ARGS(__half, q5_k, float)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_f16_q5_k_f16(GEMV_ARGS(__half, q5_k, __half)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_f16_q5_k_bf16(GEMV_ARGS(__half, q5_k, __nv_bfloat16)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_f16_q6_k_f32(GEMV_ARGS(__half, q6_k, float)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_f16_q6_k_f16(GEMV_ARGS(__half, q6_k, __half)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_f16_q6_k_bf16(GEMV_ARGS(__half, q6_k, __nv_bfloat16)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_bf16_q8_0_f32(GEMV_ARGS(__nv_bfloat16, q8_0, float)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_bf16_q8_0_f16(GEMV_ARGS(__nv_bfloat16, q8_0, __half)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_bf16_q8_0_bf16(GEMV_ARGS(__nv_bfloat16, q8_0, __nv_bfloat16)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_bf16_q4_0_f32(GEMV_ARGS(__nv_bfloat16, q4_0, float)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_bf16_q4_0_f16(GEMV_ARGS(__nv_bfloat16, q4_0, __half)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_bf16_q4_0_bf16(GEMV_ARGS(__nv_bfloat16, q4_0, __nv_bfloat16)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_bf16_q4_k_f32(GEMV_ARGS(__nv_bfloat16, q4_k, float)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_bf16_q4_k_f16(GEMV_ARGS(__nv_bfloat16, q4_k, __half)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_bf16_q4_k_bf16(GEMV_ARGS(__nv_bfloat16, q4_k, __nv_bfloat16)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_bf16_q5_k_f32(GEMV_ARGS(__nv_bfloat16, q5_k, float)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_bf16_q5_k_f16(GEMV_ARGS(__nv_bfloat16, q5_k, __half)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_bf16_q5_k_bf16(GEMV_ARGS(__nv_bfloat16, q5_k, __nv_bfloat16)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_bf16_q6_k_f32(GEMV_ARGS(__nv_bfloat16, q6_k, float)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_bf16_q6_k_f16(GEMV_ARGS(__nv_bfloat16, q6_k, __half)) { gemv_impl(GEMV_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_bf16_q6_k_bf16(GEMV_ARGS(__nv_bfloat16, q6_k, __nv_bfloat16)) { gemv_impl(GEMV_PASS); }

#define SPLITK_ARGS(A, W) const A* x, int xStride, const W* w, float* ws, int n, int in, int outFeatures
#define SPLITK_PASS x, xStride, w, ws, n, in, outFeatures

extern "C" __global__ void __launch_bounds__(kThreads) gemv_splitk_f16_f32(SPLITK_ARGS(__half, float)) { gemv_splitk_impl(SPLITK_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_splitk_f16_f16(SPLITK_ARGS(__half, __half)) { gemv_splitk_impl(SPLITK_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_splitk_f16_bf16(SPLITK_ARGS(__half, __nv_bfloat16)) { gemv_splitk_impl(SPLITK_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_splitk_bf16_f32(SPLITK_ARGS(__nv_bfloat16, float)) { gemv_splitk_impl(SPLITK_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_splitk_bf16_f16(SPLITK_ARGS(__nv_bfloat16, __half)) { gemv_splitk_impl(SPLITK_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_splitk_bf16_bf16(SPLITK_ARGS(__nv_bfloat16, __nv_bfloat16)) { gemv_splitk_impl(SPLITK_PASS); }

extern "C" __global__ void __launch_bounds__(kThreads) gemv_splitk_f16_q8_0(SPLITK_ARGS(__half, q8_0)) { gemv_splitk_impl(SPLITK_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_splitk_f16_q4_0(SPLITK_ARGS(__half, q4_0)) { gemv_splitk_impl(SPLITK_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_splitk_f16_q4_k(SPLITK_ARGS(__half, q4_k)) { gemv_splitk_impl(SPLITK_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_splitk_f16_q5_k(SPLITK_ARGS(__half, q5_k)) { gemv_splitk_impl(SPLITK_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_splitk_f16_q6_k(SPLITK_ARGS(__half, q6_k)) { gemv_splitk_impl(SPLITK_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_splitk_bf16_q8_0(SPLITK_ARGS(__nv_bfloat16, q8_0)) { gemv_splitk_impl(SPLITK_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_splitk_bf16_q4_0(SPLITK_ARGS(__nv_bfloat16, q4_0)) { gemv_splitk_impl(SPLITK_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_splitk_bf16_q4_k(SPLITK_ARGS(__nv_bfloat16, q4_k)) { gemv_splitk_impl(SPLITK_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_splitk_bf16_q5_k(SPLITK_ARGS(__nv_bfloat16, q5_k)) { gemv_splitk_impl(SPLITK_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_splitk_bf16_q6_k(SPLITK_ARGS(__nv_bfloat16, q6_k)) { gemv_splitk_impl(SPLITK_PASS); }

#define FINISH_ARGS(O) const float* ws, int splits, O* out, int outStride, int n, int outFeatures, int accumulate
#define FINISH_PASS ws, splits, out, outStride, n, outFeatures, accumulate

extern "C" __global__ void __launch_bounds__(kThreads) gemv_splitk_finish_f32(FINISH_ARGS(float)) { gemv_splitk_finish_impl(FINISH_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_splitk_finish_f16(FINISH_ARGS(__half)) { gemv_splitk_finish_impl(FINISH_PASS); }
extern "C" __global__ void __launch_bounds__(kThreads) gemv_splitk_finish_bf16(FINISH_ARGS(__nv_bfloat16)) { gemv_splitk_finish_impl(FINISH_PASS); }
