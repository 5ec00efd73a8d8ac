// handmade_kernels.cpp — a hand-written kernel library for cuda/vector_add.cu, implementing the emulator's
// kernel-library ABI (see cuda/emu/driver/emu_driver.cpp). Test-only: it lets the fake driver be tested end
// to end before scripts/emu-kernels.sh (the SIMT emulation that compiles cuda/*.cu itself) is available;
// build-emulator.sh uses it only when that script is missing.

extern "C" {
typedef int (*attnrt_emu_launch_fn)(const unsigned grid[3], const unsigned block[3],
                                    unsigned dynamic_smem_bytes, void** kernel_params);
typedef struct {
    const char* name;
    attnrt_emu_launch_fn launch;
    unsigned max_dynamic_smem;
} attnrt_emu_kernel;
}

namespace {

// vector_add(const float* a, const float* b, float* out, int n): one thread per element, i = block * dim + t.
int vectorAdd(const unsigned grid[3], const unsigned block[3], unsigned, void** params) {
    const float* a = *static_cast<const float* const*>(params[0]);
    const float* b = *static_cast<const float* const*>(params[1]);
    float* out = *static_cast<float* const*>(params[2]);
    int n = *static_cast<const int*>(params[3]);
    for (unsigned bz = 0; bz < grid[2]; bz++)
        for (unsigned by = 0; by < grid[1]; by++)
            for (unsigned bx = 0; bx < grid[0]; bx++)
                for (unsigned tz = 0; tz < block[2]; tz++)
                    for (unsigned ty = 0; ty < block[1]; ty++)
                        for (unsigned tx = 0; tx < block[0]; tx++) {
                            int i = (int)(bx * block[0] + tx);  // the kernel reads only the x dimensions
                            if (i < n) out[i] = a[i] + b[i];
                        }
    return 0;
}

const attnrt_emu_kernel kKernels[] = {
    {"vector_add", vectorAdd, 0},
};

}  // namespace

extern "C" __attribute__((visibility("default"))) const attnrt_emu_kernel* attnrt_emu_kernel_table(int* count) {
    *count = (int)(sizeof kKernels / sizeof kKernels[0]);
    return kKernels;
}

extern "C" __attribute__((visibility("default"))) unsigned long long attnrt_emu_seed(void) {
    return 0;  // no scheduling choices to randomise: threads run in index order
}
