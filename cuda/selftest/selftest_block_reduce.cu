// selftest_block_reduce.cu — shared-memory and global atomics.
//
// selftest_block_reduce(in, blockSums, hist, n, numBins): 1-D grid of 1-D blocks; block b owns the
// chunk in[b*blockDim.x .. b*blockDim.x + blockDim.x - 1] (cut at n), one element per thread.
//
//   shared: float sum;  unsigned bins[numBins]  (numBins <= 256)
//   1. thread 0 clears sum, all threads clear bins (strided), __syncthreads
//   2. each thread with an element x: atomicAdd(&sum, x) (shared float atomic) and
//      atomicAdd(&bins[bin(x)], 1), bin(x) = (int)floorf((x + 1) * numBins * 0.5f) clamped to
//      [0, numBins-1] (x in [-1, 1) spreads evenly), __syncthreads
//   3. thread 0 writes blockSums[b] = sum; every non-zero bins[k] is added to the global hist[k] with a
//      global atomicAdd (hist must be zeroed by the caller; it accumulates over all blocks).
#include <assert.h>

#define ATTNRT_MAX_BINS 256

extern "C" __global__ void selftest_block_reduce(const float* __restrict__ in, float* __restrict__ blockSums,
                                                 unsigned* __restrict__ hist, int n, int numBins) {
    __shared__ float sum;
    __shared__ unsigned bins[ATTNRT_MAX_BINS];
    assert(numBins > 0 && numBins <= ATTNRT_MAX_BINS);
    if (threadIdx.x == 0) sum = 0.0f;
    for (int k = threadIdx.x; k < numBins; k += blockDim.x) bins[k] = 0u;
    __syncthreads();

    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        const float x = in[i];
        atomicAdd(&sum, x);
        int bin = (int)floorf((x + 1.0f) * (float)numBins * 0.5f);
        bin = min(max(bin, 0), numBins - 1);
        atomicAdd(&bins[bin], 1u);
    }
    __syncthreads();

    if (threadIdx.x == 0) blockSums[blockIdx.x] = sum;
    for (int k = threadIdx.x; k < numBins; k += blockDim.x) {
        if (bins[k] != 0u) atomicAdd(&hist[k], bins[k]);
    }
}
