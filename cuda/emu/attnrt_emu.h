// attnrt_emu.h — turns a CUDA .cu file into plain C++ that g++ can compile for the EMULATED device.
//
// TEST TARGET ONLY. scripts/emu-kernels.sh force-includes this header (g++ -include) before anything
// else in each .cu, so the same kernel sources that nvcc turns into PTX also run on the CPU, where a
// test can compare them with a reference computation. Nothing here is used in production.
//
// Execution model (the runtime is cuda/emu/attnrt_emu_runtime.cpp):
//   * a grid runs synchronously; its blocks are spread over worker threads (one block at a time per
//     worker, so per-worker storage is per-block storage);
//   * the threads of a block are cooperative fibers on their worker; a fiber runs until it reaches a
//     synchronization point (__syncthreads, a warp collective, __nanosleep) or exits;
//   * at every synchronization point the next fiber is drawn at random (seeded by attnrt_emu_seed()),
//     so code that relies on an order it never enforced (a missing __syncthreads or __syncwarp)
//     reads stale data instead of passing by luck;
//   * warp collectives (shuffles, votes, __syncwarp, ldmatrix, mma) wait for every lane named in the
//     mask, then exchange through a per-warp slot; misuse (caller not in the mask, a named lane that
//     exited, two lanes at different collectives, or a shuffle / vote whose lanes come from different
//     source lines) stops the launch with a message;
//   * __activemask() parks the lane until no lane of its warp can run any more, then returns the lanes
//     parked at the same source line: the lanes that reached that call together, never 0xffffffff by
//     default;
//   * a SIGSEGV/SIGBUS in a kernel fiber (a guard page of the driver's allocations, a fiber stack
//     overflow) aborts the launch with ATTNRT_EMU_ILLEGAL_ADDRESS and a line naming block, thread and
//     address.
//
// Storage mapping:
//   __shared__ T x[N];        -> thread_local (block-scope thread_local is implicitly static): one copy
//                               per worker thread, hence per running block; emu-kernels.sh adds a call
//                               after the declaration that fills it with 0xFF bytes when the first thread
//                               of each block gets there (namespace-scope __shared__ is not poisoned).
//   extern __shared__ T x[];  -> rewritten by emu-kernels.sh into a thread_local pointer to the
//                               worker's dynamic shared memory, which is filled with 0xFF bytes (NaN for
//                               floats) at every block start.
//   __device__ / __constant__ globals -> ordinary globals shared by all blocks.
//
// Supported CUDA headers: cuda_fp16.h, cuda_bf16.h, vector_types.h, vector_functions.h,
// math_constants.h (included here before the CUDA keywords are redefined). Other CUDA device headers
// (cooperative_groups, cuda_pipeline, mma.h) are not supported: use cuda/include/attnrt_mma.cuh.
#ifndef ATTNRT_EMU_H
#define ATTNRT_EMU_H

#if defined(__CUDACC__) || defined(__CUDA_ARCH__)
#error "attnrt_emu.h is only for g++ builds of .cu files for the emulated device, never for nvcc"
#endif

#define ATTNRT_EMU 1

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <math.h>
#include <tuple>
#include <type_traits>
#include <utility>

#include <vector_types.h>
#include <vector_functions.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <math_constants.h>

#include "attnrt_emu_abi.h"

// ---- CUDA keywords -------------------------------------------------------------------------------
#undef __global__
#undef __device__
#undef __host__
#undef __shared__
#undef __constant__
#undef __managed__
#undef __forceinline__
#undef __launch_bounds__
#undef __grid_constant__
#define __global__
#define __device__
#define __host__
#define __constant__
#define __managed__
#define __grid_constant__
#define __forceinline__ inline __attribute__((always_inline))
#define __launch_bounds__(...)
// Block-scope thread_local implies static, so both "__shared__ T x" and "static __shared__ T x" work.
#define __shared__ thread_local
#ifndef __align__
#define __align__(n) __attribute__((aligned(n)))
#endif

// ---- per-fiber and per-block registers -------------------------------------------------------------
namespace attnrt_emu {

#pragma GCC visibility push(hidden)

// The runtime's fiber starts with this struct; the pointer to it is switched with the fiber.
struct ThreadRegs {
    uint3 thread_idx;
    unsigned linear;  // threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z)
    unsigned lane;    // linear % 32
    unsigned warp;    // linear / 32
};

struct BlockRegs {
    uint3 block_idx;
    dim3 block_dim;
    dim3 grid_dim;
};

extern __thread ThreadRegs* tls_thread;
extern __thread BlockRegs* tls_block;

// Kinds of warp collective; lanes that meet in one collective must all be at the same kind.
enum CollectiveKind : int {
    kSyncWarp = 1, kShflIdx, kShflUp, kShflDown, kShflXor, kVote, kReduce, kMatch,
    kLdMatrix, kMma
};

// Warp collective: waits until every existing lane named in mask has arrived with the same kind,
// each contributing `bytes` (<= kSlotBytes) of payload. Returns the 32 slots (lane i at
// i * kSlotBytes); *valid receives the mask of lanes that contributed. The slots stay valid until
// this lane's next collective.
constexpr unsigned kSlotBytes = 64;
// Where a collective or __activemask was called from (source file and line; file null: anywhere).
struct Site {
    const char* file;
    int line;
};
#define ATTNRT_EMU_HERE (::attnrt_emu::Site{__FILE__, __LINE__})
const unsigned char* warp_collective(unsigned mask, CollectiveKind kind, const void* payload,
                                     unsigned bytes, unsigned* valid, Site site = Site{nullptr, 0});

void syncthreads();
int syncthreads_reduce(int predicate, int op);  // op: 0 count, 1 and, 2 or
void yield();                                   // a scheduling point without a barrier
unsigned active_mask(Site site);
void* dynamic_smem();
// Called (by code emu-kernels.sh inserts) after each block-scope __shared__ declaration: the first call
// per block and variable fills it with 0xFF bytes.
void shared_first_use(void* variable, size_t bytes);

[[noreturn]] void fault(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// Tensor-core and async-copy emulation behind cuda/include/attnrt_mma.cuh (PTX ISA semantics).
void mma_m16n8k16_f32(bool bf16, float d[4], const uint32_t a[4], const uint32_t b[2], const float c[4]);
void ldmatrix_b16(uint32_t* regs, int count, bool trans, const void* row_address);
void cp_async(void* smem_dst, const void* gmem_src, unsigned bytes, unsigned src_bytes, bool cache_global);
void cp_async_commit();
void cp_async_wait_group(int pending_allowed);

// ---- launching ----------------------------------------------------------------------------------
using KernelBody = void (*)(const void* args);
int launch_grid(const char* name, const unsigned grid[3], const unsigned block[3], unsigned dynamic_smem,
                KernelBody body, const void* args);

// The largest dynamic shared memory a block may request: sm_90's opt-in maximum (227 KB).
constexpr unsigned kMaxDynamicSmem = 227u * 1024u;

struct KernelRegistrar {
    KernelRegistrar(const char* name, attnrt_emu_launch_fn launch);
};

template <typename F>
struct KernelTraits;

template <typename... A>
struct KernelTraits<void (*)(A...)> {
    using Args = std::tuple<std::decay_t<A>...>;

    template <std::size_t... I>
    static Args unpack(void** params, std::index_sequence<I...>) {
        // cuLaunchKernel semantics: params[i] points at the value of parameter i, copied at launch.
        return Args(*static_cast<const std::tuple_element_t<I, Args>*>(params[I])...);
    }
    static Args unpack(void** params) { return unpack(params, std::index_sequence_for<A...>{}); }
};

template <auto Kernel>
int launch_kernel(const char* name, const unsigned grid[3], const unsigned block[3], unsigned dynamic_smem,
                  void** params) {
    using Traits = KernelTraits<decltype(Kernel)>;
    const typename Traits::Args args = Traits::unpack(params);
    struct Body {
        static void run(const void* a) { std::apply(Kernel, *static_cast<const typename Traits::Args*>(a)); }
    };
    return launch_grid(name, grid, block, dynamic_smem, &Body::run, &args);
}

template <typename T>
inline T poison() {
    T v;
    std::memset(static_cast<void*>(&v), 0xff, sizeof(T));
    return v;
}

#pragma GCC visibility pop

}  // namespace attnrt_emu

// Registers an extern "C" __global__ kernel of the current translation unit by its name
// (emu-kernels.sh emits one line per kernel it finds; nothing else is needed per kernel).
#define ATTNRT_EMU_REGISTER_KERNEL(K)                                                                   \
    static int attnrt_emu_launch_##K(const unsigned g[3], const unsigned b[3], unsigned s, void** p) { \
        return ::attnrt_emu::launch_kernel<&K>(#K, g, b, s, p);                                         \
    }                                                                                                   \
    static const ::attnrt_emu::KernelRegistrar attnrt_emu_registrar_##K(#K, &attnrt_emu_launch_##K);

#define threadIdx (::attnrt_emu::tls_thread->thread_idx)
#define blockIdx (::attnrt_emu::tls_block->block_idx)
#define blockDim (::attnrt_emu::tls_block->block_dim)
#define gridDim (::attnrt_emu::tls_block->grid_dim)
static constexpr int warpSize = 32;

// ---- barriers and fences ----------------------------------------------------------------------------
inline void __syncthreads() { attnrt_emu::syncthreads(); }
inline int __syncthreads_count(int p) { return attnrt_emu::syncthreads_reduce(p, 0); }
inline int __syncthreads_and(int p) { return attnrt_emu::syncthreads_reduce(p, 1); }
inline int __syncthreads_or(int p) { return attnrt_emu::syncthreads_reduce(p, 2); }
inline void __syncwarp(unsigned mask = 0xffffffffu) {
    unsigned valid;
    attnrt_emu::warp_collective(mask, attnrt_emu::kSyncWarp, nullptr, 0, &valid);
}
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_system() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
// Fibers are not preempted: a spin-wait inside a block must contain a scheduling point, and
// __nanosleep is one.
inline void __nanosleep(unsigned) { attnrt_emu::yield(); }
#define __activemask() (::attnrt_emu::active_mask(ATTNRT_EMU_HERE))
[[noreturn]] inline void __trap() { attnrt_emu::fault("__trap() called"); }
[[noreturn]] inline void __brkpt() { attnrt_emu::fault("__brkpt() called"); }
inline size_t __cvta_generic_to_shared(const void* p) { return reinterpret_cast<size_t>(p); }
inline size_t __cvta_generic_to_global(const void* p) { return reinterpret_cast<size_t>(p); }

// ---- warp shuffles (PTX shfl.sync semantics, including width) ---------------------------------------
namespace attnrt_emu {
// mode: 0 idx, 1 up, 2 down, 3 bfly. Returns the source lane, or the caller's lane when the source is
// outside the caller's width segment (as shfl.sync's predicate does).
inline int shfl_source(int mode, int lane, int b, int width) {
    if (width <= 0 || width > 32 || (width & (width - 1)) != 0) fault("shuffle width %d is not a power of two <= 32", width);
    const int segmask = (32 - width);             // cval[12:8] in PTX terms
    const int clamp = (mode == 1) ? 0 : 31;        // cval[4:0]
    const int min_lane = lane & segmask;
    const int max_lane = min_lane | (clamp & ~segmask);
    int j;
    bool ok;
    switch (mode) {
        case 1: j = lane - b; ok = j >= max_lane; break;
        case 2: j = lane + b; ok = j <= max_lane; break;
        case 3: j = lane ^ b; ok = j <= max_lane; break;
        default: j = min_lane | (b & ~segmask); ok = j <= max_lane; break;
    }
    return ok ? j : lane;
}

template <typename T>
inline T shfl(Site site, unsigned mask, T var, int mode, CollectiveKind kind, int b, int width) {
    static_assert(sizeof(T) <= kSlotBytes, "shuffle operand too large");
    static_assert(std::is_trivially_copyable<T>::value, "shuffle operand must be trivially copyable");
    unsigned valid;
    const unsigned char* slots = warp_collective(mask, kind, &var, sizeof(T), &valid, site);
    const int src = shfl_source(mode, static_cast<int>(tls_thread->lane), b, width);
    // Reading a lane that did not take part is undefined on the GPU: give it a loud value.
    if (!(valid >> src & 1u)) return poison<T>();
    T out;
    std::memcpy(static_cast<void*>(&out), slots + src * kSlotBytes, sizeof(T));
    return out;
}
}  // namespace attnrt_emu

// The CUDA names are macros so that each call carries its source line: lanes that meet at one shuffle
// from different lines (divergent branches each with its own __shfl_sync) are reported, not paired.
namespace attnrt_emu {
template <typename T>
inline T shfl_idx_at(Site site, unsigned mask, T var, int src_lane, int width = 32) {
    return shfl(site, mask, var, 0, kShflIdx, src_lane, width);
}
template <typename T>
inline T shfl_up_at(Site site, unsigned mask, T var, unsigned delta, int width = 32) {
    return shfl(site, mask, var, 1, kShflUp, static_cast<int>(delta), width);
}
template <typename T>
inline T shfl_down_at(Site site, unsigned mask, T var, unsigned delta, int width = 32) {
    return shfl(site, mask, var, 2, kShflDown, static_cast<int>(delta), width);
}
template <typename T>
inline T shfl_xor_at(Site site, unsigned mask, T var, int lane_mask, int width = 32) {
    return shfl(site, mask, var, 3, kShflXor, lane_mask, width);
}
}  // namespace attnrt_emu
#define __shfl_sync(...) ::attnrt_emu::shfl_idx_at(ATTNRT_EMU_HERE, __VA_ARGS__)
#define __shfl_up_sync(...) ::attnrt_emu::shfl_up_at(ATTNRT_EMU_HERE, __VA_ARGS__)
#define __shfl_down_sync(...) ::attnrt_emu::shfl_down_at(ATTNRT_EMU_HERE, __VA_ARGS__)
#define __shfl_xor_sync(...) ::attnrt_emu::shfl_xor_at(ATTNRT_EMU_HERE, __VA_ARGS__)

// ---- votes, match, reduce -----------------------------------------------------------------------------
namespace attnrt_emu {
// Bits of the lanes that took part with a non-zero predicate; *valid receives the lanes that took part.
inline unsigned vote(unsigned mask, int predicate, unsigned* valid, Site site = Site{nullptr, 0}) {
    const int mine = predicate != 0;
    const unsigned char* slots = warp_collective(mask, kVote, &mine, sizeof mine, valid, site);
    unsigned bits = 0;
    for (int l = 0; l < 32; ++l) {
        int v;
        if (!(*valid >> l & 1u)) continue;
        std::memcpy(&v, slots + l * kSlotBytes, sizeof v);
        if (v) bits |= 1u << l;
    }
    return bits;
}
}  // namespace attnrt_emu

namespace attnrt_emu {
inline unsigned ballot_at(Site s, unsigned mask, int predicate) { unsigned v; return vote(mask, predicate, &v, s); }
inline int any_at(Site s, unsigned mask, int predicate) { unsigned v; return vote(mask, predicate, &v, s) != 0; }
inline int all_at(Site s, unsigned mask, int predicate) { unsigned v; return vote(mask, predicate, &v, s) == v; }
}  // namespace attnrt_emu
#define __ballot_sync(...) ::attnrt_emu::ballot_at(ATTNRT_EMU_HERE, __VA_ARGS__)
#define __any_sync(...) ::attnrt_emu::any_at(ATTNRT_EMU_HERE, __VA_ARGS__)
#define __all_sync(...) ::attnrt_emu::all_at(ATTNRT_EMU_HERE, __VA_ARGS__)

namespace attnrt_emu {
template <typename T, typename Op>
inline T warp_reduce(unsigned mask, T value, Op op) {
    unsigned valid;
    const unsigned char* slots = warp_collective(mask, kReduce, &value, sizeof value, &valid);
    bool first = true;
    T acc{};
    for (int l = 0; l < 32; ++l) {
        if (!(valid >> l & 1u)) continue;
        T v;
        std::memcpy(&v, slots + l * kSlotBytes, sizeof v);
        acc = first ? v : op(acc, v);
        first = false;
    }
    return acc;
}
}  // namespace attnrt_emu

inline unsigned __reduce_add_sync(unsigned mask, unsigned v) { return attnrt_emu::warp_reduce(mask, v, [](unsigned a, unsigned b) { return a + b; }); }
inline int __reduce_add_sync(unsigned mask, int v) { return attnrt_emu::warp_reduce(mask, v, [](int a, int b) { return static_cast<int>(static_cast<unsigned>(a) + static_cast<unsigned>(b)); }); }
inline unsigned __reduce_min_sync(unsigned mask, unsigned v) { return attnrt_emu::warp_reduce(mask, v, [](unsigned a, unsigned b) { return a < b ? a : b; }); }
inline int __reduce_min_sync(unsigned mask, int v) { return attnrt_emu::warp_reduce(mask, v, [](int a, int b) { return a < b ? a : b; }); }
inline unsigned __reduce_max_sync(unsigned mask, unsigned v) { return attnrt_emu::warp_reduce(mask, v, [](unsigned a, unsigned b) { return a > b ? a : b; }); }
inline int __reduce_max_sync(unsigned mask, int v) { return attnrt_emu::warp_reduce(mask, v, [](int a, int b) { return a > b ? a : b; }); }
inline unsigned __reduce_and_sync(unsigned mask, unsigned v) { return attnrt_emu::warp_reduce(mask, v, [](unsigned a, unsigned b) { return a & b; }); }
inline unsigned __reduce_or_sync(unsigned mask, unsigned v) { return attnrt_emu::warp_reduce(mask, v, [](unsigned a, unsigned b) { return a | b; }); }
inline unsigned __reduce_xor_sync(unsigned mask, unsigned v) { return attnrt_emu::warp_reduce(mask, v, [](unsigned a, unsigned b) { return a ^ b; }); }

// ---- atomics: real atomics, since blocks run on different OS threads ----------------------------------
namespace attnrt_emu {
template <typename T, typename F>
inline T atomic_update(T* address, F f) {
    static_assert(sizeof(T) == 4 || sizeof(T) == 8, "atomic operand must be 4 or 8 bytes");
    using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
    Bits* word = reinterpret_cast<Bits*>(address);
    Bits expected = __atomic_load_n(word, __ATOMIC_RELAXED);
    for (;;) {
        T old;
        std::memcpy(&old, &expected, sizeof old);
        const T next = f(old);
        Bits desired;
        std::memcpy(&desired, &next, sizeof desired);
        if (__atomic_compare_exchange_n(word, &expected, desired, true, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) return old;
    }
}
}  // namespace attnrt_emu

inline int atomicAdd(int* a, int v) { return __atomic_fetch_add(a, v, __ATOMIC_SEQ_CST); }
inline unsigned atomicAdd(unsigned* a, unsigned v) { return __atomic_fetch_add(a, v, __ATOMIC_SEQ_CST); }
inline unsigned long long atomicAdd(unsigned long long* a, unsigned long long v) { return __atomic_fetch_add(a, v, __ATOMIC_SEQ_CST); }
inline float atomicAdd(float* a, float v) { return attnrt_emu::atomic_update(a, [v](float o) { return o + v; }); }
inline double atomicAdd(double* a, double v) { return attnrt_emu::atomic_update(a, [v](double o) { return o + v; }); }
inline int atomicSub(int* a, int v) { return __atomic_fetch_sub(a, v, __ATOMIC_SEQ_CST); }
inline unsigned atomicSub(unsigned* a, unsigned v) { return __atomic_fetch_sub(a, v, __ATOMIC_SEQ_CST); }
inline int atomicExch(int* a, int v) { return __atomic_exchange_n(a, v, __ATOMIC_SEQ_CST); }
inline unsigned atomicExch(unsigned* a, unsigned v) { return __atomic_exchange_n(a, v, __ATOMIC_SEQ_CST); }
inline unsigned long long atomicExch(unsigned long long* a, unsigned long long v) { return __atomic_exchange_n(a, v, __ATOMIC_SEQ_CST); }
inline float atomicExch(float* a, float v) { return attnrt_emu::atomic_update(a, [v](float) { return v; }); }
inline int atomicMax(int* a, int v) { return attnrt_emu::atomic_update(a, [v](int o) { return o > v ? o : v; }); }
inline unsigned atomicMax(unsigned* a, unsigned v) { return attnrt_emu::atomic_update(a, [v](unsigned o) { return o > v ? o : v; }); }
inline long long atomicMax(long long* a, long long v) { return attnrt_emu::atomic_update(a, [v](long long o) { return o > v ? o : v; }); }
inline unsigned long long atomicMax(unsigned long long* a, unsigned long long v) { return attnrt_emu::atomic_update(a, [v](unsigned long long o) { return o > v ? o : v; }); }
inline int atomicMin(int* a, int v) { return attnrt_emu::atomic_update(a, [v](int o) { return o < v ? o : v; }); }
inline unsigned atomicMin(unsigned* a, unsigned v) { return attnrt_emu::atomic_update(a, [v](unsigned o) { return o < v ? o : v; }); }
inline long long atomicMin(long long* a, long long v) { return attnrt_emu::atomic_update(a, [v](long long o) { return o < v ? o : v; }); }
inline unsigned long long atomicMin(unsigned long long* a, unsigned long long v) { return attnrt_emu::atomic_update(a, [v](unsigned long long o) { return o < v ? o : v; }); }
inline int atomicAnd(int* a, int v) { return __atomic_fetch_and(a, v, __ATOMIC_SEQ_CST); }
inline unsigned atomicAnd(unsigned* a, unsigned v) { return __atomic_fetch_and(a, v, __ATOMIC_SEQ_CST); }
inline int atomicOr(int* a, int v) { return __atomic_fetch_or(a, v, __ATOMIC_SEQ_CST); }
inline unsigned atomicOr(unsigned* a, unsigned v) { return __atomic_fetch_or(a, v, __ATOMIC_SEQ_CST); }
inline int atomicXor(int* a, int v) { return __atomic_fetch_xor(a, v, __ATOMIC_SEQ_CST); }
inline unsigned atomicXor(unsigned* a, unsigned v) { return __atomic_fetch_xor(a, v, __ATOMIC_SEQ_CST); }
inline unsigned atomicInc(unsigned* a, unsigned v) { return attnrt_emu::atomic_update(a, [v](unsigned o) { return o >= v ? 0u : o + 1u; }); }
inline unsigned atomicDec(unsigned* a, unsigned v) { return attnrt_emu::atomic_update(a, [v](unsigned o) { return (o == 0u || o > v) ? v : o - 1u; }); }
inline int atomicCAS(int* a, int cmp, int v) { __atomic_compare_exchange_n(a, &cmp, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); return cmp; }
inline unsigned atomicCAS(unsigned* a, unsigned cmp, unsigned v) { __atomic_compare_exchange_n(a, &cmp, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); return cmp; }
inline unsigned long long atomicCAS(unsigned long long* a, unsigned long long cmp, unsigned long long v) { __atomic_compare_exchange_n(a, &cmp, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); return cmp; }
inline unsigned short atomicCAS(unsigned short* a, unsigned short cmp, unsigned short v) { __atomic_compare_exchange_n(a, &cmp, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); return cmp; }
#define ATTNRT_EMU_SCOPED_ATOMIC(name)                                                           \
    template <typename... A> inline auto name##_block(A... a) { return name(a...); }             \
    template <typename... A> inline auto name##_system(A... a) { return name(a...); }
ATTNRT_EMU_SCOPED_ATOMIC(atomicAdd)
ATTNRT_EMU_SCOPED_ATOMIC(atomicSub)
ATTNRT_EMU_SCOPED_ATOMIC(atomicExch)
ATTNRT_EMU_SCOPED_ATOMIC(atomicMax)
ATTNRT_EMU_SCOPED_ATOMIC(atomicMin)
ATTNRT_EMU_SCOPED_ATOMIC(atomicCAS)
#undef ATTNRT_EMU_SCOPED_ATOMIC

// ---- math intrinsics (CPU libm: the fast-math __ forms are exact here, so compare with tolerance) ------
inline float __expf(float x) { return expf(x); }
inline float __exp10f(float x) { return powf(10.0f, x); }
inline float __logf(float x) { return logf(x); }
inline float __log2f(float x) { return log2f(x); }
inline float __log10f(float x) { return log10f(x); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float __tanf(float x) { return tanf(x); }
inline void __sincosf(float x, float* s, float* c) { *s = sinf(x); *c = cosf(x); }
inline float __powf(float x, float y) { return powf(x, y); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return sqrtf(x); }
inline float __frsqrt_rn(float x) { return 1.0f / sqrtf(x); }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float __saturatef(float x) { return x >= 1.0f ? 1.0f : (x > 0.0f ? x : 0.0f); }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline int __float_as_int(float x) { int i; std::memcpy(&i, &x, 4); return i; }
inline unsigned __float_as_uint(float x) { unsigned i; std::memcpy(&i, &x, 4); return i; }
inline float __int_as_float(int i) { float x; std::memcpy(&x, &i, 4); return x; }
inline float __uint_as_float(unsigned i) { float x; std::memcpy(&x, &i, 4); return x; }
inline long long __double_as_longlong(double x) { long long i; std::memcpy(&i, &x, 8); return i; }
inline double __longlong_as_double(long long i) { double x; std::memcpy(&x, &i, 8); return x; }
inline int __float2int_rn(float x) { return static_cast<int>(nearbyintf(x)); }
inline int __float2int_rz(float x) { return static_cast<int>(x); }
inline int __float2int_rd(float x) { return static_cast<int>(floorf(x)); }
inline int __float2int_ru(float x) { return static_cast<int>(ceilf(x)); }
inline unsigned __float2uint_rn(float x) { return static_cast<unsigned>(nearbyintf(x)); }
inline unsigned __float2uint_rz(float x) { return static_cast<unsigned>(x); }
inline float __int2float_rn(int x) { return static_cast<float>(x); }
inline float __uint2float_rn(unsigned x) { return static_cast<float>(x); }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(static_cast<unsigned>(x)); }
inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll(static_cast<unsigned long long>(x)); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline unsigned __brev(unsigned x) {
    x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
    x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
    x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4);
    return __builtin_bswap32(x);
}
inline unsigned __byte_perm(unsigned x, unsigned y, unsigned s) {
    const unsigned long long both = (static_cast<unsigned long long>(y) << 32) | x;
    unsigned r = 0;
    for (int i = 0; i < 4; ++i) r |= static_cast<unsigned>((both >> (((s >> (4 * i)) & 7u) * 8)) & 0xffu) << (8 * i);
    return r;
}
inline unsigned __umulhi(unsigned a, unsigned b) { return static_cast<unsigned>((static_cast<unsigned long long>(a) * b) >> 32); }
inline int __mulhi(int a, int b) { return static_cast<int>((static_cast<long long>(a) * b) >> 32); }
inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) { return static_cast<unsigned long long>((static_cast<unsigned __int128>(a) * b) >> 64); }
inline int __mul24(int a, int b) { return static_cast<int>(static_cast<unsigned>((a << 8) >> 8) * static_cast<unsigned>((b << 8) >> 8)); }
inline unsigned __umul24(unsigned a, unsigned b) { return (a & 0xffffffu) * (b & 0xffffffu); }
inline unsigned __funnelshift_l(unsigned lo, unsigned hi, unsigned s) { s &= 31; return s ? (hi << s) | (lo >> (32 - s)) : hi; }
inline unsigned __funnelshift_r(unsigned lo, unsigned hi, unsigned s) { s &= 31; return s ? (lo >> s) | (hi << (32 - s)) : lo; }

// CUDA's device min/max overloads.
inline int min(int a, int b) { return a < b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned min(int a, unsigned b) { return min(static_cast<unsigned>(a), b); }
inline unsigned min(unsigned a, int b) { return min(a, static_cast<unsigned>(b)); }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline unsigned long long min(unsigned long long a, unsigned long long b) { return a < b ? a : b; }
inline float min(float a, float b) { return fminf(a, b); }
inline double min(double a, double b) { return fmin(a, b); }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline unsigned max(int a, unsigned b) { return max(static_cast<unsigned>(a), b); }
inline unsigned max(unsigned a, int b) { return max(a, static_cast<unsigned>(b)); }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline unsigned long long max(unsigned long long a, unsigned long long b) { return a > b ? a : b; }
inline float max(float a, float b) { return fmaxf(a, b); }
inline double max(double a, double b) { return fmax(a, b); }

// Half-precision math that cuda_fp16.h / cuda_bf16.h declare only for the device.
#define ATTNRT_EMU_HALF_MATH(T, T2, TO_F, FROM_F, TO_F2, FROM_F2)                                 \
    inline T hexp(T x) { return FROM_F(expf(TO_F(x))); }                                          \
    inline T hexp2(T x) { return FROM_F(exp2f(TO_F(x))); }                                        \
    inline T hlog(T x) { return FROM_F(logf(TO_F(x))); }                                          \
    inline T hlog2(T x) { return FROM_F(log2f(TO_F(x))); }                                        \
    inline T hsqrt(T x) { return FROM_F(sqrtf(TO_F(x))); }                                        \
    inline T hrsqrt(T x) { return FROM_F(1.0f / sqrtf(TO_F(x))); }                                \
    inline T hrcp(T x) { return FROM_F(1.0f / TO_F(x)); }                                         \
    inline T hsin(T x) { return FROM_F(sinf(TO_F(x))); }                                          \
    inline T hcos(T x) { return FROM_F(cosf(TO_F(x))); }                                          \
    inline T2 h2exp(T2 x) { float2 f = TO_F2(x); return FROM_F2(make_float2(expf(f.x), expf(f.y))); }     \
    inline T2 h2exp2(T2 x) { float2 f = TO_F2(x); return FROM_F2(make_float2(exp2f(f.x), exp2f(f.y))); }  \
    inline T2 h2log(T2 x) { float2 f = TO_F2(x); return FROM_F2(make_float2(logf(f.x), logf(f.y))); }     \
    inline T2 h2sqrt(T2 x) { float2 f = TO_F2(x); return FROM_F2(make_float2(sqrtf(f.x), sqrtf(f.y))); }  \
    inline T2 h2rsqrt(T2 x) { float2 f = TO_F2(x); return FROM_F2(make_float2(1.0f / sqrtf(f.x), 1.0f / sqrtf(f.y))); } \
    inline T2 h2rcp(T2 x) { float2 f = TO_F2(x); return FROM_F2(make_float2(1.0f / f.x, 1.0f / f.y)); }
ATTNRT_EMU_HALF_MATH(__half, __half2, __half2float, __float2half_rn, __half22float2, __float22half2_rn)
ATTNRT_EMU_HALF_MATH(__nv_bfloat16, __nv_bfloat162, __bfloat162float, __float2bfloat16_rn, __bfloat1622float2, __float22bfloat162_rn)
#undef ATTNRT_EMU_HALF_MATH

// ---- cache-hinted loads and stores: plain memory accesses here --------------------------------------
template <typename T> inline T __ldg(const T* p) { return *p; }
template <typename T> inline T __ldca(const T* p) { return *p; }
template <typename T> inline T __ldcg(const T* p) { return *p; }
template <typename T> inline T __ldcs(const T* p) { return *p; }
template <typename T> inline T __ldlu(const T* p) { return *p; }
template <typename T> inline T __ldcv(const T* p) { return *p; }
template <typename T> inline void __stwb(T* p, T v) { *p = v; }
template <typename T> inline void __stcg(T* p, T v) { *p = v; }
template <typename T> inline void __stcs(T* p, T v) { *p = v; }
template <typename T> inline void __stwt(T* p, T v) { *p = v; }

#endif  // ATTNRT_EMU_H
