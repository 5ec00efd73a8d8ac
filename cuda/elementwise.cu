// elementwise.cu — embedding gather, residual add, bias add, SwiGLU and dtype conversions.
//
// Dtypes: A = activation, W = table (weight) dtype, S/D = source/destination of a conversion, each one of
// f32 | f16 | bf16. Everything is computed in f32 and rounded once on store (round to nearest even).
//
// Vector path: 8 consecutive elements per step (16 bytes of a 16-bit type, two 16-byte accesses of f32),
// taken when every pointer involved starts on 16 bytes (checked per row for the row kernels, per launch
// for the flat ones); the rest (n % 8, or everything when misaligned) is a scalar tail.
//
//   gather_rows_<W>_<A>(const W* table, int tableRows, const int* rows, int n, int cols, A* out, int outStride)
//       out[i*outStride + c] = table[rows[i]*cols + c]; a rows[i] outside [0, tableRows) writes zeros.
//       one CTA per output row i; thread t takes chunks t, t + blockDim, ... of the row.
//       grid = (n, 1, 1), block = (128, 1, 1), smem 0.
//
//   add_<A>(const A* a, const A* b, A* out, long long n)     out = a + b; out may alias a or b (each element
//       is read before it is written, by the same thread).
//       grid-stride over 8-element chunks: grid = (min(ceil(n / 2048), 65535), 1, 1) (any grid >= 1 works),
//       block = (256, 1, 1), smem 0.
//
//   add_bias_<A>_<W>(A* x, int rows, int cols, const W* bias)     x[r*cols + c] += bias[c] (Qwen2's q/k/v
//       biases after their projections); one CTA per row: grid = (rows, 1, 1), block = (256, 1, 1), smem 0.
//
//   swiglu_<A>(const A* gate, int gateStride, const A* up, int upStride, A* out, int outStride, int rows, int f)
//       out[r*outStride + c] = silu(gate[r*gateStride + c]) * up[r*upStride + c], c < f,
//       silu(x) = x / (1 + expf(-x)) (-> -0 for x -> -inf, never NaN). Fused [gate | up] rows: gate = base,
//       up = base + f, gateStride = upStride = 2f. out may be gate or up (same-thread read-before-write).
//       one CTA per row: grid = (rows, 1, 1), block = (256, 1, 1), smem 0.
//
//   convert_<S>_<D>(const S* in, D* out, long long n)     all 9 pairs; f32 -> f32 is a copy.
//       grid/block as add_<A>.
//
// No kernel needs a workspace.
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <stdint.h>
#include <string.h>
#include "attnrt_elem.cuh"

namespace {

__device__ __forceinline__ float silu(float x) { return x / (1.0f + expf(-x)); }

template <typename W, typename A>
__device__ __forceinline__ void gather_impl(const W* table, int tableRows, const int* rows, int cols, A* out,
                                            int outStride) {
    const int i = blockIdx.x;
    const int row = rows[i];
    A* dst = out + (long long)i * outStride;
    if (row < 0 || row >= tableRows) {
        for (int c = threadIdx.x; c < cols; c += blockDim.x) dst[c] = from_f<A>(0.0f);
        return;
    }
    const W* src = table + (long long)row * cols;
    const int chunks = aligned16(src) && aligned16(dst) ? cols / 8 : 0;
    for (int j = threadIdx.x; j < chunks; j += blockDim.x) {
        float v[8];
        load8(src + 8 * j, v);
        store8(dst + 8 * j, v);
    }
    for (int c = chunks * 8 + threadIdx.x; c < cols; c += blockDim.x) dst[c] = from_f<A>(to_f(src[c]));
}

template <typename A>
__device__ __forceinline__ void add_impl(const A* a, const A* b, A* out, long long n) {
    const long long stride = (long long)gridDim.x * blockDim.x;
    const long long first = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    const long long chunks = aligned16(a) && aligned16(b) && aligned16(out) ? n / 8 : 0;
    for (long long j = first; j < chunks; j += stride) {
        float x[8], y[8];
        load8(a + 8 * j, x);
        load8(b + 8 * j, y);
        ATTNRT_UNROLL
        for (int e = 0; e < 8; ++e) x[e] += y[e];
        store8(out + 8 * j, x);
    }
    for (long long i = chunks * 8 + first; i < n; i += stride) out[i] = from_f<A>(to_f(a[i]) + to_f(b[i]));
}

template <typename A, typename W>
__device__ __forceinline__ void add_bias_impl(A* x, int cols, const W* bias) {
    A* row = x + (long long)blockIdx.x * cols;
    const int chunks = aligned16(row) && aligned16(bias) ? cols / 8 : 0;
    for (int j = threadIdx.x; j < chunks; j += blockDim.x) {
        float v[8], b[8];
        load8(row + 8 * j, v);
        load8(bias + 8 * j, b);
        ATTNRT_UNROLL
        for (int e = 0; e < 8; ++e) v[e] += b[e];
        store8(row + 8 * j, v);
    }
    for (int c = chunks * 8 + threadIdx.x; c < cols; c += blockDim.x) row[c] = from_f<A>(to_f(row[c]) + to_f(bias[c]));
}

template <typename A>
__device__ __forceinline__ void swiglu_impl(const A* gate, int gateStride, const A* up, int upStride, A* out,
                                            int outStride, int f) {
    const long long r = blockIdx.x;
    const A* g = gate + r * gateStride;
    const A* u = up + r * upStride;
    A* o = out + r * outStride;
    const int chunks = aligned16(g) && aligned16(u) && aligned16(o) ? f / 8 : 0;
    for (int j = threadIdx.x; j < chunks; j += blockDim.x) {
        float x[8], y[8];
        load8(g + 8 * j, x);
        load8(u + 8 * j, y);
        ATTNRT_UNROLL
        for (int e = 0; e < 8; ++e) x[e] = silu(x[e]) * y[e];
        store8(o + 8 * j, x);
    }
    for (int c = chunks * 8 + threadIdx.x; c < f; c += blockDim.x) o[c] = from_f<A>(silu(to_f(g[c])) * to_f(u[c]));
}

template <typename S, typename D>
__device__ __forceinline__ void convert_impl(const S* in, D* out, long long n) {
    const long long stride = (long long)gridDim.x * blockDim.x;
    const long long first = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    const long long chunks = aligned16(in) && aligned16(out) ? n / 8 : 0;
    for (long long j = first; j < chunks; j += stride) {
        float v[8];
        load8(in + 8 * j, v);
        store8(out + 8 * j, v);
    }
    for (long long i = chunks * 8 + first; i < n; i += stride) out[i] = from_f<D>(to_f(in[i]));
}

}  // namespace

extern "C" __global__ void gather_rows_f32_f32(const float* t, int tableRows, const int* rows, int n, int cols, float* out, int outStride) { gather_impl(t, tableRows, rows, cols, out, outStride); }
extern "C" __global__ void gather_rows_f32_f16(const float* t, int tableRows, const int* rows, int n, int cols, __half* out, int outStride) { gather_impl(t, tableRows, rows, cols, out, outStride); }
extern "C" __global__ void gather_rows_f32_bf16(const float* t, int tableRows, const int* rows, int n, int cols, __nv_bfloat16* out, int outStride) { gather_impl(t, tableRows, rows, cols, out, outStride); }
extern "C" __global__ void gather_rows_f16_f32(const __half* t, int tableRows, const int* rows, int n, int cols, float* out, int outStride) { gather_impl(t, tableRows, rows, cols, out, outStride); }
extern "C" __global__ void gather_rows_f16_f16(const __half* t, int tableRows, const int* rows, int n, int cols, __half* out, int outStride) { gather_impl(t, tableRows, rows, cols, out, outStride); }
extern "C" __global__ void gather_rows_f16_bf16(const __half* t, int tableRows, const int* rows, int n, int cols, __nv_bfloat16* out, int outStride) { gather_impl(t, tableRows, rows, cols, out, outStride); }
extern "C" __global__ void gather_rows_bf16_f32(const __nv_bfloat16* t, int tableRows, const int* rows, int n, int cols, float* out, int outStride) { gather_impl(t, tableRows, rows, cols, out, outStride); }
extern "C" __global__ void gather_rows_bf16_f16(const __nv_bfloat16* t, int tableRows, const int* rows, int n, int cols, __half* out, int outStride) { gather_impl(t, tableRows, rows, cols, out, outStride); }
extern "C" __global__ void gather_rows_bf16_bf16(const __nv_bfloat16* t, int tableRows, const int* rows, int n, int cols, __nv_bfloat16* out, int outStride) { gather_impl(t, tableRows, rows, cols, out, outStride); }

extern "C" __global__ void add_f32(const float* a, const float* b, float* out, long long n) { add_impl(a, b, out, n); }
extern "C" __global__ void add_f16(const __half* a, const __half* b, __half* out, long long n) { add_impl(a, b, out, n); }
extern "C" __global__ void add_bf16(const __nv_bfloat16* a, const __nv_bfloat16* b, __nv_bfloat16* out, long long n) { add_impl(a, b, out, n); }

extern "C" __global__ void add_bias_f32_f32(float* x, int rows, int cols, const float* bias) { add_bias_impl(x, cols, bias); }
extern "C" __global__ void add_bias_f32_f16(float* x, int rows, int cols, const __half* bias) { add_bias_impl(x, cols, bias); }
extern "C" __global__ void add_bias_f32_bf16(float* x, int rows, int cols, const __nv_bfloat16* bias) { add_bias_impl(x, cols, bias); }
extern "C" __global__ void add_bias_f16_f32(__half* x, int rows, int cols, const float* bias) { add_bias_impl(x, cols, bias); }
extern "C" __global__ void add_bias_f16_f16(__half* x, int rows, int cols, const __half* bias) { add_bias_impl(x, cols, bias); }
extern "C" __global__ void add_bias_f16_bf16(__half* x, int rows, int cols, const __nv_bfloat16* bias) { add_bias_impl(x, cols, bias); }
extern "C" __global__ void add_bias_bf16_f32(__nv_bfloat16* x, int rows, int cols, const float* bias) { add_bias_impl(x, cols, bias); }
extern "C" __global__ void add_bias_bf16_f16(__nv_bfloat16* x, int rows, int cols, const __half* bias) { add_bias_impl(x, cols, bias); }
extern "C" __global__ void add_bias_bf16_bf16(__nv_bfloat16* x, int rows, int cols, const __nv_bfloat16* bias) { add_bias_impl(x, cols, bias); }

extern "C" __global__ void swiglu_f32(const float* g, int gs, const float* u, int us, float* o, int os, int rows, int f) { swiglu_impl(g, gs, u, us, o, os, f); }
extern "C" __global__ void swiglu_f16(const __half* g, int gs, const __half* u, int us, __half* o, int os, int rows, int f) { swiglu_impl(g, gs, u, us, o, os, f); }
extern "C" __global__ void swiglu_bf16(const __nv_bfloat16* g, int gs, const __nv_bfloat16* u, int us, __nv_bfloat16* o, int os, int rows, int f) { swiglu_impl(g, gs, u, us, o, os, f); }

extern "C" __global__ void convert_f32_f32(const float* in, float* out, long long n) { convert_impl(in, out, n); }
extern "C" __global__ void convert_f32_f16(const float* in, __half* out, long long n) { convert_impl(in, out, n); }
extern "C" __global__ void convert_f32_bf16(const float* in, __nv_bfloat16* out, long long n) { convert_impl(in, out, n); }
extern "C" __global__ void convert_f16_f32(const __half* in, float* out, long long n) { convert_impl(in, out, n); }
extern "C" __global__ void convert_f16_f16(const __half* in, __half* out, long long n) { convert_impl(in, out, n); }
extern "C" __global__ void convert_f16_bf16(const __half* in, __nv_bfloat16* out, long long n) { convert_impl(in, out, n); }
extern "C" __global__ void convert_bf16_f32(const __nv_bfloat16* in, float* out, long long n) { convert_impl(in, out, n); }
extern "C" __global__ void convert_bf16_f16(const __nv_bfloat16* in, __half* out, long long n) { convert_impl(in, out, n); }
extern "C" __global__ void convert_bf16_bf16(const __nv_bfloat16* in, __nv_bfloat16* out, long long n) { convert_impl(in, out, n); }
