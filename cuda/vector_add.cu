// vector_add.cu — the smallest kernel attnrt ships: it proves the build turns cuda/*.cu into PTX
// that the runtime can load, and gives the CUDA backend a smoke test.
//
// Layout: one thread per element, a 1-D grid of 1-D blocks.
//
//   element i = blockIdx.x * blockDim.x + threadIdx.x
//   a[i], b[i], out[i] : fp32 in global memory (HBM), read once and written once
//
extern "C" __global__ void vector_add(const float* a, const float* b, float* out, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = a[i] + b[i];
}
