// dequant.cu — rows of a block-quantized weight decoded into f32, f16 or bf16: the embedding lookup of a
// quantized table (gather) and the weight slices a prefill projection feeds to the tensor-core GEMM
// (decode to the activation dtype, then cuBLAS or gemm.cu; decode itself streams through gemv.cu instead).
//
// Layout: w = tableRows rows of `in` elements as ggml blocks (attnrt_quant.cuh: row r starts at byte
// r * (in / kElems) * kBytes); out [n, in] with row stride outStride elements.
//
//   CTA i = output row i; thread t decodes chunks t, t + 128, ... (8 elements each) of its source row
//
//     src row   | blk 0 | blk 1 | ...        chunk c -> qload (its quants + its block's scales, __ldg)
//     out row i | c0 c1 c2 ...               -> qwiden (exact fp32, as Quant.java) -> one rounding to O
//                                            -> store8 (16-byte stores)
//
// Kernels:
//   dequant_rows_<Q>_<O>(const Q* w, int tableRows, int in, const int* rows, int rowBase, int n, O* out,
//                        int outStride)                                   (Q x O: 15 kernels)
//       out[i][0 .. in) = decode(row rows[i]) when rows != null (a rows[i] outside [0, tableRows) writes
//       zeros, as gather_rows does), else decode(row rowBase + i). O = f32 is bit-exact.
//       Requirements (the host checks): in % kElems == 0, outStride % 8 == 0, out 16-byte aligned.
//       LAUNCH: grid = (n, 1, 1), block = (128, 1, 1), smem 0, no workspace.
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <stdint.h>
#include "attnrt_elem.cuh"
#include "attnrt_quant.cuh"

namespace {

template <typename Q, typename O>
__device__ __forceinline__ void dequant_rows_impl(const Q* w, int tableRows, int in, const int* rows, int rowBase,
                                                  O* out, int outStride) {
    const int i = blockIdx.x;
    const int src = rows != nullptr ? rows[i] : rowBase + i;
    O* dst = out + (long long)i * outStride;
    const int chunks = in >> 3;
    if (src < 0 || src >= tableRows) {
        const float zero[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (int c = threadIdx.x; c < chunks; c += blockDim.x) store8(dst + 8 * c, zero);
        return;
    }
    const uint8_t* row = qrow(w, src, in);
    for (int c = threadIdx.x; c < chunks; c += blockDim.x) {
        QChunk<Q> q;
        qload<false>(q, row, c);
        float v[8];
        qwiden(q, v);
        store8(dst + 8 * c, v);
    }
}

}  // namespace

#define DEQUANT_ARGS(Q, O) const Q* w, int tableRows, int in, const int* rows, int rowBase, int n, O* out, int outStride
#define DEQUANT_PASS w, tableRows, in, rows, rowBase, out, outStride

extern "C" __global__ void dequant_rows_q8_0_f32(DEQUANT_ARGS(q8_0, float)) { dequant_rows_impl(DEQUANT_PASS); }
extern "C" __global__ void dequant_rows_q8_0_f16(DEQUANT_ARGS(q8_0, __half)) { dequant_rows_impl(DEQUANT_PASS); }
extern "C" __global__ void dequant_rows_q8_0_bf16(DEQUANT_ARGS(q8_0, __nv_bfloat16)) { dequant_rows_impl(DEQUANT_PASS); }
extern "C" __global__ void dequant_rows_q4_0_f32(DEQUANT_ARGS(q4_0, float)) { dequant_rows_impl(DEQUANT_PASS); }
extern "C" __global__ void dequant_rows_q4_0_f16(DEQUANT_ARGS(q4_0, __half)) { dequant_rows_impl(DEQUANT_PASS); }
extern "C" __global__ void dequant_rows_q4_0_bf16(DEQUANT_ARGS(q4_0, __nv_bfloat16)) { dequant_rows_impl(DEQUANT_PASS); }
extern "C" __global__ void dequant_rows_q4_k_f32(DEQUANT_ARGS(q4_k, float)) { dequant_rows_impl(DEQUANT_PASS); }
extern "C" __global__ void dequant_rows_q4_k_f16(DEQUANT_ARGS(q4_k, __half)) { dequant_rows_impl(DEQUANT_PASS); }
extern "C" __global__ void dequant_rows_q4_k_bf16(DEQUANT_ARGS(q4_k, __nv_bfloat16)) { dequant_rows_impl(DEQUANT_PASS); }
extern "C" __global__ void dequant_rows_q5_k_f32(DEQUANT_ARGS(q5_k, float)) { dequant_rows_impl(DEQUANT_PASS); }
extern "C" __global__ void dequant_rows_q5_k_f16(DEQUANT_ARGS(q5_k, __half)) { dequant_rows_impl(DEQUANT_PASS); }
extern "C" __global__ void dequant_rows_q5_k_bf16(DEQUANT_ARGS(q5_k, __nv_bfloat16)) { dequant_rows_impl(DEQUANT_PASS); }
extern "C" __global__ void dequant_rows_q6_k_f32(DEQUANT_ARGS(q6_k, float)) { dequant_rows_impl(DEQUANT_PASS); }
extern "C" __global__ void dequant_rows_q6_k_f16(DEQUANT_ARGS(q6_k, __half)) { dequant_rows_impl(DEQUANT_PASS); }
extern "C" __global__ void dequant_rows_q6_k_bf16(DEQUANT_ARGS(q6_k, __nv_bfloat16)) { dequant_rows_impl(DEQUANT_PASS); }
