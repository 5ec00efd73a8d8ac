// sampling.cu — greedy argmax and the SamplingParams procedure (temperature, top-k, top-p, draw).
//
// Layout: logits [rows, vocab] row-major; one CTA per row, thread t visits elements t, t + blockDim, ...
// in every pass (the same thread always touches the same element, so a thread re-reads only its own
// workspace writes).
//
// argmax_<A>(const A* logits, int rows, int vocab, int* out)
//   out[r] = index of the largest logit, the lowest index among ties (NaN never wins). Per-thread best
//   (value, index) -> warp shuffle tree -> smem[32] -> warp 0.
//   LAUNCH: grid = (rows, 1, 1), block = (1024, 1, 1) (any multiple of 32 up to 1024), smem 0 (static
//   256 bytes), no workspace.
//
// sample_f32(const float* logits, int rows, int vocab, const float* temperature, const int* topK,
//            const float* topP, const double* uniforms, int* out, void* workspace)
//   All per-row arrays in device memory ([rows] each). Per row, the SamplingParams procedure (same
//   distribution; the token equals the reference's up to the limits stated below):
//   1. temperature <= 0: argmax (as above).
//   2. e_i = exp((double)l_i / T - (double)max(l) / T) (double: SamplingParams' weight w_i, with CUDA's exp
//      for Math.exp), p_i = e_i / sum(e) -> workspace (double). SamplingParams keeps w unnormalised; every
//      step compares running mass with a fraction of a kept sum, so normalising moves no cut.
//   3. SamplingParams orders by logit descending, index ascending. This kernel's order ("the defined
//      order" below) is p descending, index ascending, decided by the 64-bit key bits(p_i) (p >= 0, so the
//      IEEE bits order like the values) with ties broken by index. p does not increase as the logit falls,
//      so the two orders agree except among distinct logits of equal p: both underflowing to 0 (never
//      drawn, and adding nothing to any sum), or equal positive p where the double rounding of l/T - m,
//      exp or the division merges them (T above ~2^52 times their gap). Such tokens are equally probable,
//      so the distribution is the same, but this kernel takes them by index and the reference by logit:
//      the token can differ when a top-k cut or the draw falls inside such a group.
//      A "boundary" (key, idx) = the last kept element; element i is kept iff key_i > key || (key_i == key && i <= idx).
//      Rows with a NaN or +inf logit, or only -inf logits (every p is then NaN), are not special-cased
//      here: the token is unspecified, where SamplingParams defines token 0.
//   4. Every selection is one primitive, DESCEND(target, measure): the first element in the defined order,
//      among the kept ones, whose running measure reaches target. It is a radix descent over the key,
//      8 bits per pass from the top (8 passes): a histogram of (count, sum of q) per digit of the
//      elements still matching the prefix (smem atomics, pre-aggregated per warp when the warp's digits
//      agree — the top digits are shared by nearly every element), then warp 0 scans the 256 buckets
//      from high to low. After the last pass the exact key is known; the element is the r-th of the tie
//      group (equal p) in index order, found by an ordered scan over tiles of blockDim indices.
//        top-k:   DESCEND(K, count)                                  -> boundary
//        top-p:   DESCEND(ceil(topP * Q), q)    ("reaches": >=)      -> boundary
//        draw:    DESCEND(floor(u * Q) + 1, q)  ("exceeds": >)       -> the token
//      with Q = sum of q over the kept set, recomputed after each cut, targets clamped to [1, Q] (a clamp
//      to Q lands on the last kept token with any probability, the reference's fallback).
//   Sums are exact integers: q_i = trunc(p_i * 2^62) in 64-bit fixed point, so every sum is independent of
//   the thread order (deterministic). The reference adds the unnormalised w in double, one at a time, in
//   the orders SamplingParams fixes (the kept sum by index, the running sums along the order), so the
//   deciding comparisons differ by that rounding (relative ~2^-53 per term added) plus the truncation
//   here (< vocab * 2^-62 of the total, <= 6e-14 at 256k): a token differs only when u, or topP times the
//   kept mass, lands that close to a boundary. Tokens with p < 2^-62 have q = 0 and are never drawn (nor,
//   in practice, by the reference: the chance is below 2^-62 per token).
//   LAUNCH: grid = (rows, 1, 1), block = (1024, 1, 1) (any multiple of 32 up to 1024; 1024 for speed),
//   dynamic smem 0 (static 3872 bytes),
//   WORKSPACE: rows * vocab * sizeof(double) = rows * vocab * 8 bytes, 8-byte aligned; contents are scratch.
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <math_constants.h>
#include <stdint.h>
#include "attnrt_elem.cuh"

namespace {

constexpr unsigned kFull = 0xffffffffu;
constexpr int kBuckets = 256;
constexpr double kFixed = 4611686018427387904.0;  // 2^62

__device__ __forceinline__ bool better(float v, int i, float bv, int bi) {
    return v > bv || (v == bv && i < bi);
}

// Block-wide argmax; every thread gets the index.
template <typename A>
__device__ __forceinline__ int block_argmax(const A* row, int vocab) {
    __shared__ float sv[32];
    __shared__ int si[32];
    float bv = -CUDART_INF_F;
    int bi = 0x7fffffff;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
        const float v = to_f(row[i]);
        if (better(v, i, bv, bi)) { bv = v; bi = i; }
    }
    for (int o = 16; o > 0; o >>= 1) {
        const float ov = __shfl_xor_sync(kFull, bv, o);
        const int oi = __shfl_xor_sync(kFull, bi, o);
        if (better(ov, oi, bv, bi)) { bv = ov; bi = oi; }
    }
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    if (lane == 0) { sv[warp] = bv; si[warp] = bi; }
    __syncthreads();
    if (warp == 0) {
        const int warps = blockDim.x >> 5;
        bv = lane < warps ? sv[lane] : -CUDART_INF_F;
        bi = lane < warps ? si[lane] : 0x7fffffff;
        for (int o = 16; o > 0; o >>= 1) {
            const float ov = __shfl_xor_sync(kFull, bv, o);
            const int oi = __shfl_xor_sync(kFull, bi, o);
            if (better(ov, oi, bv, bi)) { bv = ov; bi = oi; }
        }
        if (lane == 0) si[0] = bi == 0x7fffffff ? 0 : bi;  // every logit NaN: index 0, like the reference
    }
    __syncthreads();
    const int result = si[0];
    __syncthreads();
    return result;
}

struct SampleShared {
    unsigned cnt[kBuckets];
    unsigned long long sum[kBuckets];
    double dscratch[32];
    float fscratch[32];
    unsigned wc[32];
    unsigned long long prefix, before, usum;
    unsigned groupCount;
    int idx;
};

// Deterministic double sum (fixed tree for a fixed blockDim); every thread gets it.
__device__ __forceinline__ double block_sum_d(double v, SampleShared& s) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFull, v, o);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    if (lane == 0) s.dscratch[warp] = v;
    __syncthreads();
    double total = 0.0;
    const int warps = blockDim.x >> 5;
    for (int w = 0; w < warps; ++w) total += s.dscratch[w];
    __syncthreads();
    return total;
}

__device__ __forceinline__ float block_max_f(float v, SampleShared& s) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(kFull, v, o));
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    if (lane == 0) s.fscratch[warp] = v;
    __syncthreads();
    float m = -CUDART_INF_F;
    const int warps = blockDim.x >> 5;
    for (int w = 0; w < warps; ++w) m = fmaxf(m, s.fscratch[w]);
    __syncthreads();
    return m;
}

__device__ __forceinline__ unsigned long long key_of(double p) { return (unsigned long long)__double_as_longlong(p); }
__device__ __forceinline__ unsigned long long fixed_of(double p) { return (unsigned long long)(p * kFixed); }

struct Boundary {
    unsigned long long key;
    int idx;
    __device__ __forceinline__ bool keeps(unsigned long long k, int i) const { return k > key || (k == key && i <= idx); }
};

// Sum of q over the kept set (exact integer, so order-free).
__device__ unsigned long long kept_sum(const double* p, int vocab, Boundary b, SampleShared& s) {
    if (threadIdx.x == 0) s.usum = 0;
    __syncthreads();
    unsigned long long local = 0;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
        const double v = p[i];
        if (b.keeps(key_of(v), i)) local += fixed_of(v);
    }
    for (int o = 16; o > 0; o >>= 1) local += __shfl_xor_sync(kFull, local, o);
    if ((threadIdx.x & 31) == 0) atomicAdd(&s.usum, local);
    __syncthreads();
    const unsigned long long total = s.usum;
    __syncthreads();
    return total;
}

// DESCEND (see the header): returns the boundary whose last kept element is the first element, in the
// defined order among those kept by b, at which the running measure (count, or q) reaches target.
// Requires 1 <= target <= measure of the kept set.
__device__ Boundary descend(const double* p, int vocab, Boundary b, unsigned long long target, bool byCount,
                            SampleShared& s) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (threadIdx.x == 0) { s.prefix = 0; s.before = 0; }
    for (int shift = 56; shift >= 0; shift -= 8) {
        for (int d = threadIdx.x; d < kBuckets; d += blockDim.x) { s.cnt[d] = 0; s.sum[d] = 0; }
        __syncthreads();
        const unsigned long long prefix = s.prefix;
        const unsigned long long high = shift == 56 ? 0ull : ~0ull << (shift + 8);
        for (int base = 0; base < vocab; base += blockDim.x) {  // warp-uniform trip count: collectives below
            const int i = base + threadIdx.x;
            int digit = -1;
            unsigned long long q = 0;
            if (i < vocab) {
                const double v = p[i];
                const unsigned long long k = key_of(v);
                if (b.keeps(k, i) && (k & high) == prefix) {
                    digit = (int)((k >> shift) & 0xffu);
                    q = fixed_of(v);
                }
            }
            const unsigned active = __ballot_sync(kFull, digit >= 0);
            if (active == 0) continue;
            const int leader = __ffs(active) - 1;
            const int leaderDigit = __shfl_sync(kFull, digit, leader);
            if (__all_sync(kFull, digit < 0 || digit == leaderDigit)) {
                for (int o = 16; o > 0; o >>= 1) q += __shfl_xor_sync(kFull, q, o);
                if (lane == leader) {
                    atomicAdd(&s.cnt[leaderDigit], (unsigned)__popc(active));
                    atomicAdd(&s.sum[leaderDigit], q);
                }
            } else if (digit >= 0) {
                atomicAdd(&s.cnt[digit], 1u);
                atomicAdd(&s.sum[digit], q);
            }
        }
        __syncthreads();
        if (warp == 0) {
            // Lane l owns buckets 255 - 8l down to 248 - 8l: lane order is the defined (descending) order.
            const unsigned long long before = s.before;
            unsigned long long mine = 0;
            for (int j = 0; j < 8; ++j) {
                const int d = kBuckets - 1 - 8 * lane - j;
                mine += byCount ? (unsigned long long)s.cnt[d] : s.sum[d];
            }
            unsigned long long incl = mine;
            for (int o = 1; o < 32; o <<= 1) {
                const unsigned long long up = __shfl_up_sync(kFull, incl, o);
                if (lane >= o) incl += up;
            }
            unsigned long long want = target;
            const unsigned long long all = before + __shfl_sync(kFull, incl, 31);
            if (want > all) want = all;  // only if the caller broke the contract: take the last positive one
            const unsigned hit = __ballot_sync(kFull, before + incl >= want && mine > 0);
            const int owner = hit ? __ffs(hit) - 1 : 31;
            if (lane == owner) {
                unsigned long long acc = before + incl - mine;
                int pick = kBuckets - 1 - 8 * lane - 7;
                for (int j = 0; j < 8; ++j) {
                    const int d = kBuckets - 1 - 8 * lane - j;
                    const unsigned long long m = byCount ? (unsigned long long)s.cnt[d] : s.sum[d];
                    if (m > 0 && acc + m >= want) { pick = d; break; }
                    acc += m;
                }
                s.prefix = prefix | ((unsigned long long)pick << shift);
                s.before = acc;
                s.groupCount = s.cnt[pick];
            }
        }
        __syncthreads();
    }
    const unsigned long long key = s.prefix;
    const unsigned long long before = s.before;
    const unsigned groupCount = s.groupCount;
    unsigned long long want = target - before;  // > 0 by the scan
    unsigned long long rank;
    if (byCount) {
        rank = want;
    } else {
        const unsigned long long each = fixed_of(__longlong_as_double((long long)key));
        rank = each > 0 ? (want + each - 1) / each : groupCount;
    }
    if (rank < 1) rank = 1;
    if (rank > groupCount) rank = groupCount;
    // The rank-th kept element with this key, in index order: an ordered scan over tiles.
    unsigned long long running = 0;
    for (int base = 0; base < vocab; base += blockDim.x) {
        const int i = base + threadIdx.x;
        const bool flag = i < vocab && key_of(p[i]) == key && b.keeps(key, i);
        const unsigned bits = __ballot_sync(kFull, flag);
        if (lane == 0) s.wc[warp] = (unsigned)__popc(bits);
        __syncthreads();
        unsigned long long below = 0, tile = 0;
        const int warps = blockDim.x >> 5;
        for (int w = 0; w < warps; ++w) {
            if (w < warp) below += s.wc[w];
            tile += s.wc[w];
        }
        const bool done = running + tile >= rank;
        if (done && flag && running + below + __popc(bits & ((1u << lane) - 1u)) + 1 == rank) s.idx = i;
        __syncthreads();
        if (done) break;
        running += tile;
    }
    Boundary r;
    r.key = key;
    r.idx = s.idx;
    __syncthreads();
    return r;
}

__device__ __forceinline__ unsigned long long clamp_target(double x, unsigned long long q, bool ceilIt) {
    unsigned long long t = x <= 0.0 ? 0ull : (x >= (double)q ? q : (unsigned long long)x);
    if (ceilIt && (double)t < x) ++t;
    if (t < 1) t = 1;
    if (t > q) t = q;
    return t;
}

__device__ void sample_row(const float* logits, int vocab, float temperature, int topK, float topP, double u,
                           double* p, int* out) {
    __shared__ SampleShared s;
    if (!(temperature > 0.0f)) {
        const int best = block_argmax(logits, vocab);
        if (threadIdx.x == 0) *out = best;
        return;
    }
    const double t = (double)temperature;
    float mx = -CUDART_INF_F;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) mx = fmaxf(mx, logits[i]);
    // max over l/T is max(l)/T: dividing by T > 0 keeps the order and rounds the same value the same way.
    const double shift = (double)block_max_f(mx, s) / t;
    double local = 0.0;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
        const double e = exp((double)logits[i] / t - shift);
        p[i] = e;
        local += e;
    }
    const double total = block_sum_d(local, s);
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) p[i] = p[i] / total;
    __syncthreads();

    Boundary b;
    b.key = 0;
    b.idx = vocab - 1;
    const int k = topK > 0 && topK < vocab ? topK : vocab;
    if (k < vocab) b = descend(p, vocab, b, (unsigned long long)k, true, s);
    unsigned long long q = kept_sum(p, vocab, b, s);
    if (topP < 1.0f) {
        b = descend(p, vocab, b, clamp_target((double)topP * (double)q, q, true), false, s);
        q = kept_sum(p, vocab, b, s);
    }
    const double draw = u * (double)q;
    unsigned long long target = clamp_target(draw, q, false);
    if ((double)target <= draw && target < q) ++target;  // "exceeds": floor(u * Q) + 1
    const Boundary hit = descend(p, vocab, b, target, false, s);
    if (threadIdx.x == 0) *out = hit.idx;
}

template <typename A>
__device__ __forceinline__ void argmax_impl(const A* logits, int vocab, int* out) {
    const int best = block_argmax(logits + (long long)blockIdx.x * vocab, vocab);
    if (threadIdx.x == 0) out[blockIdx.x] = best;
}

}  // namespace

extern "C" __global__ void argmax_f32(const float* logits, int rows, int vocab, int* out) { argmax_impl(logits, vocab, out); }
extern "C" __global__ void argmax_f16(const __half* logits, int rows, int vocab, int* out) { argmax_impl(logits, vocab, out); }
extern "C" __global__ void argmax_bf16(const __nv_bfloat16* logits, int rows, int vocab, int* out) { argmax_impl(logits, vocab, out); }

extern "C" __global__ void sample_f32(const float* logits, int rows, int vocab, const float* temperature, const int* topK, const float* topP, const double* uniforms, int* out, void* workspace) {
    const long long r = blockIdx.x;
    sample_row(logits + r * vocab, vocab, temperature[r], topK[r], topP[r], uniforms[r], static_cast<double*>(workspace) + r * vocab, out + r);
}
