// attnrt_elem.cuh — the element helpers every kernel file shares: f32/f16/bf16 to and from fp32, and
// eight consecutive elements moved through 16-byte accesses (one uint4 for 16-bit types, two for f32).
// load8/store8 need p 16-byte aligned; callers check it (or guarantee it by layout) and fall back to
// scalar code otherwise.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>
#include <string.h>

// g++ (the emulator build) warns on the unknown pragma; nvcc gets it.
#ifdef ATTNRT_EMU
#define ATTNRT_UNROLL
#else
#define ATTNRT_UNROLL _Pragma("unroll")
#endif

namespace {

__device__ __forceinline__ float to_f(float v) { return v; }
__device__ __forceinline__ float to_f(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_f(__nv_bfloat16 v) { return __bfloat162float(v); }
template <typename T> __device__ __forceinline__ T from_f(float v);
template <> __device__ __forceinline__ float from_f<float>(float v) { return v; }
template <> __device__ __forceinline__ __half from_f<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 from_f<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

template <typename T> __device__ __forceinline__ void load8(const T* p, float (&v)[8]) {
    constexpr int kPer = 16 / sizeof(T);
ATTNRT_UNROLL
    for (int h = 0; h < 8 / kPer; ++h) {
        const uint4 raw = *reinterpret_cast<const uint4*>(p + h * kPer);
        T e[kPer];
        memcpy(static_cast<void*>(e), &raw, 16);
ATTNRT_UNROLL
        for (int i = 0; i < kPer; ++i) v[h * kPer + i] = to_f(e[i]);
    }
}

template <typename T> __device__ __forceinline__ void store8(T* p, const float (&v)[8]) {
    constexpr int kPer = 16 / sizeof(T);
ATTNRT_UNROLL
    for (int h = 0; h < 8 / kPer; ++h) {
        T e[kPer];
ATTNRT_UNROLL
        for (int i = 0; i < kPer; ++i) e[i] = from_f<T>(v[h * kPer + i]);
        uint4 raw;
        memcpy(&raw, static_cast<const void*>(e), 16);
        *reinterpret_cast<uint4*>(p + h * kPer) = raw;
    }
}

__device__ __forceinline__ bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

}  // namespace
