// random_fill.cu — synthetic weights generated on the device, so a benchmark of an 8B-parameter shape
// does not spend minutes drawing and copying 16 GB from the host.
//
// Layout: a grid-stride loop, one thread per element (any 1-D grid of 256-thread blocks).
//
//   element i : x = mean + std * sqrt(3) * (u0 + u1 + u2 + u3 - 2)      (Irwin-Hall of 4 uniforms,
//               u_k = hash(seed, 4i + k) in [0, 1)                        variance 4/12 -> scaled to std^2)
//
// The value depends only on (seed, i), so any launch shape gives the same tensor. Stored rounded once to
// the tensor's dtype. Launch: grid = min(ceil(n / 256), 65535), block = 256, no shared memory.
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <stdint.h>

__device__ __forceinline__ uint32_t attnrt_mix32(uint64_t x) {
    // splitmix64 finaliser, folded to 32 bits
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    x ^= x >> 31;
    return static_cast<uint32_t>(x >> 32);
}

__device__ __forceinline__ void attnrt_store(float* p, float v) { *p = v; }
__device__ __forceinline__ void attnrt_store(__half* p, float v) { *p = __float2half_rn(v); }
__device__ __forceinline__ void attnrt_store(__nv_bfloat16* p, float v) { *p = __float2bfloat16_rn(v); }

template <typename T>
__device__ void fill_bell(T* out, long long n, unsigned long long seed, float mean, float std) {
    const float k = 1.7320508f * std;  // sqrt(12/4) * std
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        float sum = 0.f;
        for (int j = 0; j < 4; ++j) {
            sum += attnrt_mix32(seed ^ (static_cast<uint64_t>(i) * 4 + j) * 0xD1B54A32D192ED03ull) * 2.3283064e-10f;
        }
        attnrt_store(out + i, mean + k * (sum - 2.f));
    }
}

extern "C" __global__ void fill_bell_f32(float* out, long long n, unsigned long long seed, float mean, float std) {
    fill_bell(out, n, seed, mean, std);
}
extern "C" __global__ void fill_bell_f16(__half* out, long long n, unsigned long long seed, float mean, float std) {
    fill_bell(out, n, seed, mean, std);
}
extern "C" __global__ void fill_bell_bf16(__nv_bfloat16* out, long long n, unsigned long long seed, float mean,
                                          float std) {
    fill_bell(out, n, seed, mean, std);
}
