// kv_cache.cu — writing token rows into the paged KV cache, and copying whole cache blocks.
//
// Cache layout (per layer one key pool and one value pool, C = f32 | f16 | bf16):
//   [numBlocks, blockSize, numKvHeads, headDim]; slot s = block * blockSize + offset holds
//   kvWidth = numKvHeads * headDim contiguous elements at element offset (long long)s * kvWidth.
//
//   kv_append_<A>_<C>(const A* k, int kStride, const A* v, int vStride, C* keyCache, C* valueCache,
//                     const int* slots, int n, int kvWidth)
//       token row r (k + r*kStride, v + r*vStride, kvWidth elements each; the strides let k/v be slices of a
//       fused qkv row) -> keyCache / valueCache at (long long)slots[r] * kvWidth, converted A -> C (round to
//       nearest even). slots[r] < 0 marks a padding row: nothing is written for it.
//       one CTA per token row r; thread t copies 8-element chunks t, t + blockDim, ... of the key row, then
//       of the value row (16-byte accesses when source and destination start on 16 bytes), scalar tail.
//       LAUNCH: grid = (n, 1, 1), block = (128, 1, 1), smem 0, no workspace.
//
//   copy_blocks_<C>(const unsigned long long* caches, int numCaches, const int* pairs, int numPairs,
//                   long long blockElems)
//       caches: device array of numCaches cache base pointers (e.g. every layer's K pool and V pool);
//       pairs: [numPairs, 2] = (src, dst) block ids. For every cache c and pair i, the blockElems elements of
//       block dst_i become a copy of block src_i. The copies run in parallel, so they read the cache as it
//       was before the call only if NO dst appears as a src (or twice as a dst) in the same call: the host
//       must guarantee that (split the call otherwise).
//       CTA (i, c) = blockIdx.x (pair), blockIdx.y (cache); threads stride over 16-byte words when the
//       block's byte size and the cache base are multiples of 16, else over single elements.
//       LAUNCH: grid = (numPairs, numCaches, 1) (numCaches <= 65535), block = (256, 1, 1), smem 0,
//       no workspace (the caches / pairs arrays live in device memory, uploaded by the host).
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <stdint.h>
#include <string.h>
#include "attnrt_elem.cuh"

namespace {

template <typename A, typename C>
__device__ __forceinline__ void copy_row(const A* src, C* dst, int width) {
    const int chunks = aligned16(src) && aligned16(dst) ? width / 8 : 0;
    for (int j = threadIdx.x; j < chunks; j += blockDim.x) {
        float v[8];
        load8(src + 8 * j, v);
        store8(dst + 8 * j, v);
    }
    for (int c = chunks * 8 + threadIdx.x; c < width; c += blockDim.x) dst[c] = from_f<C>(to_f(src[c]));
}

template <typename A, typename C>
__device__ __forceinline__ void kv_append_impl(const A* k, int kStride, const A* v, int vStride, C* keyCache,
                                               C* valueCache, const int* slots, int kvWidth) {
    const int r = blockIdx.x;
    const int slot = slots[r];
    if (slot < 0) return;
    const long long at = (long long)slot * kvWidth;
    copy_row(k + (long long)r * kStride, keyCache + at, kvWidth);
    copy_row(v + (long long)r * vStride, valueCache + at, kvWidth);
}

template <typename C>
__device__ __forceinline__ void copy_blocks_impl(const unsigned long long* caches, const int* pairs,
                                                 long long blockElems) {
    C* cache = reinterpret_cast<C*>(caches[blockIdx.y]);
    const long long src = pairs[2 * blockIdx.x];
    const long long dst = pairs[2 * blockIdx.x + 1];
    const long long bytes = blockElems * (long long)sizeof(C);
    if (aligned16(cache) && bytes % 16 == 0) {
        const uint4* from = reinterpret_cast<const uint4*>(cache + src * blockElems);
        uint4* to = reinterpret_cast<uint4*>(cache + dst * blockElems);
        const long long words = bytes / 16;
        for (long long w = threadIdx.x; w < words; w += blockDim.x) to[w] = from[w];
    } else {
        const C* from = cache + src * blockElems;
        C* to = cache + dst * blockElems;
        for (long long e = threadIdx.x; e < blockElems; e += blockDim.x) to[e] = from[e];
    }
}

}  // namespace

extern "C" __global__ void kv_append_f32_f32(const float* k, int ks, const float* v, int vs, float* kc, float* vc, const int* slots, int n, int kvWidth) { kv_append_impl(k, ks, v, vs, kc, vc, slots, kvWidth); }
extern "C" __global__ void kv_append_f32_f16(const float* k, int ks, const float* v, int vs, __half* kc, __half* vc, const int* slots, int n, int kvWidth) { kv_append_impl(k, ks, v, vs, kc, vc, slots, kvWidth); }
extern "C" __global__ void kv_append_f32_bf16(const float* k, int ks, const float* v, int vs, __nv_bfloat16* kc, __nv_bfloat16* vc, const int* slots, int n, int kvWidth) { kv_append_impl(k, ks, v, vs, kc, vc, slots, kvWidth); }
extern "C" __global__ void kv_append_f16_f32(const __half* k, int ks, const __half* v, int vs, float* kc, float* vc, const int* slots, int n, int kvWidth) { kv_append_impl(k, ks, v, vs, kc, vc, slots, kvWidth); }
extern "C" __global__ void kv_append_f16_f16(const __half* k, int ks, const __half* v, int vs, __half* kc, __half* vc, const int* slots, int n, int kvWidth) { kv_append_impl(k, ks, v, vs, kc, vc, slots, kvWidth); }
extern "C" __global__ void kv_append_f16_bf16(const __half* k, int ks, const __half* v, int vs, __nv_bfloat16* kc, __nv_bfloat16* vc, const int* slots, int n, int kvWidth) { kv_append_impl(k, ks, v, vs, kc, vc, slots, kvWidth); }
extern "C" __global__ void kv_append_bf16_f32(const __nv_bfloat16* k, int ks, const __nv_bfloat16* v, int vs, float* kc, float* vc, const int* slots, int n, int kvWidth) { kv_append_impl(k, ks, v, vs, kc, vc, slots, kvWidth); }
extern "C" __global__ void kv_append_bf16_f16(const __nv_bfloat16* k, int ks, const __nv_bfloat16* v, int vs, __half* kc, __half* vc, const int* slots, int n, int kvWidth) { kv_append_impl(k, ks, v, vs, kc, vc, slots, kvWidth); }
extern "C" __global__ void kv_append_bf16_bf16(const __nv_bfloat16* k, int ks, const __nv_bfloat16* v, int vs, __nv_bfloat16* kc, __nv_bfloat16* vc, const int* slots, int n, int kvWidth) { kv_append_impl(k, ks, v, vs, kc, vc, slots, kvWidth); }

extern "C" __global__ void copy_blocks_f32(const unsigned long long* caches, int numCaches, const int* pairs, int numPairs, long long blockElems) { copy_blocks_impl<float>(caches, pairs, blockElems); }
extern "C" __global__ void copy_blocks_f16(const unsigned long long* caches, int numCaches, const int* pairs, int numPairs, long long blockElems) { copy_blocks_impl<__half>(caches, pairs, blockElems); }
extern "C" __global__ void copy_blocks_bf16(const unsigned long long* caches, int numCaches, const int* pairs, int numPairs, long long blockElems) { copy_blocks_impl<__nv_bfloat16>(caches, pairs, blockElems); }
