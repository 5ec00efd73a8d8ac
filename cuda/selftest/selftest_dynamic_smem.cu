// selftest_dynamic_smem.cu — dynamic shared memory (extern __shared__), sized at launch.
//
// selftest_dynamic_smem(in, out, n): 1-D grid of 1-D blocks, dynamic smem = blockDim.x * 4 bytes.
// Block b owns the chunk [base, base + len) with base = b * blockDim.x, len = min(blockDim.x, n - base),
// and writes it reversed:  out[base + t] = in[base + len - 1 - t]  for t < len.
//
//   in  chunk:  x0 x1 ... x(len-1)  --(thread t stores x_t)-->  buf[t]   (dynamic shared)
//   __syncthreads()
//   out chunk:  buf[len-1-t] for thread t
extern "C" __global__ void selftest_dynamic_smem(const float* __restrict__ in, float* __restrict__ out, int n) {
    extern __shared__ float buf[];
    const int base = blockIdx.x * blockDim.x;
    const int t = threadIdx.x;
    const int len = min((int)blockDim.x, n - base);
    if (t < len) buf[t] = in[base + t];
    __syncthreads();
    if (t < len) out[base + t] = buf[len - 1 - t];
}
