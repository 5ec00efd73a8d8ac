// paged_attention.cu — decode attention (one query token per sequence) over a paged KV cache, with the
// context optionally split over several CTAs (split-KV / flash-decoding) and a reduce kernel.
//
// Layouts (A = f16 | bf16 activations, C = f32 | f16 | bf16 cache, D = head dim, G = numHeads / numKvHeads):
//   q           [B, numHeads * D] A, row stride qStride elements (q may be a slice of a fused qkv row)
//   keyCache    [numBlocks, blockSize, numKvHeads, D] C; valueCache alike. Token t of sequence b lives in
//               block blockTables[b * maxBlocksPerSeq + t / blockSize] at offset t % blockSize: its row for
//               KV head h starts at element (block * blockSize + t % blockSize) * numKvHeads * D + h * D.
//               Only the table entries of the keys a CTA visits are read (tail entries may be garbage).
//   out         [B, numHeads * D] A (contiguous);  lse null or [B, numHeads] f32, natural log.
//   partialOut  [B, numHeads, splits, D] f32: each split's NORMALISED partial output (sum p v / sum p);
//   partialMaxSum [B, numHeads, splits, 2] f32: (m, l) with m = max of the split's scores in BASE-2 units
//               (score * scale * log2 e) and l = sum 2^(s - m). An empty split writes (-inf, 0) and a zero row.
//
// Visibility: query position i = ctx - 1 (ctx = contextLens[b]); key j < ctx is visible iff
// window == 0 || i - j < window, i.e. keys [first, ctx) with first = max(0, ctx - window) (causal hides
// nothing in decode: every cached key is at or before the query).
//
// Why CUDA cores and not tensor cores: decode reads every K/V byte once and does 4·G flops per 16-bit
// cache element pair; below G ≈ 8 that is under the fp32 FMA roofline of an H100/H200 (~20 flop/B), so
// the kernel is bandwidth bound with fp32 FMAs, f32 caches need no rounding to 16 bit, and the only
// thing that matters is streaming K/V with 16-byte requests that are always in flight.
//
// paged_attn_decode_<A>_<C>_hd<D>(const A* q, const C* keyCache, const C* valueCache, const int* blockTables,
//         int maxBlocksPerSeq, const int* contextLens, int blockSize, int numHeads, int numKvHeads, int qStride,
//         float scale, int causal, int window, int splits, int splitSize, A* out, float* lse,
//         float* partialOut, float* partialMaxSum)
//   CTA (h, b, split) serves ALL G query heads h*G .. h*G+G-1 of KV head h (GQA/MQA: the group's K/V bytes
//   are read from DRAM once), over keys [split*splitSize, min((split+1)*splitSize, ctx)) ∩ [first, ctx)
//   (splits == 1: all of [first, ctx), splitSize ignored; splits > 1 needs splits * splitSize >= max ctx). splits == 1 writes out/lse; splits > 1 writes
//   the partials above (out/lse untouched), to be combined by paged_attn_reduce_<A>.
//
//   Key tiles of kTile = 32 keys (= warp size), double buffered in shared memory by cp.async:
//
//     per stage:  K tile [32 keys][D] C, row pitch D*sizeof(C) + 16 B      V tile alike
//                 (an odd multiple of 16 B: 8 lanes reading 16 B down a column hit 8 distinct bank groups)
//     16-byte chunk c = tid + k*blockDim of the tile: key c / (D*sizeof(C)/16), part c % that, so consecutive
//     threads copy consecutive 16 B of one row (coalesced); a row's global offset comes from rows[] below.
//
//   iteration t (tile t in stage t&1):
//     wait own cp.async, __syncthreads                [tile t visible; everyone done with stage (t+1)&1]
//     issue cp.async of tile t+1 into stage (t+1)&1   [overlaps all the math below]
//     threads < 32: block-table lookup of tile t+2's keys -> rows[t&1] (its integer division and dependent
//                   global read stay off the copy path; used after two more barriers)
//     QK:  task (g, j) per thread (j = key, g = head): s = sum_d qs[g][d] * k[j][d] (fp32; q staged in smem
//          as fp32 pre-scaled by scale*log2 e, read as broadcast float4), -> S[g][j]  (no barrier: the
//          thread that writes S[g][j] is the one that reads it next, see the loop)
//     softmax: warp w takes heads w, w + warps, ...; lane = key: tile max (shuffles), m' = max(m, tile max),
//          p = 2^(s - m'), alpha = 2^(m - m'), l = l*alpha + sum p  -> P[g][j] (in place of S) __syncthreads
//     PV:  task (g, dim pair) per thread, fixed for the whole kernel: O[g][2k..2k+1] = alpha*O + sum_j P v
//          (O accumulates in smem fp32, each element owned by one thread, so it needs no barrier)
//   Keys past the range are neither copied nor read (loops stop at the tile's valid count).
//   epilogue (__syncthreads): out = O / l rounded to A (0 when l == 0), lse = (m + log2 l) * ln 2 (-inf when
//   l == 0); or the partial row O / l and (m, l).
//
//   Dynamic shared memory, all offsets multiples of 16 B (DecodeSplits.smemBytes computes the same):
//     4 * 32 * (D*sizeof(C) + 16)      K stage 0, K stage 1, V stage 0, V stage 1
//   + 2 * 32 * 8                       rows[2][32]: element offset of each key's row (-1: outside the range)
//   + 2 * G * D * 4                    qs[G][D], O[G][D]
//   + roundup16(G * 33 * 4)            S/P[G][33] (pitch 33: heads of one warp fall in different banks)
//   + roundup16(3 * G * 4)             m[G], l[G], alpha[G]
//   e.g. G = 8, D = 256: 151,168 B for f32 caches (fits sm_80's 163 KB and sm_90's 227 KB), 85,632 B for
//   16-bit ones; G = 1, D = 128, bf16: 36,512 B.
//   LAUNCH: grid = (numKvHeads, B, splits), block = (32 * min(G, 8), 1, 1) (any multiple of 32 works:
//   QK and PV tasks stride by blockDim), dynamic smem as above (opt in above 48 KB), no workspace beyond
//   partialOut / partialMaxSum (B * numHeads * splits * (D + 2) floats, only when splits > 1).
//
// paged_attn_reduce_<A>(const float* partialOut, const float* partialMaxSum, const int* contextLens,
//         int numHeads, int headDim, int splits, int splitSize, A* out, float* lse)
//   CTA (hq, b): the splits that can hold keys (s < ceil(ctx / splitSize)) are combined in split order
//   (deterministic: every thread sums the same weights in the same order): M = max m_s,
//   w_s = l_s * 2^(m_s - M) (smem), out[d] = sum_s w_s O_s[d] / sum_s w_s, lse = (M + log2 sum w) * ln 2;
//   ctx == 0 (or no weight) gives a zero row and lse -inf. Thread t handles dims t, t + 128, ...
//   LAUNCH: grid = (numHeads, B, 1), block = (128, 1, 1), dynamic smem = splits * 4 bytes, no workspace.
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <stdint.h>
#include <string.h>

#include "attnrt_mma.cuh"
#include "attnrt_elem.cuh"

namespace {

constexpr unsigned kFull = 0xffffffffu;
constexpr int kTile = 32;           // keys per tile: one lane per key in the softmax step
constexpr int kSPitch = kTile + 1;  // floats per S/P row
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

__device__ __forceinline__ float neg_inf() { return __int_as_float(0xff800000); }

// Two consecutive elements (one 4- or 8-byte read); p aligned to the pair.
template <typename T> __device__ __forceinline__ float2 load2(const T* p) {
    if constexpr (sizeof(T) == 4) {
        return *reinterpret_cast<const float2*>(p);
    } else {
        const uint32_t raw = *reinterpret_cast<const uint32_t*>(p);
        T e[2];
        memcpy(static_cast<void*>(e), &raw, 4);
        return make_float2(to_f(e[0]), to_f(e[1]));
    }
}

template <typename T> __device__ __forceinline__ void store2(T* p, float a, float b) {
    T e[2] = {from_f<T>(a), from_f<T>(b)};
    uint32_t raw;
    memcpy(&raw, static_cast<const void*>(e), 4);
    *reinterpret_cast<uint32_t*>(p) = raw;
}

__device__ __forceinline__ float warp_max(float v) {
    ATTNRT_UNROLL
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(kFull, v, o));
    return v;
}
__device__ __forceinline__ float warp_sum(float v) {
    ATTNRT_UNROLL
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFull, v, o);
    return v;
}

__device__ __forceinline__ int round16(int bytes) { return (bytes + 15) & ~15; }

template <typename A, typename C, int D>
__device__ __forceinline__ void paged_decode_impl(const A* q, const C* keyCache, const C* valueCache,
                                                  const int* blockTables, int maxBlocksPerSeq,
                                                  const int* contextLens, int blockSize, int numHeads,
                                                  int numKvHeads, int qStride, float scale, int window,
                                                  int splits, int splitSize, A* out, float* lse,
                                                  float* partialOut, float* partialMaxSum) {
    static_assert(D % 8 == 0, "rows are copied and read in 8-element chunks");
    constexpr int kRowBytes = D * static_cast<int>(sizeof(C));
    constexpr int kPitch = kRowBytes + 16;
    constexpr int kChunks = kRowBytes / 16;
    constexpr int kStage = kTile * kPitch;
    constexpr int kPairs = D / 2;

    const int h = blockIdx.x;
    const int b = blockIdx.y;
    const int split = blockIdx.z;
    const int G = numHeads / numKvHeads;
    const int tid = threadIdx.x;
    const int nt = blockDim.x;
    const int warp = tid / 32;
    const int lane = tid % 32;
    const int warps = nt / 32;

    extern __shared__ __align__(16) unsigned char smem[];
    unsigned char* const kvs = smem;  // K0, K1, V0, V1
    long long* const rows = reinterpret_cast<long long*>(smem + 4 * kStage);
    float* const qs = reinterpret_cast<float*>(smem + 4 * kStage + 2 * kTile * 8);
    float* const os = qs + G * D;
    float* const ss = os + G * D;
    float* const mrow = reinterpret_cast<float*>(reinterpret_cast<unsigned char*>(ss) + round16(G * kSPitch * 4));
    float* const lrow = mrow + G;
    float* const arow = lrow + G;

    const int ctx = contextLens[b];
    const int first = window > 0 ? max(0, ctx - window) : 0;
    int kb = 0;
    int ke = ctx;
    if (splits > 1) {
        const long long lo = (long long)split * splitSize;
        kb = (int)min(lo, (long long)ctx);
        ke = (int)min(lo + splitSize, (long long)ctx);
    }
    kb = max(kb, first);
    const int n = max(0, ke - kb);
    const int tiles = (n + kTile - 1) / kTile;
    const long long kvWidth = (long long)numKvHeads * D;
    const int* const table = blockTables + (long long)b * maxBlocksPerSeq;
    const int hq0 = h * G;

    // Element offset of each key row of tile t (its own KV head's slice), -1 outside the range.
    auto lookup_rows = [&](int t, long long* dst) {
        if (tid < kTile) {
            const int key = kb + t * kTile + tid;
            long long row = -1;
            if (t < tiles && key < ke) {
                row = ((long long)table[key / blockSize] * blockSize + key % blockSize) * kvWidth + (long long)h * D;
            }
            dst[tid] = row;
        }
    };
    auto issue = [&](int t) {
        const long long* r = rows + (t & 1) * kTile;
        unsigned char* kd = kvs + (t & 1) * kStage;
        unsigned char* vd = kvs + (2 + (t & 1)) * kStage;
        for (int c = tid; c < kTile * kChunks; c += nt) {
            const int j = c / kChunks;
            const int part = c % kChunks;
            const long long row = r[j];
            if (row >= 0) {
                attnrt_cp_async_cg16(kd + j * kPitch + part * 16,
                                     reinterpret_cast<const unsigned char*>(keyCache + row) + part * 16);
                attnrt_cp_async_cg16(vd + j * kPitch + part * 16,
                                     reinterpret_cast<const unsigned char*>(valueCache + row) + part * 16);
            }
        }
        attnrt_cp_async_commit();
    };

    lookup_rows(0, rows);
    lookup_rows(1, rows + kTile);
    const float qScale = scale * kLog2e;
    for (int i = tid; i < G * D; i += nt) {
        const int g = i / D;
        const int d = i % D;
        qs[i] = to_f(q[(long long)b * qStride + (long long)(hq0 + g) * D + d]) * qScale;
        os[i] = 0.f;
    }
    for (int g = tid; g < G; g += nt) {
        mrow[g] = neg_inf();
        lrow[g] = 0.f;
    }
    __syncthreads();
    if (tiles > 0) issue(0);

    for (int t = 0; t < tiles; ++t) {
        attnrt_cp_async_wait_all();
        __syncthreads();
        if (t + 1 < tiles) issue(t + 1);
        lookup_rows(t + 2, rows + (t & 1) * kTile);

        const unsigned char* kt = kvs + (t & 1) * kStage;
        const unsigned char* vt = kvs + (2 + (t & 1)) * kStage;
        const int valid = min(kTile, n - t * kTile);

        for (int i = tid; i < G * kTile; i += nt) {
            const int g = i / kTile;
            const int j = i % kTile;
            if (j >= valid) continue;
            const float* qg = qs + g * D;
            const C* kr = reinterpret_cast<const C*>(kt + j * kPitch);
            float acc0 = 0.f, acc1 = 0.f;  // two chains: FMA latency, not a longer dependency
            ATTNRT_UNROLL
            for (int d = 0; d < D; d += 8) {
                float kf[8];
                load8(kr + d, kf);
                const float4 q0 = *reinterpret_cast<const float4*>(qg + d);
                const float4 q1 = *reinterpret_cast<const float4*>(qg + d + 4);
                acc0 = fmaf(q0.x, kf[0], acc0);
                acc1 = fmaf(q0.y, kf[1], acc1);
                acc0 = fmaf(q0.z, kf[2], acc0);
                acc1 = fmaf(q0.w, kf[3], acc1);
                acc0 = fmaf(q1.x, kf[4], acc0);
                acc1 = fmaf(q1.y, kf[5], acc1);
                acc0 = fmaf(q1.z, kf[6], acc0);
                acc1 = fmaf(q1.w, kf[7], acc1);
            }
            ss[g * kSPitch + j] = acc0 + acc1;
        }
        // No barrier: with blockDim % 32 == 0 and kTile == 32, score (g, j) = task tid + k*blockDim is
        // (warp + k*warps, lane), exactly the (head, lane) that reads it in the softmax loop below.

        for (int g = warp; g < G; g += warps) {
            const float s = lane < valid ? ss[g * kSPitch + lane] : neg_inf();
            const float mOld = mrow[g];
            const float lOld = lrow[g];
            const float mNew = fmaxf(mOld, warp_max(s));  // finite: valid >= 1
            const float p = lane < valid ? exp2f(s - mNew) : 0.f;
            ss[g * kSPitch + lane] = p;
            const float sum = warp_sum(p);
            __syncwarp();  // every lane has read m, l before lane 0 replaces them
            if (lane == 0) {
                const float alpha = exp2f(mOld - mNew);  // 0 on the first tile (mOld = -inf)
                mrow[g] = mNew;
                lrow[g] = lOld * alpha + sum;
                arow[g] = alpha;
            }
        }
        __syncthreads();

        for (int i = tid; i < G * kPairs; i += nt) {
            const int g = i / kPairs;
            const int pr = i % kPairs;
            const float* pg = ss + g * kSPitch;
            const C* vc = reinterpret_cast<const C*>(vt) + 2 * pr;
            float a0 = 0.f, a1 = 0.f;
            for (int j = 0; j < valid; ++j) {
                const float2 v = load2(reinterpret_cast<const C*>(reinterpret_cast<const unsigned char*>(vc) + j * kPitch));
                const float p = pg[j];
                a0 = fmaf(p, v.x, a0);
                a1 = fmaf(p, v.y, a1);
            }
            const float alpha = arow[g];
            float2* o = reinterpret_cast<float2*>(os + g * D + 2 * pr);
            float2 acc = *o;
            acc.x = fmaf(acc.x, alpha, a0);
            acc.y = fmaf(acc.y, alpha, a1);
            *o = acc;
        }
    }
    __syncthreads();

    if (splits == 1) {
        A* const orow = out + (long long)b * numHeads * D + (long long)hq0 * D;
        for (int i = tid; i < G * kPairs; i += nt) {
            const int g = i / kPairs;
            const int pr = i % kPairs;
            const float l = lrow[g];
            const float inv = l > 0.f ? 1.f / l : 0.f;
            store2(orow + g * D + 2 * pr, os[g * D + 2 * pr] * inv, os[g * D + 2 * pr + 1] * inv);
        }
        if (lse != nullptr) {
            for (int g = tid; g < G; g += nt) {
                const float l = lrow[g];
                lse[(long long)b * numHeads + hq0 + g] = l > 0.f ? (mrow[g] + log2f(l)) * kLn2 : neg_inf();
            }
        }
    } else {
        for (int i = tid; i < G * (D / 4); i += nt) {
            const int g = i / (D / 4);
            const int c = i % (D / 4);
            const float l = lrow[g];
            const float inv = l > 0.f ? 1.f / l : 0.f;
            const long long r = ((long long)b * numHeads + hq0 + g) * splits + split;
            const float4 o = *reinterpret_cast<const float4*>(os + g * D + 4 * c);
            *reinterpret_cast<float4*>(partialOut + r * D + 4 * c) = make_float4(o.x * inv, o.y * inv, o.z * inv, o.w * inv);
        }
        for (int g = tid; g < G; g += nt) {
            const long long r = ((long long)b * numHeads + hq0 + g) * splits + split;
            partialMaxSum[2 * r] = mrow[g];
            partialMaxSum[2 * r + 1] = lrow[g];
        }
    }
}

template <typename A>
__device__ __forceinline__ void paged_reduce_impl(const float* partialOut, const float* partialMaxSum,
                                                  const int* contextLens, int numHeads, int headDim, int splits,
                                                  int splitSize, A* out, float* lse) {
    extern __shared__ __align__(16) unsigned char smem[];
    float* const w = reinterpret_cast<float*>(smem);
    const int hq = blockIdx.x;
    const int b = blockIdx.y;
    const int ctx = contextLens[b];
    const int used = ctx <= 0 ? 0 : min(splits, (ctx - 1) / splitSize + 1);
    const long long r0 = ((long long)b * numHeads + hq) * splits;

    float m = neg_inf();
    for (int s = 0; s < used; ++s) m = fmaxf(m, partialMaxSum[2 * (r0 + s)]);
    for (int s = threadIdx.x; s < used; s += blockDim.x) {
        const float l = partialMaxSum[2 * (r0 + s) + 1];
        w[s] = l > 0.f ? l * exp2f(partialMaxSum[2 * (r0 + s)] - m) : 0.f;
    }
    __syncthreads();
    float total = 0.f;
    for (int s = 0; s < used; ++s) total += w[s];
    const float inv = total > 0.f ? 1.f / total : 0.f;

    A* const orow = out + ((long long)b * numHeads + hq) * headDim;
    for (int d = threadIdx.x; d < headDim; d += blockDim.x) {
        float acc = 0.f;
        for (int s = 0; s < used; ++s) {
            if (w[s] > 0.f) acc = fmaf(w[s], partialOut[(r0 + s) * headDim + d], acc);
        }
        orow[d] = from_f<A>(acc * inv);
    }
    if (lse != nullptr && threadIdx.x == 0) {
        lse[(long long)b * numHeads + hq] = total > 0.f ? (m + log2f(total)) * kLn2 : neg_inf();
    }
}

}  // namespace

// One line per kernel (the emulator build registers kernels by the names it finds in the source).
#define PAGED_DECODE_PARAMS(A, C)                                                                          \
    const A *q, const C *keyCache, const C *valueCache, const int *blockTables, int maxBlocksPerSeq,       \
        const int *contextLens, int blockSize, int numHeads, int numKvHeads, int qStride, float scale,     \
        int causal, int window, int splits, int splitSize, A *out, float *lse, float *partialOut,           \
        float *partialMaxSum
#define PAGED_DECODE(A, C, D)                                                                              \
    paged_decode_impl<A, C, D>(q, keyCache, valueCache, blockTables, maxBlocksPerSeq, contextLens,          \
                               blockSize, numHeads, numKvHeads, qStride, scale, window, splits, splitSize, \
                               out, lse, partialOut, partialMaxSum)
#define PAGED_REDUCE_PARAMS(A)                                                                             \
    const float *partialOut, const float *partialMaxSum, const int *contextLens, int numHeads, int headDim, \
        int splits, int splitSize, A *out, float *lse
#define PAGED_REDUCE(A) \
    paged_reduce_impl<A>(partialOut, partialMaxSum, contextLens, numHeads, headDim, splits, splitSize, out, lse)

extern "C" __global__ void __launch_bounds__(256) paged_attn_decode_f16_f32_hd64(PAGED_DECODE_PARAMS(__half, float)) { PAGED_DECODE(__half, float, 64); }
extern "C" __global__ void __launch_bounds__(256) paged_attn_decode_f16_f32_hd80(PAGED_DECODE_PARAMS(__half, float)) { PAGED_DECODE(__half, float, 80); }
extern "C" __global__ void __launch_bounds__(256) paged_attn_decode_f16_f32_hd96(PAGED_DECODE_PARAMS(__half, float)) { PAGED_DECODE(__half, float, 96); }
extern "C" __global__ void __launch_bounds__(256) paged_attn_decode_f16_f32_hd128(PAGED_DECODE_PARAMS(__half, float)) { PAGED_DECODE(__half, float, 128); }
extern "C" __global__ void __launch_bounds__(256) paged_attn_decode_f16_f32_hd256(PAGED_DECODE_PARAMS(__half, float)) { PAGED_DECODE(__half, float, 256); }
extern "C" __global__ void __launch_bounds__(256) paged_attn_decode_f16_f16_hd64(PAGED_DECODE_PARAMS(__half, __half)) { PAGED_DECODE(__half, __half, 64); }
extern "C" __global__ void __launch_bounds__(256) paged_attn_decode_f16_f16_hd80(PAGED_DECODE_PARAMS(__half, __half)) { PAGED_DECODE(__half, __half, 80); }
extern "C" __global__ void __launch_bounds__(256) paged_attn_decode_f16_f16_hd96(PAGED_DECODE_PARAMS(__half, __half)) { PAGED_DECODE(__half, __half, 96); }
extern "C" __global__ void __launch_bounds__(256) paged_attn_decode_f16_f16_hd128(PAGED_DECODE_PARAMS(__half, __half)) { PAGED_DECODE(__half, __half, 128); }
extern "C" __global__ void __launch_bounds__(256) paged_attn_decode_f16_f16_hd256(PAGED_DECODE_PARAMS(__half, __half)) { PAGED_DECODE(__half, __half, 256); }
extern "C" __global__ void __launch_bounds__(256) paged_attn_decode_f16_bf16_hd64(PAGED_DECODE_PARAMS(__half, __nv_bfloat16)) { PAGED_DECODE(__half, __nv_bfloat16, 64); }
extern "C" __global__ void __launch_bounds__(256) paged_attn_decode_f16_bf16_hd80(PAGED_DECODE_PARAMS(__half, __nv_bfloat16)) { PAGED_DECODE(__half, __nv_bfloat16, 80); }
extern "C" __global__ void __launch_bounds__(256) paged_attn_decode_f16_bf16_hd96(PAGED_DECODE_PARAMS(__half, __nv_bfloat16)) { PAGED_DECODE(__half, __nv_bfloat16, 96); }
extern "C" __global__ void __launch_bounds__(256) paged_attn_decode_f16_bf16_hd128(PAGED_DECODE_PARAMS(__half, __nv_bfloat16)) { PAGED_DECODE(__half, __nv_bfloat16, 128); }
extern "C" __global__ void __launch_bounds__(256) paged_attn_decode_f16_bf16_hd256(PAGED_DECODE_PARAMS(__half, __nv_bfloat16)) { PAGED_DECODE(__half, __nv_bfloat16, 256); }
extern "C" __global__ void __launch_bounds__(256) paged_attn_decode_bf16_f32_hd64(PAGED_DECODE_PARAMS(__nv_bfloat16, float)) { PAGED_DECODE(__nv_bfloat16, float, 64); }
extern "C" __global__ void __launch_bounds__(256) paged_attn_decode_bf16_f32_hd80(PAGED_DECODE_PARAMS(__nv_bfloat16, float)) { PAGED_DECODE(__nv_bfloat16, float, 80); }
extern "C" __global__ void __launch_bounds__(256) paged_attn_decode_bf16_f32_hd96(PAGED_DECODE_PARAMS(__nv_bfloat16, float)) { PAGED_DECODE(__nv_bfloat16, float, 96); }
extern "C" __global__ void __launch_bounds__(256) paged_attn_decode_bf16_f32_hd128(PAGED_DECODE_PARAMS(__nv_bfloat16, float)) { PAGED_DECODE(__nv_bfloat16, float, 128); }
extern "C" __global__ void __launch_bounds__(256) paged_attn_decode_bf16_f32_hd256(PAGED_DECODE_PARAMS(__nv_bfloat16, float)) { PAGED_DECODE(__nv_bfloat16, float, 256); }
extern "C" __global__ void __launch_bounds__(256) paged_attn_decode_bf16_f16_hd64(PAGED_DECODE_PARAMS(__nv_bfloat16, __half)) { PAGED_DECODE(__nv_bfloat16, __half, 64); }
extern "C" __global__ void __launch_bounds__(256) paged_attn_decode_bf16_f16_hd80(PAGED_DECODE_PARAMS(__nv_bfloat16, __half)) { PAGED_DECODE(__nv_bfloat16, __half, 80); }
extern "C" __global__ void __launch_bounds__(256) paged_attn_decode_bf16_f16_hd96(PAGED_DECODE_PARAMS(__nv_bfloat16, __half)) { PAGED_DECODE(__nv_bfloat16, __half, 96); }
extern "C" __global__ void __launch_bounds__(256) paged_attn_decode_bf16_f16_hd128(PAGED_DECODE_PARAMS(__nv_bfloat16, __half)) { PAGED_DECODE(__nv_bfloat16, __half, 128); }
extern "C" __global__ void __launch_bounds__(256) paged_attn_decode_bf16_f16_hd256(PAGED_DECODE_PARAMS(__nv_bfloat16, __half)) { PAGED_DECODE(__nv_bfloat16, __half, 256); }
extern "C" __global__ void __launch_bounds__(256) paged_attn_decode_bf16_bf16_hd64(PAGED_DECODE_PARAMS(__nv_bfloat16, __nv_bfloat16)) { PAGED_DECODE(__nv_bfloat16, __nv_bfloat16, 64); }
extern "C" __global__ void __launch_bounds__(256) paged_attn_decode_bf16_bf16_hd80(PAGED_DECODE_PARAMS(__nv_bfloat16, __nv_bfloat16)) { PAGED_DECODE(__nv_bfloat16, __nv_bfloat16, 80); }
extern "C" __global__ void __launch_bounds__(256) paged_attn_decode_bf16_bf16_hd96(PAGED_DECODE_PARAMS(__nv_bfloat16, __nv_bfloat16)) { PAGED_DECODE(__nv_bfloat16, __nv_bfloat16, 96); }
extern "C" __global__ void __launch_bounds__(256) paged_attn_decode_bf16_bf16_hd128(PAGED_DECODE_PARAMS(__nv_bfloat16, __nv_bfloat16)) { PAGED_DECODE(__nv_bfloat16, __nv_bfloat16, 128); }
extern "C" __global__ void __launch_bounds__(256) paged_attn_decode_bf16_bf16_hd256(PAGED_DECODE_PARAMS(__nv_bfloat16, __nv_bfloat16)) { PAGED_DECODE(__nv_bfloat16, __nv_bfloat16, 256); }

extern "C" __global__ void __launch_bounds__(128) paged_attn_reduce_f16(PAGED_REDUCE_PARAMS(__half)) { PAGED_REDUCE(__half); }
extern "C" __global__ void __launch_bounds__(128) paged_attn_reduce_bf16(PAGED_REDUCE_PARAMS(__nv_bfloat16)) { PAGED_REDUCE(__nv_bfloat16); }
