// selftest_fault.cu — kernels that stop on purpose, so tests can check that a device-side fault
// reaches the host as a launch error (CUDA_ERROR_LAUNCH_FAILED / an assert error on a real GPU,
// where it also ruins the context: run these only on the emulated device).
//
// selftest_trap(out, n, trapIndex): 1-D grid of 1-D blocks; thread i < n writes out[i] = i; the thread
//   with i == trapIndex calls __trap() first (trapIndex < 0: nobody traps).
// selftest_assert_positive(in, n): assert(in[i] > 0) for every i < n.
#include <assert.h>

extern "C" __global__ void selftest_trap(float* out, int n, int trapIndex) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i == trapIndex) __trap();
    if (i < n) out[i] = (float)i;
}

extern "C" __global__ void selftest_assert_positive(const float* in, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) assert(in[i] > 0.0f);
}
