// selftest_mma.cu — one warp computes D (16x8, fp32) = A (16x16) * B (16x8) with one
// mma.m16n8k16 after staging the tiles in shared memory and loading the fragments with ldmatrix.
// Every ldmatrix form (.x1/.x2/.x4, with and without .trans) is used by at least one kernel.
// Launch: grid (1), block (32). Global inputs row-major, no alignment needed (copied element-wise).
//
//   A (16x16, row-major) -> As[16][16]            a-fragments: ldmatrix.x4, lane l -> &As[l%16][8*(l/16)]
//        8x8 submatrices:  m0 = rows 0-7 / cols 0-7 (a0,a1)    m2 = rows 0-7 / cols 8-15 (a4,a5)
//                          m1 = rows 8-15 / cols 0-7 (a2,a3)   m3 = rows 8-15 / cols 8-15 (a6,a7)
//   B (16x8, row-major, k rows of 8 n-values) -> Bs[16][8]
//                                                  b-fragments: ldmatrix.x2.trans, lane l -> &Bs[l%16][0]
//        m0 = k rows 0-7 (b0,b1), m1 = k rows 8-15 (b2,b3); .trans turns the k-major rows into the
//        "col" fragment (b_i at k = 2*(l%4) + i, n = l/4)
//   D fragments d0..d3 -> D[row][col], row = l/4 (+8 for d2,d3), col = 2*(l%4) + (i&1)
//
// Kernels:
//   selftest_mma_f16(A, B, D)        f16, ldmatrix.x4 for A, .x2.trans for B, C = 0.
//   selftest_mma_bf16(A, B, D)       the same with bf16 inputs.
//   selftest_mma_f16_bt(A, Bt, D)    B given n-major as Bt (8x16 row-major, Bt[n][k] = B[k][n]) ->
//                                    Bts[8][16], ldmatrix.x2 (no .trans): lane l -> &Bts[l%8][8*((l/8)%2)].
//   selftest_mma_f16_x1(A, B, D)     A with four ldmatrix.x1 (lane l%8 -> row of each submatrix) and B
//                                    with two ldmatrix.x1.trans.
//   selftest_mma_f16_at(At, B, D)    A given transposed as At (16x16 row-major, At[k][m] = A[m][k]) ->
//                                    Ats, ldmatrix.x4.trans: lane l -> &Ats[(l%8) + 8*(l/16)][8*((l/8)%2)];
//                                    accumulates: D = A*B + D (C fragments loaded from D).
#include <attnrt_mma.cuh>

template <typename T>
__device__ __forceinline__ void stage(T* dst, const T* src, int count) {
    for (int k = threadIdx.x; k < count; k += 32) dst[k] = src[k];
}

__device__ __forceinline__ void store_d(float* D, const float (&d)[4]) {
    const int lane = threadIdx.x;
    const int row = lane >> 2, col = 2 * (lane & 3);
    D[row * 8 + col] = d[0];
    D[row * 8 + col + 1] = d[1];
    D[(row + 8) * 8 + col] = d[2];
    D[(row + 8) * 8 + col + 1] = d[3];
}

template <typename T, bool kBf16>
__device__ __forceinline__ void mma_a_rowmajor_b_kmajor(const T* A, const T* B, float* D) {
    __shared__ __align__(16) T As[16 * 16];
    __shared__ __align__(16) T Bs[16 * 8];
    stage(As, A, 16 * 16);
    stage(Bs, B, 16 * 8);
    __syncthreads();
    const int lane = threadIdx.x;
    uint32_t a[4], b[2];
    attnrt_ldmatrix_x4(a, &As[(lane % 16) * 16 + 8 * (lane / 16)]);
    attnrt_ldmatrix_x2_trans(b, &Bs[(lane % 16) * 8]);
    const float c[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    float d[4];
    if (kBf16) {
        attnrt_mma_m16n8k16_bf16(d, a, b, c);
    } else {
        attnrt_mma_m16n8k16_f16(d, a, b, c);
    }
    store_d(D, d);
}

extern "C" __global__ void __launch_bounds__(32) selftest_mma_f16(const __half* A, const __half* B, float* D) {
    mma_a_rowmajor_b_kmajor<__half, false>(A, B, D);
}

extern "C" __global__ void __launch_bounds__(32) selftest_mma_bf16(const __nv_bfloat16* A, const __nv_bfloat16* B, float* D) {
    mma_a_rowmajor_b_kmajor<__nv_bfloat16, true>(A, B, D);
}

extern "C" __global__ void __launch_bounds__(32) selftest_mma_f16_bt(const __half* A, const __half* Bt, float* D) {
    __shared__ __align__(16) __half As[16 * 16];
    __shared__ __align__(16) __half Bts[8 * 16];
    stage(As, A, 16 * 16);
    stage(Bts, Bt, 8 * 16);
    __syncthreads();
    const int lane = threadIdx.x;
    uint32_t a[4], b[2];
    attnrt_ldmatrix_x4(a, &As[(lane % 16) * 16 + 8 * (lane / 16)]);
    attnrt_ldmatrix_x2(b, &Bts[(lane % 8) * 16 + 8 * ((lane / 8) % 2)]);
    const float c[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    float d[4];
    attnrt_mma_m16n8k16_f16(d, a, b, c);
    store_d(D, d);
}

extern "C" __global__ void __launch_bounds__(32) selftest_mma_f16_x1(const __half* A, const __half* B, float* D) {
    __shared__ __align__(16) __half As[16 * 16];
    __shared__ __align__(16) __half Bs[16 * 8];
    stage(As, A, 16 * 16);
    stage(Bs, B, 16 * 8);
    __syncthreads();
    const int r = threadIdx.x % 8;  // .x1 reads the addresses of lanes 0-7
    uint32_t a[4], b[2];
    for (int j = 0; j < 4; ++j) {
        // submatrix j: rows 8*(j%2) .. +7, cols 8*(j/2) .. +7  (a0a1, a2a3, a4a5, a6a7)
        uint32_t reg[1];
        attnrt_ldmatrix_x1(reg, &As[(8 * (j % 2) + r) * 16 + 8 * (j / 2)]);
        a[j] = reg[0];
    }
    for (int j = 0; j < 2; ++j) {
        uint32_t reg[1];
        attnrt_ldmatrix_x1_trans(reg, &Bs[(8 * j + r) * 8]);
        b[j] = reg[0];
    }
    const float c[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    float d[4];
    attnrt_mma_m16n8k16_f16(d, a, b, c);
    store_d(D, d);
}

extern "C" __global__ void __launch_bounds__(32) selftest_mma_f16_at(const __half* At, const __half* B, float* D) {
    __shared__ __align__(16) __half Ats[16 * 16];
    __shared__ __align__(16) __half Bs[16 * 8];
    stage(Ats, At, 16 * 16);
    stage(Bs, B, 16 * 8);
    __syncthreads();
    const int lane = threadIdx.x;
    uint32_t a[4], b[2];
    // Stored matrix rows are k, columns m; .trans hands out A[m][k] in the "row" fragment order.
    attnrt_ldmatrix_x4_trans(a, &Ats[((lane % 8) + 8 * (lane / 16)) * 16 + 8 * ((lane / 8) % 2)]);
    attnrt_ldmatrix_x2_trans(b, &Bs[(lane % 16) * 8]);
    const int row = lane >> 2, col = 2 * (lane & 3);
    float acc[4] = {D[row * 8 + col], D[row * 8 + col + 1], D[(row + 8) * 8 + col], D[(row + 8) * 8 + col + 1]};
    attnrt_mma_m16n8k16_f16(acc, a, b, acc);
    store_d(D, acc);
}
