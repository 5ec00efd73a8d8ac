// selftest_transpose.cu — out = transpose(in) through a shared-memory tile; the emulator's proof that
// shared memory is per block and that a missing __syncthreads is caught.
//
// in: rows x cols fp32, row-major; out: cols x rows fp32, row-major: out[c*rows + r] = in[r*cols + c].
// grid (ceil(cols/32), ceil(rows/32)), block (32, 8): each block moves one 32x32 tile, each thread
// 4 elements (its threadIdx.y + 0, 8, 16, 24).
//
//   in (global)                    tile (shared, 32 x 33 fp32)         out (global)
//   rows r0..r0+31,                tile[dy][dx] = in[r0+dy][c0+dx]     rows c0..c0+31,
//   cols c0..c0+31   --load-->     (+1 column of padding: the column   cols r0..r0+31
//   coalesced along cols           reads below hit 32 different banks)  --store--> coalesced along r
//                                  __syncthreads()
//                                  out[c0+dy][r0+dx] = tile[dx][dy]
//
// selftest_transpose_nosync is the same kernel WITHOUT the __syncthreads between the two phases — a
// deliberately broken kernel: a thread then reads tile cells that other threads may not have written
// yet. The emulator runs threads in a shuffled order, so it produces wrong output; tests assert that.
#define ATTNRT_TILE 32

template <bool kSync>
__device__ __forceinline__ void transpose_tile(const float* __restrict__ in, float* __restrict__ out, int rows, int cols) {
    __shared__ float tile[ATTNRT_TILE][ATTNRT_TILE + 1];
    const int c0 = blockIdx.x * ATTNRT_TILE;
    const int r0 = blockIdx.y * ATTNRT_TILE;
    const int dx = threadIdx.x;
    for (int dy = threadIdx.y; dy < ATTNRT_TILE; dy += blockDim.y) {
        const int r = r0 + dy, c = c0 + dx;
        if (r < rows && c < cols) tile[dy][dx] = in[(size_t)r * cols + c];
    }
    if (kSync) __syncthreads();
    for (int dy = threadIdx.y; dy < ATTNRT_TILE; dy += blockDim.y) {
        const int c = c0 + dy, r = r0 + dx;
        if (r < rows && c < cols) out[(size_t)c * rows + r] = tile[dx][dy];
    }
}

extern "C" __global__ void __launch_bounds__(256) selftest_transpose(const float* __restrict__ in, float* __restrict__ out,
                                                                     int rows, int cols) {
    transpose_tile<true>(in, out, rows, cols);
}

extern "C" __global__ void __launch_bounds__(256) selftest_transpose_nosync(const float* __restrict__ in,
                                                                            float* __restrict__ out, int rows, int cols) {
    transpose_tile<false>(in, out, rows, cols);
}
