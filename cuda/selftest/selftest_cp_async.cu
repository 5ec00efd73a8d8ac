// selftest_cp_async.cu — a double-buffered cp.async pipeline in one block.
//
// selftest_cp_async_pipeline(in, out, tiles, tileFloat4s): grid (1), any blockDim.x, dynamic smem =
// 2 * tileFloat4s * 16 bytes. `in` holds `tiles` tiles of tileFloat4s float4 each (16-byte aligned);
// out[t][j] = 2 * in[t][j].
//
//   stage[0][tileFloat4s] | stage[1][tileFloat4s]     (dynamic shared memory, float4)
//
//   copy tile 0 -> stage[0]; commit
//   for t = 0 .. tiles-1:
//       copy tile t+1 -> stage[(t+1)%2] (if any); commit     <- the copy overlaps the work below
//       cp.async.wait_group 1      (all groups but the newest have landed: tile t is in stage[t%2])
//       __syncthreads              (other threads' copies of tile t are visible)
//       thread k handles j = tileFloat4s-1-k, -blockDim.x ...: out[t][j] = 2 * stage[t%2][j]
//       __syncthreads              (stage[t%2] is free before iteration t+1 copies into it)
//
// Thread k copies j = k, k+blockDim.x, ... but processes the mirrored indices, so every tile crosses
// threads and the wait + __syncthreads are both needed.
//
// selftest_cp_async_nowait is the same pipeline WITHOUT the cp.async.wait_group — a deliberately
// broken kernel: it reads the stage before the copies land. The emulator delays every copy until the
// wait that retires it, so this variant produces wrong output; tests assert that.
#include <attnrt_mma.cuh>

template <bool kWait>
__device__ __forceinline__ void pipeline(const float4* __restrict__ in, float4* __restrict__ out, int tiles, int tileFloat4s) {
    extern __shared__ float4 stage[];
    const int tid = threadIdx.x;
    const int step = blockDim.x;
    for (int j = tid; j < tileFloat4s; j += step) attnrt_cp_async_cg16(&stage[j], &in[j]);
    attnrt_cp_async_commit();
    for (int t = 0; t < tiles; ++t) {
        if (t + 1 < tiles) {
            float4* next = stage + ((t + 1) & 1) * tileFloat4s;
            const float4* src = in + (size_t)(t + 1) * tileFloat4s;
            for (int j = tid; j < tileFloat4s; j += step) attnrt_cp_async_cg16(&next[j], &src[j]);
        }
        attnrt_cp_async_commit();
        if (kWait) attnrt_cp_async_wait_group<1>();
        __syncthreads();
        const float4* cur = stage + (t & 1) * tileFloat4s;
        float4* dst = out + (size_t)t * tileFloat4s;
        for (int k = tid; k < tileFloat4s; k += step) {
            const int j = tileFloat4s - 1 - k;
            const float4 v = cur[j];
            dst[j] = make_float4(2.0f * v.x, 2.0f * v.y, 2.0f * v.z, 2.0f * v.w);
        }
        __syncthreads();
    }
    attnrt_cp_async_wait_all();
}

extern "C" __global__ void selftest_cp_async_pipeline(const float4* __restrict__ in, float4* __restrict__ out, int tiles,
                                                      int tileFloat4s) {
    pipeline<true>(in, out, tiles, tileFloat4s);
}

extern "C" __global__ void selftest_cp_async_nowait(const float4* __restrict__ in, float4* __restrict__ out, int tiles,
                                                    int tileFloat4s) {
    pipeline<false>(in, out, tiles, tileFloat4s);
}
