// selftest_smem_limits.cu — kernels whose static shared memory is known exactly, so tests can check the
// per-block shared-memory limit (static + dynamic <= 48 KB, or the opt-in maximum after cuFuncSetAttribute)
// and cuFuncGetAttribute(SHARED_SIZE_BYTES) against what ptxas allocates.
//
// selftest_smem_48k(out): grid (1), block (256), static smem 48 KB exactly (12288 floats), dynamic smem
//   whatever the launch asks for (the test asks for too much). Thread t writes tile[t*48..] and out[t] =
//   tile[(t+1)%256 * 48] = (t+1)%256 after a barrier, so the kernel really uses all of the tile.
// selftest_smem_mixed(out): grid (1), block (32): a 3-byte char array and a 5-double array (the second at
//   8-byte alignment: 48 bytes static in all) plus dynamic smem of blockDim.x floats; out[t] = t + 1 read
//   back through all three.
extern "C" __global__ void selftest_smem_48k(float* out) {
    __shared__ float tile[12 * 1024];
    const int t = threadIdx.x;
    for (int i = 0; i < 48; ++i) tile[t * 48 + i] = (float)t;
    __syncthreads();
    out[t] = tile[((t + 1) % blockDim.x) * 48];
}

extern "C" __global__ void selftest_smem_mixed(float* out) {
    __shared__ char small[3];
    __shared__ double wide[5];
    extern __shared__ float dyn[];
    const int t = threadIdx.x;
    if (t < 3) small[t] = (char)(t + 1);
    if (t < 5) wide[t] = t + 1.0;
    dyn[t] = (float)(t + 1);
    __syncthreads();
    const float a = t < 3 ? (float)small[t] : 0.0f;
    const float b = t < 5 ? (float)wide[t] : 0.0f;
    out[t] = t < 3 ? a : (t < 5 ? b : dyn[t]);
}
