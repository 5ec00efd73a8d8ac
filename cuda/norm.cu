// norm.cu — RMSNorm and the residual add fused with it.
//
// Layout: x, residual, delta, out are row-major [rows, cols] activations (A = f32 | f16 | bf16), weight is
// [cols] (W = f32 | f16 | bf16). Rows are contiguous (stride = cols).
//
//   one CTA per row                      row r:  x[r*cols .. r*cols + cols)
//   ┌──────────── cols ────────────┐
//   │ c0..c7 │ c8..c15 │ ... │ tail │     8-element chunks (16 bytes for 16-bit A, two 16-byte accesses
//   └────────────────────────────────┘     for f32), chunk j owned by thread j % blockDim.x; chunks are
//                                          used when the row, weight and out start on 16 bytes, else
//                                          every element is a scalar access; the cols % 8 tail is scalar.
//   pass 1: each thread sums x^2 of its elements in f32 -> warp butterfly (__shfl_xor_sync) -> smem[32]
//           -> warp 0 -> inverse rms broadcast through smem (the __syncthreads also orders pass 1's
//           reads before pass 2's writes, which is why out may equal x).
//   pass 2: each thread re-reads the same elements it owned in pass 1, writes x * inv_rms * weight,
//           rounded to A once.
//
// Kernels (A = activation dtype, W = weight dtype):
//   rmsnorm_<A>_<W>(const A* x, const W* weight, A* out, int rows, int cols, float eps)
//       out = x / sqrt(mean(x^2) + eps) * weight; out may equal x.
//   add_rmsnorm_<A>_<W>(A* residual, const A* delta, const W* weight, A* out, int rows, int cols, float eps)
//       residual = round_A(residual + delta) (written back), then out = rmsnorm(that rounded residual);
//       out must not alias residual or delta. Each thread re-reads in pass 2 only elements it wrote itself
//       in pass 1, so no other thread's global write has to be visible.
//
// LAUNCH CONFIG (both kernels):
//   grid  = (rows, 1, 1)              rows >= 1 (rows = 0: launch nothing)
//   block = (256, 1, 1)               any multiple of 32 up to 1024 works; 256 keeps 4096-wide rows at
//                                     2 chunks per thread
//   dynamic shared memory = 0         (static: 33 floats)
//   no workspace.
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <stdint.h>
#include <string.h>
#include "attnrt_elem.cuh"

namespace {

constexpr unsigned kFull = 0xffffffffu;

// Sum over the block; every thread gets the total. Ends with a __syncthreads, so the caller may reuse
// shared memory and may write what other threads read before the call.
__device__ __forceinline__ float block_sum(float v, float* scratch /* [33] */) {
ATTNRT_UNROLL
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFull, v, o);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    if (warp == 0) {
        const int warps = blockDim.x >> 5;
        float s = lane < warps ? scratch[lane] : 0.0f;
ATTNRT_UNROLL
        for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(kFull, s, o);
        if (lane == 0) scratch[32] = s;
    }
    __syncthreads();
    return scratch[32];
}

// Pass 2 shared by both kernels: out = src * inv * weight over the row, same element ownership as pass 1.
template <typename A, typename W>
__device__ __forceinline__ void scale_row(const A* src, const W* weight, A* dst, int cols, float inv, bool vec) {
    const int chunks = vec ? cols / 8 : 0;
    for (int j = threadIdx.x; j < chunks; j += blockDim.x) {
        float x[8], w[8];
        load8(src + 8 * j, x);
        load8(weight + 8 * j, w);
ATTNRT_UNROLL
        for (int i = 0; i < 8; ++i) x[i] = x[i] * inv * w[i];
        store8(dst + 8 * j, x);
    }
    for (int c = chunks * 8 + threadIdx.x; c < cols; c += blockDim.x) {
        dst[c] = from_f<A>(to_f(src[c]) * inv * to_f(weight[c]));
    }
}

template <typename A, typename W>
__device__ __forceinline__ void rmsnorm_impl(const A* x, const W* weight, A* out, int cols, float eps) {
    __shared__ float scratch[33];
    const long long base = (long long)blockIdx.x * cols;
    const A* row = x + base;
    A* dst = out + base;
    const bool vec = aligned16(row) && aligned16(dst) && aligned16(weight);
    const int chunks = vec ? cols / 8 : 0;
    float ss = 0.0f;
    for (int j = threadIdx.x; j < chunks; j += blockDim.x) {
        float v[8];
        load8(row + 8 * j, v);
ATTNRT_UNROLL
        for (int i = 0; i < 8; ++i) ss += v[i] * v[i];
    }
    for (int c = chunks * 8 + threadIdx.x; c < cols; c += blockDim.x) {
        const float v = to_f(row[c]);
        ss += v * v;
    }
    const float inv = rsqrtf(block_sum(ss, scratch) / (float)cols + eps);
    scale_row(row, weight, dst, cols, inv, vec);
}

template <typename A, typename W>
__device__ __forceinline__ void add_rmsnorm_impl(A* residual, const A* delta, const W* weight, A* out, int cols,
                                                 float eps) {
    __shared__ float scratch[33];
    const long long base = (long long)blockIdx.x * cols;
    A* res = residual + base;
    const A* del = delta + base;
    A* dst = out + base;
    const bool vec = aligned16(res) && aligned16(del) && aligned16(dst) && aligned16(weight);
    const int chunks = vec ? cols / 8 : 0;
    float ss = 0.0f;
    for (int j = threadIdx.x; j < chunks; j += blockDim.x) {
        float r[8], d[8];
        load8(res + 8 * j, r);
        load8(del + 8 * j, d);
ATTNRT_UNROLL
        for (int i = 0; i < 8; ++i) {
            // The norm must see the residual as stored (rounded to A), like every later reader of it.
            r[i] = to_f(from_f<A>(r[i] + d[i]));
            ss += r[i] * r[i];
        }
        store8(res + 8 * j, r);
    }
    for (int c = chunks * 8 + threadIdx.x; c < cols; c += blockDim.x) {
        const A stored = from_f<A>(to_f(res[c]) + to_f(del[c]));
        res[c] = stored;
        const float v = to_f(stored);
        ss += v * v;
    }
    const float inv = rsqrtf(block_sum(ss, scratch) / (float)cols + eps);
    scale_row(static_cast<const A*>(res), weight, dst, cols, inv, vec);
}

}  // namespace

extern "C" __global__ void rmsnorm_f32_f32(const float* x, const float* w, float* out, int rows, int cols, float eps) { rmsnorm_impl(x, w, out, cols, eps); }
extern "C" __global__ void rmsnorm_f32_f16(const float* x, const __half* w, float* out, int rows, int cols, float eps) { rmsnorm_impl(x, w, out, cols, eps); }
extern "C" __global__ void rmsnorm_f32_bf16(const float* x, const __nv_bfloat16* w, float* out, int rows, int cols, float eps) { rmsnorm_impl(x, w, out, cols, eps); }
extern "C" __global__ void rmsnorm_f16_f32(const __half* x, const float* w, __half* out, int rows, int cols, float eps) { rmsnorm_impl(x, w, out, cols, eps); }
extern "C" __global__ void rmsnorm_f16_f16(const __half* x, const __half* w, __half* out, int rows, int cols, float eps) { rmsnorm_impl(x, w, out, cols, eps); }
extern "C" __global__ void rmsnorm_f16_bf16(const __half* x, const __nv_bfloat16* w, __half* out, int rows, int cols, float eps) { rmsnorm_impl(x, w, out, cols, eps); }
extern "C" __global__ void rmsnorm_bf16_f32(const __nv_bfloat16* x, const float* w, __nv_bfloat16* out, int rows, int cols, float eps) { rmsnorm_impl(x, w, out, cols, eps); }
extern "C" __global__ void rmsnorm_bf16_f16(const __nv_bfloat16* x, const __half* w, __nv_bfloat16* out, int rows, int cols, float eps) { rmsnorm_impl(x, w, out, cols, eps); }
extern "C" __global__ void rmsnorm_bf16_bf16(const __nv_bfloat16* x, const __nv_bfloat16* w, __nv_bfloat16* out, int rows, int cols, float eps) { rmsnorm_impl(x, w, out, cols, eps); }

extern "C" __global__ void add_rmsnorm_f32_f32(float* r, const float* d, const float* w, float* out, int rows, int cols, float eps) { add_rmsnorm_impl(r, d, w, out, cols, eps); }
extern "C" __global__ void add_rmsnorm_f32_f16(float* r, const float* d, const __half* w, float* out, int rows, int cols, float eps) { add_rmsnorm_impl(r, d, w, out, cols, eps); }
extern "C" __global__ void add_rmsnorm_f32_bf16(float* r, const float* d, const __nv_bfloat16* w, float* out, int rows, int cols, float eps) { add_rmsnorm_impl(r, d, w, out, cols, eps); }
extern "C" __global__ void add_rmsnorm_f16_f32(__half* r, const __half* d, const float* w, __half* out, int rows, int cols, float eps) { add_rmsnorm_impl(r, d, w, out, cols, eps); }
extern "C" __global__ void add_rmsnorm_f16_f16(__half* r, const __half* d, const __half* w, __half* out, int rows, int cols, float eps) { add_rmsnorm_impl(r, d, w, out, cols, eps); }
extern "C" __global__ void add_rmsnorm_f16_bf16(__half* r, const __half* d, const __nv_bfloat16* w, __half* out, int rows, int cols, float eps) { add_rmsnorm_impl(r, d, w, out, cols, eps); }
extern "C" __global__ void add_rmsnorm_bf16_f32(__nv_bfloat16* r, const __nv_bfloat16* d, const float* w, __nv_bfloat16* out, int rows, int cols, float eps) { add_rmsnorm_impl(r, d, w, out, cols, eps); }
extern "C" __global__ void add_rmsnorm_bf16_f16(__nv_bfloat16* r, const __nv_bfloat16* d, const __half* w, __nv_bfloat16* out, int rows, int cols, float eps) { add_rmsnorm_impl(r, d, w, out, cols, eps); }
extern "C" __global__ void add_rmsnorm_bf16_bf16(__nv_bfloat16* r, const __nv_bfloat16* d, const __nv_bfloat16* w, __nv_bfloat16* out, int rows, int cols, float eps) { add_rmsnorm_impl(r, d, w, out, cols, eps); }
