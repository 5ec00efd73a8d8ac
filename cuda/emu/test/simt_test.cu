// simt_test.cu — tests of the SIMT emulation itself (fibers, shuffled order, shared memory, warp
// collectives, atomics, async copies, fault detection). Compiled like any kernel source (g++ with
// attnrt_emu.h force-included, rewritten by emu-kernels.sh's rules) but linked with the runtime into
// one program, so it can set the fiber-order seed per launch. Built and run by run.sh.
#include <attnrt_mma.cuh>

#include <chrono>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace attnrt_emu {
void set_seed_for_testing(unsigned long long seed);
void set_sequential_for_testing(bool sequential);
}  // namespace attnrt_emu

// ---- kernels ---------------------------------------------------------------------------------------------

// out[t] = in[t-1] through shared memory; `sync` = 0 drops the __syncthreads. Thread t reads what thread
// t-1 wrote, so a plain in-order emulation runs the broken version correctly by luck.
extern "C" __global__ void shift_through_smem(const int* in, int* out, int sync) {
    __shared__ int s[1024];
    const int t = threadIdx.x;
    const int base = blockIdx.x * blockDim.x;
    s[t] = in[base + t];
    if (sync) __syncthreads();
    out[base + t] = t > 0 ? s[t - 1] : -1;
}

// The warp-level version: lanes exchange through shared memory; `sync` = 0 drops the __syncwarp.
extern "C" __global__ void warp_neighbour(const int* in, int* out, int sync) {
    __shared__ int s[256];
    const int t = threadIdx.x;
    s[t] = in[t];
    if (sync) __syncwarp();
    out[t] = s[t ^ 1];
}

// Every block records its own index in static shared memory, lets the other threads of the block run
// (and other blocks on other workers), then every thread reports what it sees.
__device__ int read_block_tag(int tag_in) {
    static __shared__ int helper_tag;  // a static __shared__ inside a __device__ function
    if (threadIdx.x == 0) helper_tag = tag_in;
    __syncthreads();
    return helper_tag;
}

extern "C" __global__ void shared_is_per_block(int* out, int* helper_out) {
    __shared__ int owner;
    __shared__ float payload[64];
    if (threadIdx.x == 0) owner = blockIdx.x;
    if (threadIdx.x < 64) payload[threadIdx.x] = blockIdx.x * 1000.0f + threadIdx.x;
    __syncthreads();
    for (int i = 0; i < 4; ++i) __nanosleep(100);  // scheduling points while other blocks run
    const int idx = blockIdx.x * blockDim.x + threadIdx.x;
    out[idx] = owner + (payload[threadIdx.x % 64] == blockIdx.x * 1000.0f + threadIdx.x % 64 ? 0 : 1000000);
    helper_out[idx] = read_block_tag(blockIdx.x * 7);
}

// Reads shared memory nobody wrote in this block.
extern "C" __global__ void read_unwritten_smem(unsigned* out_static, unsigned* out_dynamic) {
    __shared__ unsigned never_written[32];
    extern __shared__ unsigned dyn[];
    out_static[threadIdx.x] = never_written[threadIdx.x];
    out_dynamic[threadIdx.x] = dyn[threadIdx.x];
}

extern "C" __global__ void barrier_reductions(const int* pred, int* count, int* all, int* any) {
    const int p = pred[threadIdx.x];
    const int c = __syncthreads_count(p);
    const int a = __syncthreads_and(p);
    const int o = __syncthreads_or(p);
    count[threadIdx.x] = c;
    all[threadIdx.x] = a;
    any[threadIdx.x] = o;
}

// Every shuffle variant with a sub-warp width.
extern "C" __global__ void shuffle_widths(const int* in, int* out, int width, int b) {
    const int t = threadIdx.x;
    const int v = in[t];
    out[4 * t + 0] = __shfl_sync(0xffffffffu, v, b, width);
    out[4 * t + 1] = __shfl_up_sync(0xffffffffu, v, b, width);
    out[4 * t + 2] = __shfl_down_sync(0xffffffffu, v, b, width);
    out[4 * t + 3] = __shfl_xor_sync(0xffffffffu, v, b, width);
}

// A block of 48 threads: warp 1 has lanes 0-15 only. Full-mask collectives work over the existing lanes;
// a value read from a lane that does not exist is undefined (the emulator gives the poison).
extern "C" __global__ void partial_warp(const float* in, float* sum, unsigned* ballot, float* from_missing) {
    const int t = threadIdx.x;
    float v = in[t];
    for (int o = 8; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);  // sums of 16-lane halves
    const unsigned bits = __ballot_sync(0xffffffffu, in[t] > 0);
    const float missing = __shfl_sync(0xffffffffu, in[t], 31);  // lane 31 does not exist in warp 1
    sum[t] = v;
    ballot[t] = bits;
    from_missing[t] = missing;
}

// Half-warp collectives with disjoint masks at the same time.
extern "C" __global__ void half_warp_masks(const int* in, int* out) {
    const int t = threadIdx.x;
    const unsigned mask = t < 16 ? 0x0000ffffu : 0xffff0000u;
    int v = in[t];
    for (int o = 8; o > 0; o >>= 1) v += __shfl_xor_sync(mask, v, o);
    out[t] = v;
}

extern "C" __global__ void atomics(int* isum, unsigned* umax, float* fsum, int* imin, unsigned* exch, unsigned* cas_count) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    atomicAdd(isum, i % 7 - 3);
    atomicMax(umax, (unsigned)(i * 2654435761u % 1000003u));
    atomicAdd(fsum, (float)(i % 5));  // small integers: exact in any order
    atomicMin(imin, -(i % 1009));
    atomicExch(exch, (unsigned)i);
    unsigned old = *cas_count, assumed;
    do {
        assumed = old;
        old = atomicCAS(cas_count, assumed, assumed + 1u);
    } while (old != assumed);
}

// cp.async: the destination is undefined until the group is retired; wait_group<1> retires all but
// the newest group.
extern "C" __global__ void cp_async_groups(const float4* src, float* seen) {
    __shared__ __align__(16) float4 a[1], b[1];
    if (threadIdx.x != 0) return;
    attnrt_cp_async_cg16(a, src);
    attnrt_cp_async_commit();
    attnrt_cp_async_cg16(b, src + 1);
    attnrt_cp_async_commit();
    seen[0] = a[0].x;  // before any wait: poison
    attnrt_cp_async_wait_group<1>();
    seen[1] = a[0].x;  // group 0 retired
    seen[2] = b[0].x;  // group 1 still in flight: poison
    attnrt_cp_async_wait_group<0>();
    seen[3] = b[0].x;
    __shared__ __align__(16) float4 z[1];
    attnrt_cp_async_cg16_zfill(z, src + 2, 8);  // 2 floats read, 2 zero-filled
    attnrt_cp_async_ca<8>(&z[0].z, src);        // then z.z, z.w = src[0].x, src[0].y (issue order)
    attnrt_cp_async_wait_all();
    seen[4] = z[0].x;
    seen[5] = z[0].y;
    seen[6] = z[0].z;
    seen[7] = z[0].w;
}

// Several warps, each its own mma tile: per-warp collective state must not mix.
extern "C" __global__ void mma_per_warp(const __half* A, const __half* B, float* D) {
    __shared__ __align__(16) __half As[4][16 * 16];
    __shared__ __align__(16) __half Bs[4][16 * 8];
    const int w = threadIdx.x / 32, lane = threadIdx.x % 32;
    for (int k = lane; k < 256; k += 32) As[w][k] = A[w * 256 + k];
    for (int k = lane; k < 128; k += 32) Bs[w][k] = B[w * 128 + k];
    __syncwarp();
    uint32_t a[4], b[2];
    attnrt_ldmatrix_x4(a, &As[w][(lane % 16) * 16 + 8 * (lane / 16)]);
    attnrt_ldmatrix_x2_trans(b, &Bs[w][(lane % 16) * 8]);
    float d[4] = {0, 0, 0, 0};
    attnrt_mma_m16n8k16_f16(d, a, b, d);
    const int r = lane / 4, c = 2 * (lane % 4);
    float* Dw = D + w * 128;
    Dw[r * 8 + c] = d[0];
    Dw[r * 8 + c + 1] = d[1];
    Dw[(r + 8) * 8 + c] = d[2];
    Dw[(r + 8) * 8 + c + 1] = d[3];
}

// Kernels that misuse the device; each must end in a fault, not a hang or a wrong answer.
extern "C" __global__ void bad_mask(int* out) { out[threadIdx.x] = __shfl_sync(0x0000ffffu, 1, 0); }
extern "C" __global__ void bad_exited_lane(int* out) {
    if (threadIdx.x == 3) return;
    out[threadIdx.x] = __shfl_sync(0xffffffffu, 1, 0);
}
// Half a warp waits at the block barrier, the other half at a shuffle that needs the first half.
extern "C" __global__ void bad_divergent_barrier(int* out) {
    if (threadIdx.x % 32 < 16) __syncthreads();
    else out[threadIdx.x] = __shfl_sync(0xffffffffu, 1, 0);
}
extern "C" __global__ void bad_mixed_collectives(int* out) {
    if (threadIdx.x % 2) out[threadIdx.x] = __ballot_sync(0xffffffffu, 1);
    else out[threadIdx.x] = __shfl_sync(0xffffffffu, 1, 0);
}
extern "C" __global__ void bad_ldmatrix_alignment(int* out) {
    __shared__ __align__(16) __half tile[16 * 16 + 8];
    uint32_t r[1];
    attnrt_ldmatrix_x1(r, &tile[1 + 8 * (threadIdx.x % 8)]);
    out[threadIdx.x] = r[0];
}
extern "C" __global__ void bad_cp_async_alignment(const float* src) {
    __shared__ __align__(16) float dst[8];
    attnrt_cp_async_cg16(dst, src + 1);
    attnrt_cp_async_wait_all();
}
extern "C" __global__ void bad_mma_partial_warp(float* out) {
    const uint32_t a[4] = {0, 0, 0, 0}, b[2] = {0, 0};
    float d[4] = {0, 0, 0, 0};
    attnrt_mma_m16n8k16_f16(d, a, b, d);
    out[threadIdx.x] = d[0];
}

// A deep stack frame on a fiber (the default fiber stack is 256 KB).
extern "C" __global__ void big_stack_frame(float* out) {
    volatile float local[16384];  // 64 KB
    for (int i = 0; i < 16384; ++i) local[i] = float(i + threadIdx.x);
    float s = 0;
    for (int i = 0; i < 16384; i += 1024) s += local[i];
    out[threadIdx.x] = s;
}

// The cost of a fiber switch: many barriers in a full block.
extern "C" __global__ void many_barriers(int* out, int rounds) {
    __shared__ int s[1024];
    int acc = 0;
    for (int r = 0; r < rounds; ++r) {
        s[threadIdx.x] = r + threadIdx.x;
        __syncthreads();
        acc += s[(threadIdx.x + 1) % blockDim.x];
        __syncthreads();
    }
    out[blockIdx.x * blockDim.x + threadIdx.x] = acc;
}

// ---- host side ---------------------------------------------------------------------------------------------

namespace {

int g_failures = 0;
std::mt19937 g_rng(777);

#define CHECK(cond, ...)                                     \
    do {                                                     \
        if (!(cond)) {                                       \
            std::printf("    FAILED: " __VA_ARGS__);         \
            std::printf("   [%s:%d]\n", __FILE__, __LINE__); \
            ++g_failures;                                    \
            return;                                          \
        }                                                    \
    } while (0)

template <auto K, typename... A>
int launch(const char* name, dim3 grid, dim3 block, unsigned smem, A... args) {
    void* params[] = {static_cast<void*>(&args)..., nullptr};
    const unsigned g[3] = {grid.x, grid.y, grid.z};
    const unsigned b[3] = {block.x, block.y, block.z};
    return attnrt_emu::launch_kernel<K>(name, g, b, smem, params);
}
#define LAUNCH(K, ...) launch<&K>(#K, __VA_ARGS__)

std::vector<int> random_ints(size_t n) {
    std::uniform_int_distribution<int> d(1, 1 << 20);
    std::vector<int> v(n);
    for (auto& x : v) x = d(g_rng);
    return v;
}

void test_missing_syncthreads() {
    const int threads = 256, blocks = 4, seeds = 20;
    int broken_wrong = 0;
    for (int seed = 1; seed <= seeds; ++seed) {
        attnrt_emu::set_seed_for_testing(seed);
        const auto in = random_ints(threads * blocks);  // new data per run: stale smem cannot match
        std::vector<int> ref(in.size());
        for (int i = 0; i < threads * blocks; ++i) ref[i] = i % threads ? in[i - 1] : -1;
        std::vector<int> out(in.size());
        CHECK(LAUNCH(shift_through_smem, dim3(blocks), dim3(threads), 0, in.data(), out.data(), 1) == 0, "launch failed\n");
        CHECK(out == ref, "the correct kernel failed with seed %d\n", seed);
        CHECK(LAUNCH(shift_through_smem, dim3(blocks), dim3(threads), 0, in.data(), out.data(), 0) == 0, "launch failed\n");
        broken_wrong += out != ref;
    }
    attnrt_emu::set_sequential_for_testing(true);
    const auto in = random_ints(threads * blocks);
    std::vector<int> out(in.size()), ref(in.size());
    for (int i = 0; i < threads * blocks; ++i) ref[i] = i % threads ? in[i - 1] : -1;
    CHECK(LAUNCH(shift_through_smem, dim3(blocks), dim3(threads), 0, in.data(), out.data(), 0) == 0, "launch failed\n");
    attnrt_emu::set_sequential_for_testing(false);
    const bool sequential_passes = out == ref;
    std::printf("    missing __syncthreads: wrong for %d of %d seeds; in thread order it %s\n", broken_wrong, seeds,
                sequential_passes ? "passes by luck" : "fails");
    CHECK(sequential_passes, "the in-order schedule was expected to hide this bug\n");
    CHECK(broken_wrong >= seeds - 1, "the shuffle caught the missing __syncthreads for only %d of %d seeds\n", broken_wrong,
          seeds);
}

void test_missing_syncwarp() {
    const int seeds = 20;
    int broken_wrong = 0;
    for (int seed = 1; seed <= seeds; ++seed) {
        attnrt_emu::set_seed_for_testing(1000 + seed);
        const auto in = random_ints(256);
        std::vector<int> ref(256), out(256);
        for (int t = 0; t < 256; ++t) ref[t] = in[t ^ 1];
        CHECK(LAUNCH(warp_neighbour, dim3(1), dim3(256), 0, in.data(), out.data(), 1) == 0, "launch failed\n");
        CHECK(out == ref, "the correct kernel failed with seed %d\n", seed);
        CHECK(LAUNCH(warp_neighbour, dim3(1), dim3(256), 0, in.data(), out.data(), 0) == 0, "launch failed\n");
        broken_wrong += out != ref;
    }
    std::printf("    missing __syncwarp: wrong for %d of %d seeds\n", broken_wrong, seeds);
    CHECK(broken_wrong >= seeds - 1, "the shuffle caught the missing __syncwarp for only %d of %d seeds\n", broken_wrong, seeds);
}

void test_shared_per_block() {
    const int blocks = 200, threads = 96;
    std::vector<int> out(blocks * threads), helper(blocks * threads);
    CHECK(LAUNCH(shared_is_per_block, dim3(blocks), dim3(threads), 0, out.data(), helper.data()) == 0, "launch failed\n");
    for (int i = 0; i < blocks * threads; ++i) {
        CHECK(out[i] == i / threads, "thread %d of block %d saw shared owner %d\n", i % threads, i / threads, out[i]);
        CHECK(helper[i] == 7 * (i / threads), "static __shared__ in a __device__ function: %d\n", helper[i]);
    }
}

void test_unwritten_smem_is_poisoned() {
    std::vector<unsigned> s(32), d(32);
    CHECK(LAUNCH(read_unwritten_smem, dim3(3), dim3(32), 128, s.data(), d.data()) == 0, "launch failed\n");
    for (int t = 0; t < 32; ++t) {
        CHECK(s[t] == 0xffffffffu, "static smem read 0x%08x, not the poison\n", s[t]);
        CHECK(d[t] == 0xffffffffu, "dynamic smem read 0x%08x, not the poison\n", d[t]);
    }
}

void test_barrier_reductions() {
    for (int ones : {0, 1, 200, 256}) {
        std::vector<int> pred(256, 0);
        for (int i = 0; i < ones; ++i) pred[(i * 37) % 256] = 5;
        std::vector<int> count(256), all(256), any(256);
        CHECK(LAUNCH(barrier_reductions, dim3(1), dim3(256), 0, pred.data(), count.data(), all.data(), any.data()) == 0, "launch\n");
        for (int t = 0; t < 256; ++t) {
            CHECK(count[t] == ones, "__syncthreads_count %d, expected %d\n", count[t], ones);
            CHECK(all[t] == (ones == 256), "__syncthreads_and %d\n", all[t]);
            CHECK(any[t] == (ones > 0), "__syncthreads_or %d\n", any[t]);
        }
    }
}

void test_shuffle_widths() {
    const auto in = random_ints(64);
    for (int width : {2, 4, 8, 16, 32}) {
        for (int b : {0, 1, 3, 6, 9}) {
            std::vector<int> out(4 * 64);
            CHECK(LAUNCH(shuffle_widths, dim3(1), dim3(64), 0, in.data(), out.data(), width, b) == 0, "launch failed\n");
            for (int t = 0; t < 64; ++t) {
                const int lane = t % 32, warp0 = t - lane;
                const int seg = lane - lane % width;  // first lane of this lane's segment
                const int idx = seg + b % width;
                const int up = lane % width >= b ? lane - b : lane;
                const int down = lane % width + b < width ? lane + b : lane;
                const int x = lane ^ b;
                const int bfly = x < seg + width ? x : lane;  // later segments are out of reach
                CHECK(out[4 * t] == in[warp0 + idx], "width %d: __shfl_sync(%d) at lane %d\n", width, b, lane);
                CHECK(out[4 * t + 1] == in[warp0 + up], "width %d: __shfl_up_sync(%d) at lane %d\n", width, b, lane);
                CHECK(out[4 * t + 2] == in[warp0 + down], "width %d: __shfl_down_sync(%d) at lane %d\n", width, b, lane);
                CHECK(out[4 * t + 3] == in[warp0 + bfly], "width %d: __shfl_xor_sync(%d) at lane %d\n", width, b, lane);
            }
        }
    }
}

void test_partial_warp() {
    std::vector<float> in(48);
    std::uniform_real_distribution<float> d(-1, 1);
    for (auto& x : in) x = d(g_rng);
    std::vector<float> sum(48), missing(48);
    std::vector<unsigned> ballot(48);
    CHECK(LAUNCH(partial_warp, dim3(1), dim3(48), 0, in.data(), sum.data(), ballot.data(), missing.data()) == 0, "launch\n");
    double s1 = 0;
    unsigned b1 = 0;
    for (int l = 0; l < 16; ++l) {
        s1 += in[32 + l];
        if (in[32 + l] > 0) b1 |= 1u << l;
    }
    for (int l = 0; l < 16; ++l) {
        CHECK(std::fabs(sum[32 + l] - s1) < 1e-5, "partial warp sum %g, expected %g\n", sum[32 + l], s1);
        CHECK(ballot[32 + l] == b1, "partial warp ballot 0x%08x, expected 0x%08x\n", ballot[32 + l], b1);
        uint32_t bits;
        std::memcpy(&bits, &missing[32 + l], 4);
        CHECK(bits == 0xffffffffu, "a shuffle from a missing lane gave 0x%08x, not the poison\n", bits);
    }
    CHECK(missing[0] == in[31], "full warp: lane 31's value %g, expected %g\n", missing[0], in[31]);
    double s0 = 0;
    for (int l = 16; l < 32; ++l) s0 += in[l];
    CHECK(std::fabs(sum[20] - s0) < 1e-5, "full warp, upper half sum %g, expected %g\n", sum[20], s0);
}

void test_half_warp_masks() {
    const auto in = random_ints(32);
    std::vector<int> out(32);
    CHECK(LAUNCH(half_warp_masks, dim3(1), dim3(32), 0, in.data(), out.data()) == 0, "launch failed\n");
    int lo = 0, hi = 0;
    for (int t = 0; t < 16; ++t) lo += in[t];
    for (int t = 16; t < 32; ++t) hi += in[t];
    for (int t = 0; t < 32; ++t) CHECK(out[t] == (t < 16 ? lo : hi), "lane %d: %d\n", t, out[t]);
}

void test_atomics() {
    const int blocks = 300, threads = 128, n = blocks * threads;
    int isum = 0, imin = 0;
    unsigned umax = 0, exch = 0xffffffffu, cas = 0;
    float fsum = 0;
    CHECK(LAUNCH(atomics, dim3(blocks), dim3(threads), 0, &isum, &umax, &fsum, &imin, &exch, &cas) == 0, "launch failed\n");
    long long rsum = 0;
    unsigned rmax = 0;
    double rf = 0;
    int rmin = 0;
    for (int i = 0; i < n; ++i) {
        rsum += i % 7 - 3;
        rmax = std::max(rmax, (unsigned)(i * 2654435761u % 1000003u));
        rf += i % 5;
        rmin = std::min(rmin, -(i % 1009));
    }
    CHECK(isum == rsum, "atomicAdd int %d, expected %lld\n", isum, rsum);
    CHECK(umax == rmax, "atomicMax %u, expected %u\n", umax, rmax);
    CHECK(fsum == rf, "atomicAdd float %g, expected %g\n", fsum, rf);
    CHECK(imin == rmin, "atomicMin %d, expected %d\n", imin, rmin);
    CHECK(exch < (unsigned)n, "atomicExch left %u\n", exch);
    CHECK(cas == (unsigned)n, "atomicCAS loop counted %u, expected %d\n", cas, n);
}

void test_cp_async_groups() {
    std::vector<float4> src = {make_float4(1, 2, 3, 4), make_float4(5, 6, 7, 8), make_float4(9, 10, 11, 12)};
    std::vector<float> seen(8, 0);
    CHECK(LAUNCH(cp_async_groups, dim3(1), dim3(32), 0, src.data(), seen.data()) == 0, "launch failed\n");
    CHECK(std::isnan(seen[0]), "destination read before any wait: %g\n", seen[0]);
    CHECK(seen[1] == 1, "group 0 after wait_group<1>: %g\n", seen[1]);
    CHECK(std::isnan(seen[2]), "group 1 after wait_group<1> (still in flight): %g\n", seen[2]);
    CHECK(seen[3] == 5, "group 1 after wait_group<0>: %g\n", seen[3]);
    CHECK(seen[4] == 9 && seen[5] == 10, "zfill copied %g %g\n", seen[4], seen[5]);
    CHECK(seen[6] == 1 && seen[7] == 2, "cp.async.ca<8> copied %g %g\n", seen[6], seen[7]);
}

void test_mma_per_warp() {
    std::uniform_real_distribution<float> d(-1, 1);
    std::vector<__half> A(4 * 256), B(4 * 128);
    for (auto& x : A) x = __float2half_rn(d(g_rng));
    for (auto& x : B) x = __float2half_rn(d(g_rng));
    std::vector<float> D(4 * 128);
    CHECK(LAUNCH(mma_per_warp, dim3(1), dim3(128), 0, A.data(), B.data(), D.data()) == 0, "launch failed\n");
    for (int w = 0; w < 4; ++w)
        for (int m = 0; m < 16; ++m)
            for (int n = 0; n < 8; ++n) {
                double acc = 0;
                for (int k = 0; k < 16; ++k) acc += double(__half2float(A[w * 256 + m * 16 + k])) * __half2float(B[w * 128 + k * 8 + n]);
                CHECK(std::fabs(D[w * 128 + m * 8 + n] - acc) < 2e-5, "warp %d D[%d][%d] = %g, expected %g\n", w, m, n,
                      D[w * 128 + m * 8 + n], acc);
            }
}

void test_faults() {
    std::vector<int> out(1024);
    std::vector<float> fout(1024), src(64, 1.0f);
    CHECK(LAUNCH(bad_mask, dim3(1), dim3(32), 0, out.data()) == ATTNRT_EMU_FAULT, "a lane outside its mask was not reported\n");
    CHECK(LAUNCH(bad_exited_lane, dim3(1), dim3(32), 0, out.data()) == ATTNRT_EMU_FAULT, "a collective naming an exited lane was not reported\n");
    CHECK(LAUNCH(bad_divergent_barrier, dim3(1), dim3(64), 0, out.data()) == ATTNRT_EMU_FAULT, "a barrier/collective deadlock was not reported\n");
    CHECK(LAUNCH(bad_mixed_collectives, dim3(1), dim3(32), 0, out.data()) == ATTNRT_EMU_FAULT, "mixed collectives were not reported\n");
    CHECK(LAUNCH(bad_ldmatrix_alignment, dim3(1), dim3(32), 0, out.data()) == ATTNRT_EMU_FAULT, "a misaligned ldmatrix was not reported\n");
    CHECK(LAUNCH(bad_cp_async_alignment, dim3(1), dim3(1), 0, src.data()) == ATTNRT_EMU_FAULT, "a misaligned cp.async was not reported\n");
    CHECK(LAUNCH(bad_mma_partial_warp, dim3(1), dim3(48), 0, fout.data()) == ATTNRT_EMU_FAULT, "mma in a partial warp was not reported\n");
    CHECK(LAUNCH(bad_mma_partial_warp, dim3(2), dim3(64), 0, fout.data()) == 0, "mma with full warps failed\n");
}

void test_big_stack_frame() {
    std::vector<float> out(64);
    CHECK(LAUNCH(big_stack_frame, dim3(2), dim3(64), 0, out.data()) == 0, "launch failed\n");
    for (int t = 0; t < 64; ++t) {
        float s = 0;
        for (int i = 0; i < 16384; i += 1024) s += float(i + t);
        CHECK(out[t] == s, "thread %d: %g, expected %g\n", t, out[t], s);
    }
}

void test_switch_cost() {
    const int blocks = 16, threads = 1024, rounds = 20;
    std::vector<int> out(blocks * threads);
    const auto start = std::chrono::steady_clock::now();
    CHECK(LAUNCH(many_barriers, dim3(blocks), dim3(threads), 0, out.data(), rounds) == 0, "launch failed\n");
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (int i = 0; i < blocks * threads; ++i) {
        const int t = i % threads;
        long long acc = 0;
        for (int r = 0; r < rounds; ++r) acc += r + (t + 1) % threads;
        CHECK(out[i] == acc, "thread %d: %d, expected %lld\n", t, out[i], acc);
    }
    const double switches = 2.0 * 2 * rounds * blocks * threads;  // to and from the scheduler per barrier
    std::printf("    %d barriers x %d threads x %d blocks: %.1f ms (%.0f ns per fiber switch)\n", 2 * rounds, threads, blocks,
                s * 1e3, s * 1e9 / switches);
}

}  // namespace

int main() {
    const std::pair<const char*, std::function<void()>> tests[] = {
        {"missing __syncthreads is caught by the shuffle", test_missing_syncthreads},
        {"missing __syncwarp is caught by the shuffle", test_missing_syncwarp},
        {"static shared memory is per block", test_shared_per_block},
        {"unwritten shared memory reads the poison", test_unwritten_smem_is_poisoned},
        {"__syncthreads_count/and/or", test_barrier_reductions},
        {"shuffles with sub-warp widths", test_shuffle_widths},
        {"partial warp collectives", test_partial_warp},
        {"disjoint half-warp masks", test_half_warp_masks},
        {"atomics across blocks and threads", test_atomics},
        {"cp.async groups land at their wait", test_cp_async_groups},
        {"mma in several warps of a block", test_mma_per_warp},
        {"misuse ends in a fault", test_faults},
        {"64 KB stack frame on a fiber", test_big_stack_frame},
        {"fiber switch cost", test_switch_cost},
    };
    for (const auto& t : tests) {
        const int before = g_failures;
        t.second();
        std::printf("%s %s\n", g_failures == before ? "PASS" : "FAIL", t.first);
    }
    std::printf(g_failures ? "simt_test: %d FAILURE(S)\n" : "simt_test: all passed\n", g_failures);
    return g_failures ? 1 : 0;
}
