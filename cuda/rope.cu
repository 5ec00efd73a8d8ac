// rope.cu — rotary position embedding, in place on q and (optionally) k in one launch.
//
// Layout: q is [rows, qStride] (A = f32 | f16 | bf16), token row r holding qHeads heads of headDim
// elements at q + r*qStride + h*headDim; k likewise with kStride / kHeads (k may be a slice of a fused
// qkv row: the strides are in elements and need not equal heads*headDim). positions[r] is the token's
// position; invFreq[p] (f32, [headDim/2]) = theta^(-2p/headDim), computed on the host.
//
//   one CTA per token row r
//   step 1: threads p = tid, tid + blockDim, ... < headDim/2 compute angle = (float)pos * invFreq[p] in f32
//           and sincosf (the accurate one: angles reach 1e5+ rad, where __sincosf is useless) into
//           smem cs[p] = (cos, sin); __syncthreads.
//   step 2: the (qHeads + kHeads) * headDim/2 pairs of the row, pair i -> head i / (headDim/2) (q heads
//           first, then k heads), p = i % (headDim/2); thread tid takes pairs tid, tid + blockDim, ...
//             ROTATE_HALF (interleaved = 0): elements (p, p + headDim/2) of the head
//             INTERLEAVED (interleaved != 0): elements (2p, 2p + 1)
//           (a, b) <- (a cos - b sin, a sin + b cos) in f32, each rounded to A once.
//
// Kernels:
//   rope_<A>(A* q, int qStride, int qHeads, A* k /*0 = none*/, int kStride, int kHeads, const int* positions,
//            const float* invFreq, int rows, int headDim, int interleaved)
//   headDim must be even and <= 2 * kMaxHalf = 1024.
//
// LAUNCH CONFIG:
//   grid  = (rows, 1, 1)                rows >= 1
//   block = (128, 1, 1)                 any multiple of 32 up to 1024
//   dynamic shared memory = 0           (static: 512 float2 = 4 KB)
//   no workspace.
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include "attnrt_elem.cuh"

namespace {

constexpr int kMaxHalf = 512;

template <typename A>
__device__ __forceinline__ void rope_impl(A* q, int qStride, int qHeads, A* k, int kStride, int kHeads,
                                          const int* positions, const float* invFreq, int headDim,
                                          int interleaved) {
    __shared__ float2 cs[kMaxHalf];
    const int r = blockIdx.x;
    const int half = headDim >> 1;
    const float pos = (float)positions[r];
    for (int p = threadIdx.x; p < half; p += blockDim.x) {
        float s, c;
        sincosf(pos * invFreq[p], &s, &c);
        cs[p] = make_float2(c, s);
    }
    __syncthreads();
    const int heads = qHeads + (k != nullptr ? kHeads : 0);
    const int pairs = heads * half;
    A* qRow = q + (long long)r * qStride;
    A* kRow = k != nullptr ? k + (long long)r * kStride : nullptr;
    for (int i = threadIdx.x; i < pairs; i += blockDim.x) {
        const int h = i / half;
        const int p = i - h * half;
        A* head = h < qHeads ? qRow + (long long)h * headDim : kRow + (long long)(h - qHeads) * headDim;
        A* pa = head + (interleaved ? 2 * p : p);
        A* pb = head + (interleaved ? 2 * p + 1 : p + half);
        const float a = to_f(*pa), b = to_f(*pb);
        const float2 t = cs[p];
        *pa = from_f<A>(a * t.x - b * t.y);
        *pb = from_f<A>(a * t.y + b * t.x);
    }
}

}  // namespace

extern "C" __global__ void rope_f32(float* q, int qStride, int qHeads, float* k, int kStride, int kHeads, const int* positions, const float* invFreq, int rows, int headDim, int interleaved) { rope_impl(q, qStride, qHeads, k, kStride, kHeads, positions, invFreq, headDim, interleaved); }
extern "C" __global__ void rope_f16(__half* q, int qStride, int qHeads, __half* k, int kStride, int kHeads, const int* positions, const float* invFreq, int rows, int headDim, int interleaved) { rope_impl(q, qStride, qHeads, k, kStride, kHeads, positions, invFreq, headDim, interleaved); }
extern "C" __global__ void rope_bf16(__nv_bfloat16* q, int qStride, int qHeads, __nv_bfloat16* k, int kStride, int kHeads, const int* positions, const float* invFreq, int rows, int headDim, int interleaved) { rope_impl(q, qStride, qHeads, k, kStride, kHeads, positions, invFreq, headDim, interleaved); }
