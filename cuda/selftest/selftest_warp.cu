// selftest_warp.cu — warp shuffles and votes, each checked against a plain computation.
//
// Layout for all three kernels: a 1-D grid of 1-D blocks, blockDim.x a multiple of 32, one element per
// thread: i = blockIdx.x * blockDim.x + threadIdx.x, lane = i % 32, warp w = i / 32 covers elements
// 32w .. 32w+31 ("consecutive elements"). Threads with i >= n still take part in every collective (full
// mask) with a neutral value; only warps with 32w < n write results.
//
//   selftest_warp_reduce(in, sums, maxs, n): sums[w] = sum of the warp's elements (out of range = 0),
//     by a __shfl_xor_sync butterfly (every lane ends with the total); maxs[w] = max (out of range =
//     -INF), by a __shfl_down_sync tree (lane 0 ends with it). Lane 0 writes both.
//   selftest_warp_vote(in, ballot, any, all, n): predicate p = (i < n && in[i] > 0);
//     ballot[w] = __ballot_sync bits (bit = lane), any[w] = __any_sync(p), all[w] = __all_sync(p)
//     (out-of-range lanes vote false, so a partial last warp has all[w] = 0).
//   selftest_warp_shuffle(in, out, n, delta): out has 2n floats.
//     out[i]     = value of lane (lane + delta) % 32 of the same warp (__shfl_sync), out of range = 0;
//     out[n + i] = inclusive prefix sum of the warp's values up to this lane (Hillis-Steele scan with
//                  __shfl_up_sync; lanes below the offset keep their value), out of range = 0.
#include <math_constants.h>

#define ATTNRT_FULL_MASK 0xffffffffu

extern "C" __global__ void selftest_warp_reduce(const float* __restrict__ in, float* __restrict__ sums,
                                                float* __restrict__ maxs, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    const int lane = i & 31;
    float sum = i < n ? in[i] : 0.0f;
    for (int offset = 16; offset > 0; offset >>= 1) sum += __shfl_xor_sync(ATTNRT_FULL_MASK, sum, offset);
    float mx = i < n ? in[i] : -CUDART_INF_F;
    for (int offset = 16; offset > 0; offset >>= 1) mx = fmaxf(mx, __shfl_down_sync(ATTNRT_FULL_MASK, mx, offset));
    const int warp = i >> 5;
    if (lane == 0 && warp * 32 < n) {
        sums[warp] = sum;
        maxs[warp] = mx;
    }
}

extern "C" __global__ void selftest_warp_vote(const float* __restrict__ in, unsigned* __restrict__ ballot,
                                              int* __restrict__ any, int* __restrict__ all, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    const int p = i < n && in[i] > 0.0f;
    const unsigned bits = __ballot_sync(ATTNRT_FULL_MASK, p);
    const int some = __any_sync(ATTNRT_FULL_MASK, p);
    const int every = __all_sync(ATTNRT_FULL_MASK, p);
    const int warp = i >> 5;
    if ((i & 31) == 0 && warp * 32 < n) {
        ballot[warp] = bits;
        any[warp] = some;
        all[warp] = every;
    }
}

extern "C" __global__ void selftest_warp_shuffle(const float* __restrict__ in, float* __restrict__ out, int n, int delta) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    const int lane = i & 31;
    const float v = i < n ? in[i] : 0.0f;
    const float rotated = __shfl_sync(ATTNRT_FULL_MASK, v, (lane + delta) & 31);
    float scan = v;
    for (int offset = 1; offset < 32; offset <<= 1) {
        const float below = __shfl_up_sync(ATTNRT_FULL_MASK, scan, offset);
        if (lane >= offset) scan += below;
    }
    if (i < n) {
        out[i] = rotated;
        out[n + i] = scan;
    }
}
