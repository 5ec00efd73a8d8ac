// flash_attention.cu — causal / bidirectional / sliding-window attention over a ragged batch (prefill),
// FlashAttention-2 style: one CTA per (64-query block, query head, sequence), K/V streamed through shared
// memory once per CTA, softmax kept online in fp32, all matrix products on tensor cores (mma m16n8k16).
//
// Layout (A = f16 | bf16, D = head dim ∈ {64, 80, 96, 128, 256}):
//   sequence s owns token rows [seqStarts[s], seqStarts[s+1]); position i of s is row seqStarts[s] + i.
//   q   [T, numHeads·D]   row stride qStride    head h at columns [h·D, h·D + D)
//   k,v [T, numKvHeads·D] row stride kvStride   query head h reads KV head h / (numHeads / numKvHeads)
//   out [T, numHeads·D]   row stride outStride  only the D columns of each (row, head) are written
//   lse null or [T, numHeads] f32 (contiguous): ln Σ_j exp(scale · q_i·k_j) over the visible keys j.
//   Key j is visible to query i iff (!causal || j <= i) && (window == 0 || i - j < window); j = i always
//   is, so every real query row has a non-empty softmax.
//   HOST CONTRACT: qStride, kvStride, outStride % 8 == 0 and q, k, v, out 16-byte aligned, so every
//   (row, head) slice starts on 16 bytes (D % 8 == 0): all global traffic is 16-byte vectors / cp.async.
//   q/k/v may be column slices of one fused qkv buffer (strides wider than the widths); out may not
//   alias q, k or v.
//
// Tiling of one CTA (4 warps, BLOCK_M = 64 query rows, BLOCK_N = 64 keys per tile, 32 for D = 256):
//
//         keys →  tile tBegin ........................ tile tEnd-1
//   rows  warp 0 [16 x D] Q frags │ S = Q·Kᵀ [16 x BN] fp32 → online softmax → P (A) → O += P·V [16 x D] fp32
//    ↓    warp 1 [16 x D]         │  (each warp owns 16 query rows end to end: no cross-warp reduction)
//         warp 2 [16 x D]         │
//         warp 3 [16 x D]         │
//
//   Key tiles outside the visible band are never loaded: causal stops at the tile holding key m0+63,
//   a window starts at the tile holding key m0 - window + 1. Only tiles on an edge (sequence end,
//   diagonal, window's lower edge; decided per warp) pay for the element mask; a warp whose 16 rows
//   see nothing of a tile skips its mma work for that tile (it still takes part in loads and barriers).
//   Causal CTAs run in reverse block order (the longest rows first) to shorten the tail of the grid.
//
// Shared memory (dynamic, A elements, row pitch P = D + 8: the 16-byte pad makes the 8 row addresses
// of every ldmatrix fall into distinct bank groups for all five D):
//   [K0 | V0 | K1 | V1]  each BLOCK_N x P  — two stages, cp.async double buffering: tile t+1 is in flight
//                                            while tile t is computed.
//   Q [64 x P]: D <= 128: staged in stage 1 (K1|V1, ≥ 64 rows) and moved to registers before the first
//               prefetch overwrites it; D = 256: kept in its own region after V1 and re-read through
//               ldmatrix each k-step (64 more registers of Q fragments would spill next to the
//               128-register O accumulator).
//   Output: after the last tile, O/l is rounded to A into stage 0 and written back with 16-byte stores.
//   bytes = 2·(4·BLOCK_N·P + (D == 256 ? 64·P : 0)):
//     D=64: 36864, D=80: 45056, D=96: 53248, D=128: 69632, D=256: 101376 (above 48 KB: the host opts in).
//
// Fragments (see attnrt_mma.cuh): Q rows via ldmatrix.x4; K stored n-major → ldmatrix.x4 gives the B
// fragments of two 8-key n-tiles; S accumulators are re-packed in registers into the A fragments of P
// (C layout of tiles 2kk, 2kk+1 == A layout of k-step kk); V stored k-major → ldmatrix.x4.trans.
// Softmax: running max m (raw score units) and per-thread partial row sums l, quad-reduced at the end;
// p = exp2(s·scale·log2e − m·scale·log2e) with one FMA; a row that has seen only masked keys uses base 0
// so exp2(−inf − (−inf)) never makes a NaN. P is rounded to A before P·V while l sums the fp32 p.
// Finally out = O / l and lse = (m·scale·log2e + log2 l)·ln 2.
//
// Kernels:
//   flash_attn_prefill_<A>_hd<D>(const A* q, const A* k, const A* v, A* out, float* lse,
//                                const int* seqStarts, int seqs, int numHeads, int numKvHeads,
//                                int qStride, int kvStride, int outStride, int causal, int window,
//                                float scale)
//       A ∈ {f16, bf16}, D ∈ {64, 80, 96, 128, 256}; numKvHeads divides numHeads; window 0 = unlimited;
//       lse may be null. CTAs whose 64-row block starts past their sequence's length exit at once.
//   LAUNCH: grid = (ceil(maxLen / 64), numHeads, seqs) (maxLen = longest sequence, > 0; seqs <= 65535),
//           block = (128, 1, 1), dynamic smem = the bytes above (FlashConfig), no workspace.
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <math_constants.h>
#include <stdint.h>

#include "attnrt_mma.cuh"
#include "attnrt_elem.cuh"

namespace {

constexpr int kBlockM = 64;
constexpr int kWarps = 4;
constexpr int kThreads = 32 * kWarps;
constexpr unsigned kFull = 0xffffffffu;
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

// The per-type halves of the template: tensor-core product, packing two fp32 into one A register, rounding.
template <typename A> struct Elem;
template <> struct Elem<__half> {
    static __device__ __forceinline__ void mma(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
        attnrt_mma_m16n8k16_f16(d, a, b, d);
    }
    static __device__ __forceinline__ uint32_t pack(float lo, float hi) {
        return attnrt_pack_half2(__float2half_rn(lo), __float2half_rn(hi));
    }
};
template <> struct Elem<__nv_bfloat16> {
    static __device__ __forceinline__ void mma(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
        attnrt_mma_m16n8k16_bf16(d, a, b, d);
    }
    static __device__ __forceinline__ uint32_t pack(float lo, float hi) {
        return attnrt_pack_bf162(__float2bfloat16_rn(lo), __float2bfloat16_rn(hi));
    }
};

template <int D> struct Shape {
    static constexpr int kBlockN = D == 256 ? 32 : 64;
    static constexpr bool kQInRegs = D <= 128;
    static constexpr int kPitch = D + 8;        // elements per smem row
    static constexpr int kChunks = D / 8;       // 16-byte chunks per row
    static constexpr int kStage = 2 * kBlockN * kPitch;
    static_assert(D % 16 == 0 && (D / 8) % 2 == 0, "k-steps of 16 and n-tile pairs of 8 need D % 16 == 0");
    static_assert(!kQInRegs || 2 * kBlockN >= kBlockM, "Q is staged in stage 1");
    static_assert(2 * kBlockN >= kBlockM, "the output is staged in stage 0");
};

// ROWS x D elements from global (row stride `stride`, 16-byte aligned rows) into smem (pitch D + 8), one
// cp.async per 16-byte chunk, consecutive threads on consecutive chunks of a row. Rows >= valid are
// zero-filled without reading (the source address is then the tile's first row, always a real row):
// zero keys only meet masked scores, and zero values keep 0·v from turning into 0·NaN.
template <typename A, int D, int ROWS>
__device__ __forceinline__ void load_tile(A* dst, const A* src, int stride, int valid) {
    constexpr int kChunks = D / 8;
    static_assert((ROWS * kChunks) % kThreads == 0, "every thread copies the same number of chunks");
ATTNRT_UNROLL
    for (int i = 0; i < ROWS * kChunks / kThreads; ++i) {
        const int idx = threadIdx.x + i * kThreads;
        const int r = idx / kChunks, c = idx % kChunks;
        const bool ok = r < valid;
        attnrt_cp_async_cg16_zfill(dst + r * (D + 8) + c * 8, src + (ok ? r * stride + c * 8 : 0), ok ? 16u : 0u);
    }
}

template <typename A, int D>
__device__ __forceinline__ void flash_prefill(const A* __restrict__ q, const A* __restrict__ k,
                                              const A* __restrict__ v, A* __restrict__ out,
                                              float* __restrict__ lse, const int* __restrict__ seqStarts, int seqs,
                                              int numHeads, int numKvHeads, int qStride, int kvStride,
                                              int outStride, int causal, int window, float scale) {
    using S = Shape<D>;
    constexpr int BN = S::kBlockN, P = S::kPitch;
    extern __shared__ __align__(16) unsigned char flash_smem[];
    A* const smem = reinterpret_cast<A*>(flash_smem);

    const int seq = blockIdx.z, head = blockIdx.y;
    if (seq >= seqs) return;
    const int start = seqStarts[seq];
    const int len = seqStarts[seq + 1] - start;
    const int mBlock = causal ? (int)gridDim.x - 1 - (int)blockIdx.x : (int)blockIdx.x;
    const int m0 = mBlock * kBlockM;
    if (m0 >= len) return;

    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int g = lane >> 2, tig = lane & 3;
    const int kvHead = head / (numHeads / numKvHeads);
    const A* const qBase = q + (long long)(start + m0) * qStride + head * D;
    const A* const kBase = k + (long long)start * kvStride + kvHead * D;
    const A* const vBase = v + (long long)start * kvStride + kvHead * D;

    // Key tiles that hold at least one key visible to some row of the block.
    const int kvEnd = causal ? min(len, m0 + kBlockM) : len;
    const int kvBegin = window > 0 ? max(0, m0 - window + 1) : 0;
    const int tBegin = kvBegin / BN, tEnd = (kvEnd + BN - 1) / BN;

    A* const sQ = smem + (S::kQInRegs ? S::kStage : 2 * S::kStage);
    load_tile<A, D, kBlockM>(sQ, qBase, qStride, len - m0);
    {
        const int n0 = tBegin * BN;
        load_tile<A, D, BN>(smem, kBase + (long long)n0 * kvStride, kvStride, len - n0);
        load_tile<A, D, BN>(smem + BN * P, vBase + (long long)n0 * kvStride, kvStride, len - n0);
    }
    attnrt_cp_async_commit();
    attnrt_cp_async_wait_group<0>();
    __syncthreads();

    // Rows of this warp: wr0 + g (fragment elements 0, 1) and wr0 + g + 8 (elements 2, 3).
    const int wr0 = m0 + warp * 16;
    const A* const qRow = sQ + (warp * 16 + (lane & 15)) * P + 8 * (lane >> 4);
    uint32_t qf[S::kQInRegs ? D / 16 : 1][4];
    if (S::kQInRegs) {
ATTNRT_UNROLL
        for (int kk = 0; kk < D / 16; ++kk) attnrt_ldmatrix_x4(qf[S::kQInRegs ? kk : 0], qRow + kk * 16);
    }

    float o[D / 8][4];
ATTNRT_UNROLL
    for (int dn = 0; dn < D / 8; ++dn) o[dn][0] = o[dn][1] = o[dn][2] = o[dn][3] = 0.0f;
    float rowMax[2] = {-CUDART_INF_F, -CUDART_INF_F};
    float rowSum[2] = {0.0f, 0.0f};
    const float sl2 = scale * kLog2e;

    for (int t = tBegin; t < tEnd; ++t) {
        const int stage = (t - tBegin) & 1;
        const A* const sK = smem + stage * S::kStage;
        const A* const sV = sK + BN * P;
        // Tile t has landed (it was issued one iteration ago) and every warp is done with tile t-1 (and
        // with the Q staging on the first pass), so the other stage may be overwritten.
        attnrt_cp_async_wait_group<0>();
        __syncthreads();
        if (t + 1 < tEnd) {
            A* const nK = smem + (stage ^ 1) * S::kStage;
            const int n1 = (t + 1) * BN;
            load_tile<A, D, BN>(nK, kBase + (long long)n1 * kvStride, kvStride, len - n1);
            load_tile<A, D, BN>(nK + BN * P, vBase + (long long)n1 * kvStride, kvStride, len - n1);
        }
        attnrt_cp_async_commit();

        const int n0 = t * BN;
        const bool skip = wr0 >= len || (causal && n0 > wr0 + 15) || (window > 0 && wr0 - (n0 + BN - 1) >= window);
        if (skip) continue;  // warp-uniform: no collective is split
        const bool needMask = n0 + BN > len || (causal && n0 + BN - 1 > wr0) || (window > 0 && wr0 + 15 - n0 >= window);

        // S = Q · Kᵀ for this warp's 16 rows and the tile's BN keys.
        float s[BN / 8][4];
ATTNRT_UNROLL
        for (int j = 0; j < BN / 8; ++j) s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.0f;
        const A* const kRow = sK + (8 * (lane >> 4) + (lane & 7)) * P + 8 * ((lane >> 3) & 1);
ATTNRT_UNROLL
        for (int kk = 0; kk < D / 16; ++kk) {
            uint32_t a[4];
            if (S::kQInRegs) {
ATTNRT_UNROLL
                for (int r = 0; r < 4; ++r) a[r] = qf[S::kQInRegs ? kk : 0][r];
            } else {
                attnrt_ldmatrix_x4(a, qRow + kk * 16);
            }
ATTNRT_UNROLL
            for (int j = 0; j < BN / 8; j += 2) {
                uint32_t b[4];
                attnrt_ldmatrix_x4(b, kRow + j * 8 * P + kk * 16);
                const uint32_t b0[2] = {b[0], b[1]}, b1[2] = {b[2], b[3]};
                Elem<A>::mma(s[j], a, b0);
                Elem<A>::mma(s[j + 1], a, b1);
            }
        }

        if (needMask) {
ATTNRT_UNROLL
            for (int j = 0; j < BN / 8; ++j) {
ATTNRT_UNROLL
                for (int e = 0; e < 4; ++e) {
                    const int row = wr0 + g + 8 * (e >> 1);
                    const int col = n0 + 8 * j + 2 * tig + (e & 1);
                    const bool visible = col < len && (!causal || col <= row) && (window == 0 || row - col < window);
                    if (!visible) s[j][e] = -CUDART_INF_F;
                }
            }
        }

        // Online softmax; the 4 lanes of a quad share each row.
ATTNRT_UNROLL
        for (int r = 0; r < 2; ++r) {
            float mx = rowMax[r];
ATTNRT_UNROLL
            for (int j = 0; j < BN / 8; ++j) mx = fmaxf(mx, fmaxf(s[j][2 * r], s[j][2 * r + 1]));
            mx = fmaxf(mx, __shfl_xor_sync(kFull, mx, 1));
            mx = fmaxf(mx, __shfl_xor_sync(kFull, mx, 2));
            const float base = mx == -CUDART_INF_F ? 0.0f : mx * sl2;
            const float alpha = exp2f(rowMax[r] * sl2 - base);
            rowMax[r] = mx;
            float sum = 0.0f;
ATTNRT_UNROLL
            for (int j = 0; j < BN / 8; ++j) {
                s[j][2 * r] = exp2f(fmaf(s[j][2 * r], sl2, -base));
                s[j][2 * r + 1] = exp2f(fmaf(s[j][2 * r + 1], sl2, -base));
                sum += s[j][2 * r] + s[j][2 * r + 1];
            }
            rowSum[r] = rowSum[r] * alpha + sum;
ATTNRT_UNROLL
            for (int dn = 0; dn < D / 8; ++dn) {
                o[dn][2 * r] *= alpha;
                o[dn][2 * r + 1] *= alpha;
            }
        }

        // O += P · V, P re-packed from the S accumulators.
        const A* const vRow = sV + (8 * ((lane >> 3) & 1) + (lane & 7)) * P + 8 * (lane >> 4);
ATTNRT_UNROLL
        for (int kk = 0; kk < BN / 16; ++kk) {
            const uint32_t a[4] = {Elem<A>::pack(s[2 * kk][0], s[2 * kk][1]), Elem<A>::pack(s[2 * kk][2], s[2 * kk][3]),
                                   Elem<A>::pack(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                                   Elem<A>::pack(s[2 * kk + 1][2], s[2 * kk + 1][3])};
ATTNRT_UNROLL
            for (int dn = 0; dn < D / 8; dn += 2) {
                uint32_t b[4];
                attnrt_ldmatrix_x4_trans(b, vRow + kk * 16 * P + dn * 8);
                const uint32_t b0[2] = {b[0], b[1]}, b1[2] = {b[2], b[3]};
                Elem<A>::mma(o[dn], a, b0);
                Elem<A>::mma(o[dn + 1], a, b1);
            }
        }
    }

    // Every warp is done reading K/V before stage 0 becomes the output staging area.
    attnrt_cp_async_wait_all();
    __syncthreads();
    A* const sO = smem;
ATTNRT_UNROLL
    for (int r = 0; r < 2; ++r) {
        float l = rowSum[r];
        l += __shfl_xor_sync(kFull, l, 1);
        l += __shfl_xor_sync(kFull, l, 2);
        const float inv = l > 0.0f ? 1.0f / l : 0.0f;
        const int row = warp * 16 + g + 8 * r;
ATTNRT_UNROLL
        for (int dn = 0; dn < D / 8; ++dn) {
            *reinterpret_cast<uint32_t*>(sO + row * P + dn * 8 + 2 * tig) =
                Elem<A>::pack(o[dn][2 * r] * inv, o[dn][2 * r + 1] * inv);
        }
        if (lse != nullptr && tig == 0 && m0 + row < len) {
            lse[(long long)(start + m0 + row) * numHeads + head] =
                l > 0.0f ? (rowMax[r] * sl2 + log2f(l)) * kLn2 : -CUDART_INF_F;
        }
    }
    // Each warp writes back only its own 16 rows, so a warp-level barrier orders the staging.
    __syncwarp();
    A* const outBase = out + (long long)(start + m0) * outStride + head * D;
ATTNRT_UNROLL
    for (int i = 0; i < S::kChunks / 2; ++i) {
        const int idx = lane + 32 * i;
        const int r = warp * 16 + idx / S::kChunks, c = idx % S::kChunks;
        if (m0 + r < len) {
            *reinterpret_cast<uint4*>(outBase + (long long)r * outStride + c * 8) =
                *reinterpret_cast<const uint4*>(sO + r * P + c * 8);
        }
    }
}

}  // namespace

#define FLASH_ARGS(T)                                                                                        \
    const T *q, const T *k, const T *v, T *out, float *lse, const int *seqStarts, int seqs, int numHeads,     \
        int numKvHeads, int qStride, int kvStride, int outStride, int causal, int window, float scale
#define FLASH_PASS q, k, v, out, lse, seqStarts, seqs, numHeads, numKvHeads, qStride, kvStride, outStride, causal, window, scale

extern "C" __global__ void __launch_bounds__(128) flash_attn_prefill_f16_hd64(FLASH_ARGS(__half)) { flash_prefill<__half, 64>(FLASH_PASS); }
extern "C" __global__ void __launch_bounds__(128) flash_attn_prefill_f16_hd80(FLASH_ARGS(__half)) { flash_prefill<__half, 80>(FLASH_PASS); }
extern "C" __global__ void __launch_bounds__(128) flash_attn_prefill_f16_hd96(FLASH_ARGS(__half)) { flash_prefill<__half, 96>(FLASH_PASS); }
extern "C" __global__ void __launch_bounds__(128) flash_attn_prefill_f16_hd128(FLASH_ARGS(__half)) { flash_prefill<__half, 128>(FLASH_PASS); }
extern "C" __global__ void __launch_bounds__(128) flash_attn_prefill_f16_hd256(FLASH_ARGS(__half)) { flash_prefill<__half, 256>(FLASH_PASS); }
extern "C" __global__ void __launch_bounds__(128) flash_attn_prefill_bf16_hd64(FLASH_ARGS(__nv_bfloat16)) { flash_prefill<__nv_bfloat16, 64>(FLASH_PASS); }
extern "C" __global__ void __launch_bounds__(128) flash_attn_prefill_bf16_hd80(FLASH_ARGS(__nv_bfloat16)) { flash_prefill<__nv_bfloat16, 80>(FLASH_PASS); }
extern "C" __global__ void __launch_bounds__(128) flash_attn_prefill_bf16_hd96(FLASH_ARGS(__nv_bfloat16)) { flash_prefill<__nv_bfloat16, 96>(FLASH_PASS); }
extern "C" __global__ void __launch_bounds__(128) flash_attn_prefill_bf16_hd128(FLASH_ARGS(__nv_bfloat16)) { flash_prefill<__nv_bfloat16, 128>(FLASH_PASS); }
extern "C" __global__ void __launch_bounds__(128) flash_attn_prefill_bf16_hd256(FLASH_ARGS(__nv_bfloat16)) { flash_prefill<__nv_bfloat16, 256>(FLASH_PASS); }
