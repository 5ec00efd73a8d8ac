// harness.cpp — runs every self-test kernel of an emulated kernel library through its C ABI table
// (dlopen, attnrt_emu_kernel_table, launch with cuLaunchKernel-style kernel params), exactly the way
// the fake driver will, and compares the results with plain C++ computations on random inputs.
//
//   harness LIB.so [--digest]
// --digest: only print a hash of selftest_transpose_nosync's output (for the reproducibility check
// in run.sh: the same ATTNRT_EMU_SEED must give the same interleaving).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <vector_types.h>

#include <dlfcn.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "attnrt_emu_abi.h"

namespace {

int g_failures = 0;
std::mt19937 g_rng;

#define CHECK(cond, ...)                                      \
    do {                                                      \
        if (!(cond)) {                                        \
            std::printf("    FAILED: " __VA_ARGS__);          \
            std::printf("   [%s:%d]\n", __FILE__, __LINE__);  \
            ++g_failures;                                     \
            return;                                           \
        }                                                     \
    } while (0)

class Library {
public:
    explicit Library(const char* path) {
        handle_ = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!handle_) {
            std::fprintf(stderr, "harness: dlopen %s: %s\n", path, dlerror());
            std::exit(2);
        }
        auto table = reinterpret_cast<const attnrt_emu_kernel* (*)(int*)>(dlsym(handle_, "attnrt_emu_kernel_table"));
        seed_ = reinterpret_cast<unsigned long long (*)()>(dlsym(handle_, "attnrt_emu_seed"));
        if (!table || !seed_) {
            std::fprintf(stderr, "harness: %s lacks the attnrt_emu ABI\n", path);
            std::exit(2);
        }
        int count = 0;
        const attnrt_emu_kernel* k = table(&count);
        for (int i = 0; i < count; ++i) kernels_[k[i].name] = k[i];
    }

    const std::map<std::string, attnrt_emu_kernel>& kernels() const { return kernels_; }
    unsigned long long seed() const { return seed_(); }
    void* symbol(const char* name) const { return dlsym(handle_, name); }

    // Launches like cuLaunchKernel: params[i] points at the value of parameter i.
    template <typename... A>
    int launch(const char* name, dim3 grid, dim3 block, unsigned smem, A... args) const {
        auto it = kernels_.find(name);
        if (it == kernels_.end()) {
            std::fprintf(stderr, "harness: kernel %s not in the table\n", name);
            std::exit(2);
        }
        void* params[] = {static_cast<void*>(&args)..., nullptr};
        const unsigned g[3] = {grid.x, grid.y, grid.z};
        const unsigned b[3] = {block.x, block.y, block.z};
        return it->second.launch(g, b, smem, params);
    }

private:
    void* handle_;
    unsigned long long (*seed_)();
    std::map<std::string, attnrt_emu_kernel> kernels_;
};

// Uniform in [-1, 1) without exact zeros, so a result that never got written cannot pass as a sum.
std::vector<float> random_floats(size_t n) {
    std::uniform_real_distribution<float> d(-1.0f, 1.0f);
    std::vector<float> v(n);
    for (auto& x : v) {
        do x = d(g_rng); while (x == 0.0f);
    }
    return v;
}

unsigned ceil_div(unsigned a, unsigned b) { return (a + b - 1) / b; }

// ---- transpose --------------------------------------------------------------------------------------

std::vector<float> transpose_ref(const std::vector<float>& in, int rows, int cols) {
    std::vector<float> out(in.size());
    for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c) out[size_t(c) * rows + r] = in[size_t(r) * cols + c];
    return out;
}

std::vector<float> run_transpose(const Library& lib, const char* kernel, const std::vector<float>& in, int rows, int cols,
                                 int* rc) {
    std::vector<float> out(in.size(), -7.0f);
    *rc = lib.launch(kernel, dim3(ceil_div(cols, 32), ceil_div(rows, 32)), dim3(32, 8), 0, in.data(), out.data(), rows, cols);
    return out;
}

void test_transpose(const Library& lib) {
    const int shapes[][2] = {{1, 1}, {32, 32}, {45, 77}, {100, 33}, {257, 300}};
    for (auto& s : shapes) {
        const auto in = random_floats(size_t(s[0]) * s[1]);
        int rc;
        const auto out = run_transpose(lib, "selftest_transpose", in, s[0], s[1], &rc);
        CHECK(rc == ATTNRT_EMU_OK, "launch returned %d\n", rc);
        CHECK(out == transpose_ref(in, s[0], s[1]), "transpose %dx%d differs from the reference\n", s[0], s[1]);
    }
}

void test_transpose_nosync_is_caught(const Library& lib) {
    const int rows = 64, cols = 96, runs = 10;
    const auto in = random_floats(size_t(rows) * cols);
    const auto ref = transpose_ref(in, rows, cols);
    int wrong = 0;
    for (int i = 0; i < runs; ++i) {
        int rc;
        const auto out = run_transpose(lib, "selftest_transpose_nosync", in, rows, cols, &rc);
        CHECK(rc == ATTNRT_EMU_OK, "launch returned %d\n", rc);
        wrong += out != ref;
    }
    std::printf("    transpose without __syncthreads: wrong in %d of %d shuffled runs\n", wrong, runs);
    CHECK(wrong >= runs - 1, "the missing __syncthreads went unnoticed in %d of %d runs\n", runs - wrong, runs);
}

// ---- warp ---------------------------------------------------------------------------------------------

void test_warp_reduce(const Library& lib) {
    const int n = 1000, block = 128;
    const auto in = random_floats(n);
    const int warps = ceil_div(n, 32);
    std::vector<float> sums(warps, -9.0f), maxs(warps, -9.0f);
    const int rc = lib.launch("selftest_warp_reduce", dim3(ceil_div(n, block)), dim3(block), 0, in.data(), sums.data(),
                              maxs.data(), n);
    CHECK(rc == ATTNRT_EMU_OK, "launch returned %d\n", rc);
    for (int w = 0; w < warps; ++w) {
        double sum = 0, magnitude = 0;
        float mx = -INFINITY;
        for (int i = w * 32; i < std::min(n, w * 32 + 32); ++i) {
            sum += in[i];
            magnitude += std::fabs(in[i]);
            mx = std::max(mx, in[i]);
        }
        // 31 fp32 additions: a few ulps of the magnitude.
        CHECK(std::fabs(sums[w] - sum) <= 1e-6 * (magnitude + 1) * 8, "warp %d sum %.9g, expected %.9g\n", w, sums[w], sum);
        CHECK(maxs[w] == mx, "warp %d max %.9g, expected %.9g\n", w, maxs[w], mx);
    }
}

void test_warp_vote(const Library& lib) {
    const int n = 200, block = 64;  // 7 warps, the last one partial
    auto in = random_floats(n);
    for (int i = 0; i < 32; ++i) in[i] = std::fabs(in[i]);        // warp 0: all positive
    for (int i = 32; i < 64; ++i) in[i] = -std::fabs(in[i]);      // warp 1: none positive
    const int warps = ceil_div(n, 32);
    std::vector<unsigned> ballot(warps, 0xdeadbeef);
    std::vector<int> any(warps, -1), all(warps, -1);
    const int rc = lib.launch("selftest_warp_vote", dim3(ceil_div(n, block)), dim3(block), 0, in.data(), ballot.data(),
                              any.data(), all.data(), n);
    CHECK(rc == ATTNRT_EMU_OK, "launch returned %d\n", rc);
    for (int w = 0; w < warps; ++w) {
        unsigned bits = 0;
        for (int l = 0; l < 32; ++l) {
            const int i = w * 32 + l;
            if (i < n && in[i] > 0) bits |= 1u << l;
        }
        CHECK(ballot[w] == bits, "warp %d ballot 0x%08x, expected 0x%08x\n", w, ballot[w], bits);
        CHECK(any[w] == (bits != 0), "warp %d any %d\n", w, any[w]);
        CHECK(all[w] == (bits == 0xffffffffu), "warp %d all %d\n", w, all[w]);
    }
}

void test_warp_shuffle(const Library& lib) {
    const int n = 300, block = 96;
    const auto in = random_floats(n);
    for (int delta : {0, 1, 5, 31, 45}) {
        std::vector<float> out(2 * n, -9.0f);
        const int rc = lib.launch("selftest_warp_shuffle", dim3(ceil_div(n, block)), dim3(block), 0, in.data(), out.data(), n,
                                  delta);
        CHECK(rc == ATTNRT_EMU_OK, "launch returned %d\n", rc);
        for (int i = 0; i < n; ++i) {
            const int lane = i % 32, base = i - lane;
            const int src = base + (lane + delta) % 32;
            const float rotated = src < n ? in[src] : 0.0f;
            CHECK(out[i] == rotated, "delta %d: out[%d] = %g, expected %g\n", delta, i, out[i], rotated);
            double scan = 0, magnitude = 0;
            for (int j = base; j <= i; ++j) {
                scan += in[j];
                magnitude += std::fabs(in[j]);
            }
            CHECK(std::fabs(out[n + i] - scan) <= 1e-6 * (magnitude + 1) * 8, "scan[%d] = %.9g, expected %.9g\n", i,
                  out[n + i], scan);
        }
    }
}

// ---- block reduce and histogram -----------------------------------------------------------------------

void test_block_reduce(const Library& lib) {
    const int n = 5000, block = 256, bins = 37;
    auto in = random_floats(n);
    in[0] = -1.0f;  // edge of bin 0
    in[1] = 0.9999999f;
    const int blocks = ceil_div(n, block);
    std::vector<float> sums(blocks, -9.0f);
    std::vector<unsigned> hist(bins, 0u);
    const int rc = lib.launch("selftest_block_reduce", dim3(blocks), dim3(block), 0, in.data(), sums.data(), hist.data(), n, bins);
    CHECK(rc == ATTNRT_EMU_OK, "launch returned %d\n", rc);
    std::vector<unsigned> ref(bins, 0u);
    for (int b = 0; b < blocks; ++b) {
        double sum = 0, magnitude = 0;
        for (int i = b * block; i < std::min(n, (b + 1) * block); ++i) {
            sum += in[i];
            magnitude += std::fabs(in[i]);
        }
        // Float atomics add in any order: up to n-1 roundings of partial sums below `magnitude`.
        CHECK(std::fabs(sums[b] - sum) <= 6e-8 * magnitude * block, "block %d sum %.9g, expected %.9g\n", b, sums[b], sum);
    }
    for (int i = 0; i < n; ++i) {
        int bin = static_cast<int>(std::floor((in[i] + 1.0f) * static_cast<float>(bins) * 0.5f));
        bin = std::min(std::max(bin, 0), bins - 1);
        ++ref[bin];
    }
    CHECK(hist == ref, "histogram differs from the reference\n");
}

void test_dynamic_smem(const Library& lib) {
    const int n = 1000, block = 128;
    const auto in = random_floats(n);
    std::vector<float> out(n, -9.0f);
    int rc = lib.launch("selftest_dynamic_smem", dim3(ceil_div(n, block)), dim3(block), block * 4, in.data(), out.data(), n);
    CHECK(rc == ATTNRT_EMU_OK, "launch returned %d\n", rc);
    for (int base = 0; base < n; base += block) {
        const int len = std::min(block, n - base);
        for (int t = 0; t < len; ++t)
            CHECK(out[base + t] == in[base + len - 1 - t], "out[%d] = %g, expected %g\n", base + t, out[base + t],
                  in[base + len - 1 - t]);
    }
    // One element more than the launch provides: the write past the end is reported as a fault.
    rc = lib.launch("selftest_dynamic_smem", dim3(1), dim3(block), block * 4 - 4, in.data(), out.data(), n);
    CHECK(rc == ATTNRT_EMU_FAULT, "a write past the dynamic shared memory returned %d, not a fault\n", rc);
}

// ---- mma -----------------------------------------------------------------------------------------------

template <typename H>
struct Half;
template <>
struct Half<__half> {
    static __half from(float f) { return __float2half_rn(f); }
    static float to(__half h) { return __half2float(h); }
};
template <>
struct Half<__nv_bfloat16> {
    static __nv_bfloat16 from(float f) { return __float2bfloat16_rn(f); }
    static float to(__nv_bfloat16 h) { return __bfloat162float(h); }
};

template <typename H>
std::vector<H> random_halves(size_t n) {
    std::vector<H> v;
    for (float f : random_floats(n)) v.push_back(Half<H>::from(f));
    return v;
}

// D[m][n] = sum_k A[m][k] B[k][n] + C[m][n] from the rounded 16-bit inputs, in double.
template <typename H>
std::vector<double> gemm_ref(const std::vector<H>& A, const std::vector<H>& B, const std::vector<float>& C) {
    std::vector<double> D(16 * 8);
    for (int m = 0; m < 16; ++m)
        for (int nn = 0; nn < 8; ++nn) {
            double acc = C.empty() ? 0.0 : C[m * 8 + nn];
            for (int k = 0; k < 16; ++k) acc += double(Half<H>::to(A[m * 16 + k])) * Half<H>::to(B[k * 8 + nn]);
            D[m * 8 + nn] = acc;
        }
    return D;
}

// fp32 accumulation of 16 exact products of magnitude < 1 (plus C < 1): error well below 1e-5;
// a fragment-layout mistake moves results by O(1).
constexpr double kMmaTolerance = 2e-5;

void check_d(const char* kernel, const std::vector<float>& D, const std::vector<double>& ref) {
    for (int i = 0; i < 16 * 8; ++i)
        CHECK(std::fabs(D[i] - ref[i]) <= kMmaTolerance, "%s: D[%d][%d] = %.7g, expected %.7g\n", kernel, i / 8, i % 8, D[i],
              ref[i]);
}

template <typename H>
std::vector<H> transposed(const std::vector<H>& m, int rows, int cols) {
    std::vector<H> t(m.size());
    for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c) t[size_t(c) * rows + r] = m[size_t(r) * cols + c];
    return t;
}

template <typename H>
void test_mma_plain(const Library& lib, const char* kernel) {
    for (int rep = 0; rep < 3; ++rep) {
        const auto A = random_halves<H>(16 * 16), B = random_halves<H>(16 * 8);
        std::vector<float> D(16 * 8, -9.0f);
        const int rc = lib.launch(kernel, dim3(1), dim3(32), 0, A.data(), B.data(), D.data());
        CHECK(rc == ATTNRT_EMU_OK, "%s: launch returned %d\n", kernel, rc);
        check_d(kernel, D, gemm_ref(A, B, {}));
    }
}

void test_mma(const Library& lib) {
    test_mma_plain<__half>(lib, "selftest_mma_f16");
    test_mma_plain<__nv_bfloat16>(lib, "selftest_mma_bf16");
    test_mma_plain<__half>(lib, "selftest_mma_f16_x1");
    {
        const auto A = random_halves<__half>(16 * 16), B = random_halves<__half>(16 * 8);
        const auto Bt = transposed(B, 16, 8);
        std::vector<float> D(16 * 8, -9.0f);
        const int rc = lib.launch("selftest_mma_f16_bt", dim3(1), dim3(32), 0, A.data(), Bt.data(), D.data());
        CHECK(rc == ATTNRT_EMU_OK, "launch returned %d\n", rc);
        check_d("selftest_mma_f16_bt", D, gemm_ref(A, B, {}));
    }
    {
        const auto A = random_halves<__half>(16 * 16), B = random_halves<__half>(16 * 8);
        const auto At = transposed(A, 16, 16);
        const auto C = random_floats(16 * 8);
        std::vector<float> D = C;
        const int rc = lib.launch("selftest_mma_f16_at", dim3(1), dim3(32), 0, At.data(), B.data(), D.data());
        CHECK(rc == ATTNRT_EMU_OK, "launch returned %d\n", rc);
        check_d("selftest_mma_f16_at", D, gemm_ref(A, B, C));
    }
}

// ---- cp.async ------------------------------------------------------------------------------------------

std::vector<float4> random_float4s(size_t n) {
    const auto f = random_floats(4 * n);
    std::vector<float4> v(n);
    std::memcpy(v.data(), f.data(), 16 * n);
    return v;
}

bool doubled(const std::vector<float4>& in, const std::vector<float4>& out) {
    for (size_t i = 0; i < in.size(); ++i)
        if (out[i].x != 2 * in[i].x || out[i].y != 2 * in[i].y || out[i].z != 2 * in[i].z || out[i].w != 2 * in[i].w) return false;
    return true;
}

void test_cp_async(const Library& lib) {
    const int shapes[][3] = {{1, 8, 32}, {5, 100, 64}, {7, 256, 128}};  // tiles, tileFloat4s, threads
    for (auto& s : shapes) {
        const auto in = random_float4s(size_t(s[0]) * s[1]);
        std::vector<float4> out(in.size(), make_float4(-9, -9, -9, -9));
        const int rc = lib.launch("selftest_cp_async_pipeline", dim3(1), dim3(s[2]), 2 * s[1] * 16, in.data(), out.data(),
                                  s[0], s[1]);
        CHECK(rc == ATTNRT_EMU_OK, "launch returned %d\n", rc);
        CHECK(doubled(in, out), "pipeline with %d tiles of %d float4 differs from 2*in\n", s[0], s[1]);
    }
}

void test_cp_async_nowait_is_caught(const Library& lib) {
    const int tiles = 5, tile = 100, threads = 64, runs = 5;
    const auto in = random_float4s(size_t(tiles) * tile);
    int wrong = 0;
    for (int i = 0; i < runs; ++i) {
        std::vector<float4> out(in.size(), make_float4(-9, -9, -9, -9));
        const int rc = lib.launch("selftest_cp_async_nowait", dim3(1), dim3(threads), 2 * tile * 16, in.data(), out.data(),
                                  tiles, tile);
        CHECK(rc == ATTNRT_EMU_OK, "launch returned %d\n", rc);
        wrong += !doubled(in, out);
    }
    std::printf("    pipeline without cp.async.wait_group: wrong in %d of %d runs\n", wrong, runs);
    CHECK(wrong == runs, "the missing wait went unnoticed in %d of %d runs\n", runs - wrong, runs);
}

// ---- faults and invalid launches -----------------------------------------------------------------------

void test_faults(const Library& lib) {
    const int n = 500;
    std::vector<float> out(n, -9.0f);
    int rc = lib.launch("selftest_trap", dim3(ceil_div(n, 128)), dim3(128), 0, out.data(), n, 321);
    CHECK(rc == ATTNRT_EMU_FAULT, "__trap returned %d, not a fault\n", rc);
    rc = lib.launch("selftest_trap", dim3(ceil_div(n, 128)), dim3(128), 0, out.data(), n, -1);
    CHECK(rc == ATTNRT_EMU_OK, "a launch after a fault returned %d\n", rc);
    for (int i = 0; i < n; ++i) CHECK(out[i] == float(i), "out[%d] = %g after the clean launch\n", i, out[i]);

    auto in = random_floats(n);
    for (auto& x : in) x = std::fabs(x);
    rc = lib.launch("selftest_assert_positive", dim3(ceil_div(n, 128)), dim3(128), 0, in.data(), n);
    CHECK(rc == ATTNRT_EMU_OK, "assert on positive input returned %d\n", rc);
    in[417] = -in[417];
    rc = lib.launch("selftest_assert_positive", dim3(ceil_div(n, 128)), dim3(128), 0, in.data(), n);
    CHECK(rc == ATTNRT_EMU_FAULT, "a failed assert returned %d, not a fault\n", rc);
}

void test_invalid_launches(const Library& lib) {
    std::vector<float> buf(64 * 64);
    const int n = 64;
    CHECK(lib.launch("selftest_dynamic_smem", dim3(1), dim3(1025), 0, buf.data(), buf.data(), n) == ATTNRT_EMU_INVALID_LAUNCH,
          "1025 threads accepted\n");
    CHECK(lib.launch("selftest_dynamic_smem", dim3(1), dim3(32, 32, 2), 0, buf.data(), buf.data(), n) == ATTNRT_EMU_INVALID_LAUNCH,
          "2048 threads accepted\n");
    CHECK(lib.launch("selftest_dynamic_smem", dim3(1), dim3(1, 1, 65), 0, buf.data(), buf.data(), n) == ATTNRT_EMU_INVALID_LAUNCH,
          "block z = 65 accepted\n");
    CHECK(lib.launch("selftest_dynamic_smem", dim3(0), dim3(32), 0, buf.data(), buf.data(), n) == ATTNRT_EMU_INVALID_LAUNCH,
          "a zero grid accepted\n");
    CHECK(lib.launch("selftest_dynamic_smem", dim3(1, 1, 0), dim3(32), 0, buf.data(), buf.data(), n) == ATTNRT_EMU_INVALID_LAUNCH,
          "a zero grid z accepted\n");
    CHECK(lib.launch("selftest_dynamic_smem", dim3(1), dim3(0), 0, buf.data(), buf.data(), n) == ATTNRT_EMU_INVALID_LAUNCH,
          "a zero block accepted\n");
    const unsigned limit = lib.kernels().at("selftest_dynamic_smem").max_dynamic_smem;
    CHECK(lib.launch("selftest_dynamic_smem", dim3(1), dim3(32), limit + 1, buf.data(), buf.data(), n) == ATTNRT_EMU_INVALID_LAUNCH,
          "dynamic smem above the limit accepted\n");
    CHECK(lib.launch("selftest_dynamic_smem", dim3(1), dim3(1024), limit, buf.data(), buf.data(), n) == ATTNRT_EMU_OK,
          "1024 threads with the maximum dynamic smem refused\n");
}

void test_table_and_seed(const Library& lib) {
    const char* expected[] = {"selftest_transpose", "selftest_transpose_nosync", "selftest_warp_reduce", "selftest_warp_vote",
                              "selftest_warp_shuffle", "selftest_block_reduce", "selftest_dynamic_smem", "selftest_mma_f16",
                              "selftest_mma_bf16", "selftest_mma_f16_bt", "selftest_mma_f16_x1", "selftest_mma_f16_at",
                              "selftest_cp_async_pipeline", "selftest_cp_async_nowait", "selftest_trap",
                              "selftest_assert_positive"};
    for (const char* name : expected) {
        auto it = lib.kernels().find(name);
        CHECK(it != lib.kernels().end(), "kernel %s missing from the table\n", name);
        CHECK(it->second.max_dynamic_smem >= 48 * 1024, "%s: max_dynamic_smem %u\n", name, it->second.max_dynamic_smem);
    }
    CHECK(lib.kernels().size() == sizeof expected / sizeof *expected, "the table has %zu kernels\n", lib.kernels().size());
    CHECK(lib.symbol("run_block") == nullptr && lib.symbol("_ZN10attnrt_emu5faultEPKcz") == nullptr,
          "the library exports more than its ABI\n");
    if (const char* env = std::getenv("ATTNRT_EMU_SEED"))
        CHECK(lib.seed() == std::strtoull(env, nullptr, 10), "seed %llu, ATTNRT_EMU_SEED=%s\n", lib.seed(), env);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: harness LIB.so [--digest]\n");
        return 2;
    }
    const Library lib(argv[1]);
    g_rng.seed(20240611u);
    if (argc > 2 && std::strcmp(argv[2], "--digest") == 0) {
        const int rows = 64, cols = 96;
        const auto in = random_floats(size_t(rows) * cols);
        int rc;
        const auto out = run_transpose(lib, "selftest_transpose_nosync", in, rows, cols, &rc);
        uint64_t h = 1469598103934665603ull;
        for (float f : out) {
            uint32_t bits;
            std::memcpy(&bits, &f, 4);
            h = (h ^ bits) * 1099511628211ull;
        }
        std::printf("%d %016llx\n", rc, static_cast<unsigned long long>(h));
        return 0;
    }
    const std::pair<const char*, std::function<void(const Library&)>> tests[] = {
        {"table and seed", test_table_and_seed},
        {"transpose", test_transpose},
        {"transpose without __syncthreads is caught", test_transpose_nosync_is_caught},
        {"warp reduce", test_warp_reduce},
        {"warp vote", test_warp_vote},
        {"warp shuffle and scan", test_warp_shuffle},
        {"block reduce and histogram", test_block_reduce},
        {"dynamic shared memory", test_dynamic_smem},
        {"mma.m16n8k16 with every ldmatrix form", test_mma},
        {"cp.async pipeline", test_cp_async},
        {"cp.async without wait is caught", test_cp_async_nowait_is_caught},
        {"device faults", test_faults},
        {"invalid launches", test_invalid_launches},
    };
    for (const auto& t : tests) {
        const int before = g_failures;
        const auto start = std::chrono::steady_clock::now();
        t.second(lib);
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
        std::printf("%s %-45s %8.1f ms\n", g_failures == before ? "PASS" : "FAIL", t.first, ms);
    }
    std::printf(g_failures ? "harness: %d FAILURE(S)\n" : "harness: all kernels match their references\n", g_failures);
    return g_failures ? 1 : 0;
}
