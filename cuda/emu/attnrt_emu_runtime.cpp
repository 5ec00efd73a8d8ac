// attnrt_emu_runtime.cpp — the emulated CUDA device behind attnrt_emu.h (TEST TARGET ONLY).
//
// One grid launch: blocks are handed out to a persistent pool of worker threads through an atomic
// counter; a worker runs one block at a time, its threads as fibers on pre-mapped stacks, with a
// hand-written x86-64 context switch (swapcontext would make a sigprocmask syscall on every switch;
// it is kept only as the portable fallback). The scheduler of a block draws the next runnable fiber
// at random whenever the running one reaches a synchronization point, so two runs with different
// seeds interleave the threads between barriers differently.
//
// Illegal addresses: every worker has an alternate signal stack and the library a SIGSEGV/SIGBUS handler
// (installed at the first launch, chaining to the previous one, which is the JVM's). A fault on a worker
// while one of its kernel fibers runs cannot be resumed, but it need not be: the handler records the fault
// and switches from the signal frame straight to the block's scheduler, exactly as fault() does from a
// fiber. That is sound because (1) the handler runs on the alternate stack, so a fiber stack overflow is
// caught too, and the abandoned signal frame is reused at the next signal (the kernel decides "on the
// alternate stack" from the stack pointer alone); (2) SA_NODEFER and an empty sa_mask leave the thread's
// signal mask as it was, so nothing stays blocked without the sigreturn; (3) an aborted block's fibers are
// never resumed and their stacks are rebuilt at the next block; (4) a fiber holds no lock of the runtime or
// of libc while it runs kernel code or the memcpy of cp.async / ldmatrix. Every other fault is chained.
#include "attnrt_emu.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#if !defined(__x86_64__) || defined(ATTNRT_EMU_USE_UCONTEXT)
#define ATTNRT_EMU_UCONTEXT 1
#include <ucontext.h>
#endif

#ifndef ATTNRT_EMU_UCONTEXT
// void attnrt_emu_ctx_switch(void** save_sp, void* load_sp): saves the callee-saved registers on the
// current stack, stores the stack pointer in *save_sp, loads load_sp and restores the registers saved
// there. A new fiber's stack is prepared so that the final `ret` enters fiber_main.
asm(R"(
    .text
    .p2align 4
    .globl attnrt_emu_ctx_switch
    .hidden attnrt_emu_ctx_switch
    .type attnrt_emu_ctx_switch,@function
attnrt_emu_ctx_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size attnrt_emu_ctx_switch, .-attnrt_emu_ctx_switch
)");
extern "C" void attnrt_emu_ctx_switch(void** save_sp, void* load_sp) __attribute__((visibility("hidden")));
#endif

namespace attnrt_emu {

__thread ThreadRegs* tls_thread = nullptr;
__thread BlockRegs* tls_block = nullptr;

namespace {

constexpr unsigned kMaxBlockThreads = 1024;
constexpr unsigned kCanaryBytes = 4096;
constexpr unsigned char kPoisonByte = 0xff;   // NaN for f32/f16/bf16, -1 for integers
constexpr unsigned char kCanaryByte = 0xa5;

enum FiberState { kRunnable, kAtBarrier, kAtWarpCollective, kAtActiveMask, kExited };

bool same_site(Site a, Site b) {
    return a.line == b.line && (a.file == b.file || (a.file && b.file && std::strcmp(a.file, b.file) == 0));
}

struct CollBuf {
    alignas(16) unsigned char slots[32 * kSlotBytes];
    alignas(16) uint32_t result[32][4];   // per-lane results computed once, by the last lane to arrive
    alignas(16) unsigned char rows[32][16];
    int refs = 0;                           // lanes that still read this buffer
};

struct Group {
    unsigned mask;
    unsigned arrived;
    int kind;
    unsigned bytes;
    CollBuf* buf;
    Site site;
};

struct Warp {
    unsigned existing = 0;
    unsigned exited = 0;
    unsigned active = 0;      // lanes that are running or runnable (not parked, not exited)
    unsigned am_waiting = 0;  // lanes parked in __activemask
    Group groups[32];
    int ngroups = 0;
    std::vector<std::unique_ptr<CollBuf>> pool;

    CollBuf* free_buf() {
        for (auto& b : pool)
            if (b->refs == 0) return b.get();
        pool.push_back(std::make_unique<CollBuf>());
        return pool.back().get();
    }
};

struct CpAsyncOp {
    void* dst;
    const void* src;
    unsigned bytes;
    unsigned src_bytes;
    int group;  // -1 until committed
};

struct Fiber {
    ThreadRegs regs;  // what threadIdx reads
    void* sp = nullptr;
#ifdef ATTNRT_EMU_UCONTEXT
    ucontext_t uc;
#endif
    char* stack_lo = nullptr;
    size_t stack_size = 0;
    FiberState state = kRunnable;
    CollBuf* held = nullptr;
    Site am_site{nullptr, 0};
    unsigned am_result = 0;
    std::vector<CpAsyncOp> cp_ops;
    int cp_next_group = 0;
};

struct LaunchState {
    const char* name;
    unsigned grid[3];
    unsigned block[3];
    unsigned dynamic_smem;
    KernelBody body;
    const void* args;
    uint64_t nblocks;
    uint64_t launch_index;
    std::atomic<uint64_t> next_block{0};
    std::atomic<bool> failed{false};
    bool illegal_address = false;  // under fault_mutex: the first fault was a memory access
    std::mutex fault_mutex;
    std::string fault_message;
};

struct Rng {
    uint64_t s;
    uint64_t next() {  // splitmix64
        uint64_t z = (s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
};

size_t page_size() {
    static const size_t p = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    return p;
}

size_t fiber_stack_bytes() {
    static const size_t bytes = [] {
        size_t kb = 256;
        if (const char* e = std::getenv("ATTNRT_EMU_STACK_KB")) kb = std::strtoul(e, nullptr, 10);
        if (kb < 32) kb = 32;
        return kb * 1024;
    }();
    return bytes;
}

void fiber_main();

std::atomic<bool> g_sequential_for_testing{false};

// Everything one worker thread needs to run blocks; created on the worker, reused for every block.
struct Executor {
    std::vector<std::unique_ptr<Fiber>> fibers;
    std::vector<Warp> warps;
    unsigned char* dyn_smem = nullptr;
    void* sched_sp = nullptr;
#ifdef ATTNRT_EMU_UCONTEXT
    ucontext_t sched_uc;
#endif
    BlockRegs block_regs{};
    std::vector<unsigned> runnable;
    unsigned nthreads = 0;
    unsigned alive = 0;
    unsigned at_barrier = 0;
    int barrier_op = 0;
    int barrier_acc = 0;
    int barrier_result = 0;
    Rng rng{0};
    bool aborted = false;
    bool in_fiber = false;                // a kernel fiber runs now (not the scheduler): its faults are ours
    bool yielded = false;                 // the fiber that just ran gave way in a spin-wait (__nanosleep)
    bool sequential = false;              // tests only: run fibers in thread order, no shuffle
    std::vector<void*> shared_seen;       // static __shared__ variables poisoned in this block
    Fiber* current = nullptr;
    LaunchState* launch = nullptr;

    Executor() {
        const size_t bytes = kMaxDynamicSmem + kCanaryBytes;
        void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            std::fprintf(stderr, "attnrt-emu: cannot map %zu bytes of dynamic shared memory\n", bytes);
            std::abort();
        }
        dyn_smem = static_cast<unsigned char*>(p);
        // The worker's alternate signal stack: the SIGSEGV handler must run even when a fiber's stack is full.
        const size_t alt = 64 * 1024;
        void* a = mmap(nullptr, alt, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (a == MAP_FAILED) {
            std::fprintf(stderr, "attnrt-emu: cannot map an alternate signal stack\n");
            std::abort();
        }
        stack_t ss{};
        ss.ss_sp = a;
        ss.ss_size = alt;
        if (sigaltstack(&ss, nullptr) != 0) {
            std::fprintf(stderr, "attnrt-emu: sigaltstack failed\n");
            std::abort();
        }
    }

    void ensure_fibers(unsigned n) {
        const size_t stack = fiber_stack_bytes();
        while (fibers.size() < n) {
            auto f = std::make_unique<Fiber>();
            // Lowest page is a guard, so an overflowing fiber faults instead of corrupting a neighbour.
            const size_t total = stack + page_size();
            void* p = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
            if (p == MAP_FAILED) {
                std::fprintf(stderr, "attnrt-emu: cannot map a %zu-byte fiber stack\n", total);
                std::abort();
            }
            mprotect(p, page_size(), PROT_NONE);
            f->stack_lo = static_cast<char*>(p) + page_size();
            f->stack_size = stack;
            fibers.push_back(std::move(f));
        }
    }

    void prepare_stack(Fiber& f) {
#ifdef ATTNRT_EMU_UCONTEXT
        getcontext(&f.uc);
        f.uc.uc_stack.ss_sp = f.stack_lo;
        f.uc.uc_stack.ss_size = f.stack_size;
        f.uc.uc_link = nullptr;
        makecontext(&f.uc, &fiber_main, 0);
#else
        // From the saved sp upwards: r15 r14 r13 r12 rbx rbp, the return address (fiber_main) and a
        // zero "caller" slot. After `ret`, rsp % 16 == 8 as at any function entry.
        uintptr_t top = (reinterpret_cast<uintptr_t>(f.stack_lo) + f.stack_size) & ~uintptr_t(15);
        void** slot = reinterpret_cast<void**>(top - 16);
        slot[1] = nullptr;
        slot[0] = reinterpret_cast<void*>(&fiber_main);
        for (int i = 1; i <= 6; ++i) slot[-i] = nullptr;
        f.sp = slot - 6;
#endif
    }
};

__thread Executor* tls_exec = nullptr;

// The workers' executors by thread, for the SIGSEGV handler: it runs on every thread of the JVM (Java's own
// faults pass through it), where reading tls_exec could allocate the library's dynamic TLS block, and
// initial-exec TLS is not available to a library with this much thread_local (static __shared__) data.
constexpr unsigned kMaxWorkers = 1024;
std::atomic<unsigned> g_nworkers{0};
pthread_t g_worker_threads[kMaxWorkers];
std::atomic<Executor*> g_worker_execs[kMaxWorkers];

Executor* executor_of_this_thread() {
    const unsigned n = std::min(g_nworkers.load(std::memory_order_acquire), kMaxWorkers);
    const pthread_t self = pthread_self();
    for (unsigned i = 0; i < n; ++i) {
        Executor* e = g_worker_execs[i].load(std::memory_order_acquire);
        if (e != nullptr && pthread_equal(g_worker_threads[i], self)) return e;
    }
    return nullptr;
}

Executor& exec() {
    if (!tls_exec) {
        tls_exec = new Executor();  // one per worker thread, kept for its lifetime
        const unsigned slot = g_nworkers.fetch_add(1);
        if (slot < kMaxWorkers) {
            g_worker_threads[slot] = pthread_self();
            g_worker_execs[slot].store(tls_exec, std::memory_order_release);
        }
    }
    return *tls_exec;
}

Executor& exec_in_fiber(const char* what) {
    Executor* e = tls_exec;
    if (!e || !e->current) {
        std::fprintf(stderr, "attnrt-emu: %s called outside an emulated kernel\n", what);
        std::abort();
    }
    return *e;
}

void switch_to_fiber(Executor& e, Fiber& f) {
    e.current = &f;
    tls_thread = &f.regs;
    e.in_fiber = true;
#ifdef ATTNRT_EMU_UCONTEXT
    swapcontext(&e.sched_uc, &f.uc);
#else
    attnrt_emu_ctx_switch(&e.sched_sp, f.sp);
#endif
    e.in_fiber = false;
}

void switch_to_scheduler(Executor& e, Fiber& f) {
#ifdef ATTNRT_EMU_UCONTEXT
    swapcontext(&f.uc, &e.sched_uc);
#else
    attnrt_emu_ctx_switch(&f.sp, e.sched_sp);
#endif
}

void make_runnable(Executor& e, Fiber& f) {
    if (f.state != kRunnable) ++e.warps[f.regs.warp].active;
    f.state = kRunnable;
    e.runnable.push_back(f.regs.linear);
}

// The running fiber stops being runnable (waits somewhere or exits).
void park(Executor& e, Fiber& f, FiberState state) {
    if (f.state == kRunnable) --e.warps[f.regs.warp].active;
    f.state = state;
}

void record_fault(LaunchState& l, const std::string& message, bool illegal_address = false) {
    std::lock_guard<std::mutex> lock(l.fault_mutex);
    if (l.fault_message.empty()) {
        l.fault_message = message;
        l.illegal_address = illegal_address;
    }
    l.failed.store(true);
}

std::string vformat(const char* fmt, va_list ap) {
    char buf[1024];
    std::vsnprintf(buf, sizeof buf, fmt, ap);
    return buf;
}

std::string where(const Executor& e) {
    char buf[160];
    const BlockRegs& b = e.block_regs;
    if (e.current) {
        const uint3 t = e.current->regs.thread_idx;
        std::snprintf(buf, sizeof buf, "block (%u,%u,%u) thread (%u,%u,%u)", b.block_idx.x, b.block_idx.y,
                      b.block_idx.z, t.x, t.y, t.z);
    } else {
        std::snprintf(buf, sizeof buf, "block (%u,%u,%u)", b.block_idx.x, b.block_idx.y, b.block_idx.z);
    }
    return buf;
}

void release_barrier(Executor& e) {
    for (unsigned i = 0; i < e.nthreads; ++i) {
        Fiber& f = *e.fibers[i];
        if (f.state == kAtBarrier) make_runnable(e, f);
    }
    e.at_barrier = 0;
    e.barrier_result = e.barrier_acc;
}

void release_held(Fiber& f) {
    if (f.held) {
        --f.held->refs;
        f.held = nullptr;
    }
}

void perform(const CpAsyncOp& op) {
    std::memcpy(op.dst, op.src, op.src_bytes);
    if (op.src_bytes < op.bytes) std::memset(static_cast<char*>(op.dst) + op.src_bytes, 0, op.bytes - op.src_bytes);
}

// ---- completion of warp collectives that compute for the whole warp ---------------------------------

struct MmaPayload {
    uint32_t a[4];
    uint32_t b[2];
    float c[4];
    int bf16;
};

struct LdMatrixPayload {
    const void* address;
    int count;
    int trans;
};

float b16_to_float(uint16_t bits, bool bf16) {
    if (bf16) {
        const uint32_t w = static_cast<uint32_t>(bits) << 16;
        float f;
        std::memcpy(&f, &w, 4);
        return f;
    }
    return __half2float(__ushort_as_half(bits));
}

// mma.sync.aligned.m16n8k16.row.col.f32.{f16,bf16}.{f16,bf16}.f32 with the fragment layouts of the
// PTX ISA ("Matrix Fragments for mma.m16n8k16 with floating point type"):
//   groupID = lane >> 2, tig = lane % 4
//   A a0..a7 (4 regs, low half first): row = groupID (+8 for a2,a3,a6,a7), col = tig*2 + (i&1) (+8 for i>=4)
//   B b0..b3 (2 regs):                 row = tig*2 + (i&1) (+8 for i>=2), col = groupID
//   C/D c0..c3:                        row = groupID (+8 for c2,c3), col = tig*2 + (i&1)
void complete_mma(CollBuf& buf) {
    MmaPayload p[32];
    for (int l = 0; l < 32; ++l) std::memcpy(&p[l], buf.slots + l * kSlotBytes, sizeof(MmaPayload));
    const bool bf16 = p[0].bf16 != 0;
    for (int l = 1; l < 32; ++l)
        if (p[l].bf16 != p[0].bf16) fault("lanes of one warp issued mma.sync with different input types (f16 and bf16)");
    float A[16][16], B[16][8], C[16][8];
    for (int l = 0; l < 32; ++l) {
        const int g = l >> 2, t = l & 3;
        for (int i = 0; i < 8; ++i) {
            const uint16_t bits = static_cast<uint16_t>(p[l].a[i / 2] >> (16 * (i & 1)));
            const int row = g + ((i & 2) ? 8 : 0);
            const int col = t * 2 + (i & 1) + (i >= 4 ? 8 : 0);
            A[row][col] = b16_to_float(bits, bf16);
        }
        for (int i = 0; i < 4; ++i) {
            const uint16_t bits = static_cast<uint16_t>(p[l].b[i / 2] >> (16 * (i & 1)));
            const int row = t * 2 + (i & 1) + (i >= 2 ? 8 : 0);
            B[row][g] = b16_to_float(bits, bf16);
        }
        for (int i = 0; i < 4; ++i) C[g + (i >= 2 ? 8 : 0)][t * 2 + (i & 1)] = p[l].c[i];
    }
    for (int l = 0; l < 32; ++l) {
        const int g = l >> 2, t = l & 3;
        for (int i = 0; i < 4; ++i) {
            const int row = g + (i >= 2 ? 8 : 0), col = t * 2 + (i & 1);
            // The f16/bf16 products are exact in fp32; the sum is accumulated in fp32 along k.
            float acc = C[row][col];
            for (int k = 0; k < 16; ++k) acc = std::fma(A[row][k], B[k][col], acc);
            std::memcpy(&buf.result[l][i], &acc, 4);
        }
    }
}

// ldmatrix.sync.aligned.m8n8.{x1,x2,x4}{,.trans}.shared.b16: lanes 8j..8j+7 give the row addresses of
// matrix j (16 bytes each, 16-byte aligned). Without .trans lane l receives, for matrix j, the elements
// (row l/4, cols 2*(l%4) and 2*(l%4)+1); with .trans the elements (rows 2*(l%4) and 2*(l%4)+1, col l/4).
void complete_ldmatrix(CollBuf& buf) {
    LdMatrixPayload p[32];
    for (int l = 0; l < 32; ++l) std::memcpy(&p[l], buf.slots + l * kSlotBytes, sizeof(LdMatrixPayload));
    const int count = p[0].count;
    const bool trans = p[0].trans != 0;
    for (int l = 1; l < 32; ++l)
        if (p[l].count != count || (p[l].trans != 0) != trans)
            fault("lanes of one warp issued different ldmatrix forms (.x%d%s and .x%d%s)", count, trans ? ".trans" : "",
                  p[l].count, p[l].trans ? ".trans" : "");
    for (int r = 0; r < 8 * count; ++r) {
        const uintptr_t a = reinterpret_cast<uintptr_t>(p[r].address);
        if (a == 0 || (a & 15u) != 0)
            fault("ldmatrix .x%d: lane %d gave row address %p, which is not 16-byte aligned", count, r, p[r].address);
        std::memcpy(buf.rows[r], p[r].address, 16);
    }
    for (int l = 0; l < 32; ++l) {
        for (int j = 0; j < count; ++j) {
            uint16_t e[2];
            for (int i = 0; i < 2; ++i) {
                const int row = trans ? 2 * (l % 4) + i : l / 4;
                const int col = trans ? l / 4 : 2 * (l % 4) + i;
                std::memcpy(&e[i], buf.rows[8 * j + row] + 2 * col, 2);
            }
            buf.result[l][j] = static_cast<uint32_t>(e[0]) | (static_cast<uint32_t>(e[1]) << 16);
        }
    }
}

const char* kind_name(int kind) {
    switch (kind) {
        case kSyncWarp: return "__syncwarp";
        case kShflIdx: return "__shfl_sync";
        case kShflUp: return "__shfl_up_sync";
        case kShflDown: return "__shfl_down_sync";
        case kShflXor: return "__shfl_xor_sync";
        case kVote: return "a vote (__ballot/__any/__all_sync)";
        case kReduce: return "__reduce_*_sync";
        case kMatch: return "__match_*_sync";
        case kLdMatrix: return "ldmatrix";
        case kMma: return "mma.sync";
        default: return "an unknown collective";
    }
}

void fiber_exit(Executor& e, Fiber& f) {
    // Copies still in flight land eventually on the GPU; here they land at exit.
    for (const CpAsyncOp& op : f.cp_ops) perform(op);
    f.cp_ops.clear();
    release_held(f);
    Warp& w = e.warps[f.regs.warp];
    const unsigned bit = 1u << f.regs.lane;
    w.exited |= bit;
    for (int i = 0; i < w.ngroups; ++i) {
        const Group& g = w.groups[i];
        if ((g.mask & bit) && !(g.arrived & bit))
            fault("lane %u exited while lanes 0x%08x of its warp wait for it at a warp collective with mask 0x%08x",
                  f.regs.lane, g.arrived, g.mask);
    }
    park(e, f, kExited);
    --e.alive;
    if (e.at_barrier > 0 && e.at_barrier == e.alive) release_barrier(e);
}

// Every lane of warp w is parked or exited (or the one that ran spins): the lanes parked in __activemask
// learn which of them reached the same call together.
void resolve_active_mask(Executor& e, unsigned warp) {
    Warp& w = e.warps[warp];
    unsigned left = w.am_waiting;
    w.am_waiting = 0;
    while (left) {
        const unsigned first = static_cast<unsigned>(__builtin_ctz(left));
        const Site site = e.fibers[warp * 32 + first]->am_site;
        unsigned together = 0;
        for (unsigned l = first; l < 32; ++l)
            if ((left >> l & 1u) && same_site(e.fibers[warp * 32 + l]->am_site, site)) together |= 1u << l;
        left &= ~together;
        for (unsigned l = 0; l < 32; ++l) {
            if (!(together >> l & 1u)) continue;
            Fiber& f = *e.fibers[warp * 32 + l];
            f.am_result = together;
            make_runnable(e, f);
        }
    }
}

void fiber_main() {
    Executor& e = *tls_exec;
    Fiber& f = *e.current;
    try {
        e.launch->body(e.launch->args);
    } catch (...) {
        fault("a C++ exception escaped the kernel");
    }
    fiber_exit(e, f);
    switch_to_scheduler(e, f);
    std::abort();  // an exited fiber is never resumed
}

void deadlock(Executor& e) {
    unsigned barrier = 0, warp = 0;
    for (unsigned i = 0; i < e.nthreads; ++i) {
        barrier += e.fibers[i]->state == kAtBarrier;
        warp += e.fibers[i]->state == kAtWarpCollective;
    }
    // Name the first warp collective that waits for lanes that went elsewhere: the usual culprit.
    std::string detail;
    for (unsigned wi = 0; wi < e.warps.size() && wi * 32 < e.nthreads && detail.empty(); ++wi) {
        const Warp& w = e.warps[wi];
        for (int g = 0; g < w.ngroups; ++g) {
            const unsigned missing = w.groups[g].mask & ~w.groups[g].arrived;
            unsigned at_barrier = 0;
            for (unsigned l = 0; l < 32; ++l)
                if ((missing >> l & 1u) && e.fibers[wi * 32 + l]->state == kAtBarrier) at_barrier |= 1u << l;
            char text[256];
            std::snprintf(text, sizeof text,
                          "; in warp %u %s with mask 0x%08x waits for lanes 0x%08x that do not take part (0x%08x of "
                          "them wait at __syncthreads)",
                          wi, kind_name(w.groups[g].kind), w.groups[g].mask, missing, at_barrier);
            detail = text;
            break;
        }
    }
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "%s: deadlock: %u thread(s) wait at __syncthreads and %u at warp collectives, none can go on "
                  "(a barrier or collective not reached by every thread it waits for)",
                  where(e).c_str(), barrier, warp);
    record_fault(*e.launch, buf + detail);
}

void run_block(Executor& e, LaunchState& l, uint64_t linear_block, unsigned long long seed) {
    const unsigned bx = l.block[0], by = l.block[1], bz = l.block[2];
    const unsigned n = bx * by * bz;
    e.launch = &l;
    e.nthreads = n;
    e.block_regs.block_idx = make_uint3(static_cast<unsigned>(linear_block % l.grid[0]),
                                        static_cast<unsigned>(linear_block / l.grid[0] % l.grid[1]),
                                        static_cast<unsigned>(linear_block / (uint64_t(l.grid[0]) * l.grid[1])));
    e.block_regs.block_dim = dim3(bx, by, bz);
    e.block_regs.grid_dim = dim3(l.grid[0], l.grid[1], l.grid[2]);
    tls_block = &e.block_regs;
    e.ensure_fibers(n);
    e.runnable.clear();
    const unsigned nwarps = (n + 31) / 32;
    if (e.warps.size() < nwarps) e.warps.resize(nwarps);
    for (unsigned w = 0; w < nwarps; ++w) {
        Warp& warp = e.warps[w];
        const unsigned lanes = std::min(32u, n - w * 32);
        warp.existing = lanes == 32 ? 0xffffffffu : (1u << lanes) - 1u;
        warp.exited = 0;
        warp.active = 0;
        warp.am_waiting = 0;
        warp.ngroups = 0;
        for (auto& b : warp.pool) b->refs = 0;
    }
    for (unsigned i = 0; i < n; ++i) {
        Fiber& f = *e.fibers[i];
        f.regs.thread_idx = make_uint3(i % bx, i / bx % by, i / (bx * by));
        f.regs.linear = i;
        f.regs.lane = i % 32;
        f.regs.warp = i / 32;
        f.held = nullptr;
        f.cp_ops.clear();
        f.cp_next_group = 0;
        f.state = kExited;  // whatever the previous block left; make_runnable counts it active again
        e.prepare_stack(f);
        make_runnable(e, f);
    }
    e.alive = n;
    e.at_barrier = 0;
    e.barrier_acc = 0;
    e.aborted = false;
    e.current = nullptr;
    e.shared_seen.clear();
    e.sequential = g_sequential_for_testing.load(std::memory_order_relaxed);
    e.rng.s = seed ^ (l.launch_index * 0xd1b54a32d192ed03ull) ^ (linear_block * 0x8cb92ba72f3d8dd7ull);
    std::memset(e.dyn_smem, kPoisonByte, l.dynamic_smem);
    std::memset(e.dyn_smem + l.dynamic_smem, kCanaryByte, kCanaryBytes);

    while (!e.aborted) {
        if (e.runnable.empty()) {
            e.current = nullptr;  // a deadlock belongs to the block, not to the last thread that ran
            if (e.alive > 0) deadlock(e);
            break;
        }
        size_t pick = 0;
        if (e.sequential) {
            for (size_t i = 1; i < e.runnable.size(); ++i)
                if (e.runnable[i] < e.runnable[pick]) pick = i;
        } else {
            pick = e.rng.next() % e.runnable.size();
        }
        const unsigned id = e.runnable[pick];
        e.runnable[pick] = e.runnable.back();
        e.runnable.pop_back();
        e.yielded = false;
        switch_to_fiber(e, *e.fibers[id]);
        const Warp& ran = e.warps[id / 32];
        if (!e.aborted && ran.am_waiting && (ran.active == 0 || e.yielded)) resolve_active_mask(e, id / 32);
        if (l.failed.load(std::memory_order_relaxed)) break;  // another block faulted: stop early
    }
    e.current = nullptr;
    tls_thread = nullptr;
    if (!e.aborted && !l.failed.load()) {
        for (unsigned i = 0; i < kCanaryBytes; ++i) {
            if (e.dyn_smem[l.dynamic_smem + i] != kCanaryByte) {
                char buf[200];
                std::snprintf(buf, sizeof buf, "%s: wrote %u byte(s) past the end of its %u bytes of dynamic shared memory",
                              where(e).c_str(), i + 1, l.dynamic_smem);
                record_fault(l, buf);
                break;
            }
        }
    }
}

// ---- seed --------------------------------------------------------------------------------------------

std::atomic<bool> g_seed_overridden{false};
std::atomic<unsigned long long> g_seed_override{0};

unsigned long long initial_seed() {
    static const unsigned long long seed = [] {
        if (const char* s = std::getenv("ATTNRT_EMU_SEED")) return std::strtoull(s, nullptr, 10);
        return static_cast<unsigned long long>(std::chrono::high_resolution_clock::now().time_since_epoch().count()) ^
               (static_cast<unsigned long long>(getpid()) << 32);
    }();
    return seed;
}

unsigned long long current_seed() {
    return g_seed_overridden.load() ? g_seed_override.load() : initial_seed();
}

// ---- worker pool -------------------------------------------------------------------------------------

class Pool {
public:
    static Pool& instance() {
        static Pool* pool = new Pool();  // never destroyed: workers may still be parked at exit
        return *pool;
    }

    void run(LaunchState& l, unsigned long long seed) {
        std::unique_lock<std::mutex> lock(mutex_);
        job_ = &l;
        seed_ = seed;
        busy_ = static_cast<int>(workers_.size());
        ++generation_;
        wake_.notify_all();
        done_.wait(lock, [this] { return busy_ == 0; });
        job_ = nullptr;
    }

private:
    Pool() {
        unsigned n = std::thread::hardware_concurrency();
        if (const char* s = std::getenv("ATTNRT_EMU_THREADS")) n = static_cast<unsigned>(std::strtoul(s, nullptr, 10));
        if (n == 0) n = 1;
        for (unsigned i = 0; i < n; ++i) workers_.emplace_back([this] { loop(); });
        for (auto& t : workers_) t.detach();
    }

    void loop() {
        uint64_t seen = 0;
        for (;;) {
            LaunchState* l;
            unsigned long long seed;
            {
                std::unique_lock<std::mutex> lock(mutex_);
                wake_.wait(lock, [&] { return generation_ != seen; });
                seen = generation_;
                l = job_;
                seed = seed_;
            }
            Executor& e = exec();
            while (!l->failed.load(std::memory_order_relaxed)) {
                const uint64_t b = l->next_block.fetch_add(1);
                if (b >= l->nblocks) break;
                run_block(e, *l, b, seed);
            }
            std::lock_guard<std::mutex> lock(mutex_);
            if (--busy_ == 0) done_.notify_all();
        }
    }

    std::mutex mutex_;
    std::condition_variable wake_, done_;
    std::vector<std::thread> workers_;
    LaunchState* job_ = nullptr;
    unsigned long long seed_ = 0;
    uint64_t generation_ = 0;
    int busy_ = 0;
};

std::mutex g_launch_mutex;
uint64_t g_launch_count = 0;

std::vector<attnrt_emu_kernel>& registry() {
    static std::vector<attnrt_emu_kernel> r;
    return r;
}

}  // namespace

// ---- device-side functions ----------------------------------------------------------------------------

namespace {
[[noreturn]] void abort_block(Executor* e, const std::string& what, bool illegal_address) {
    record_fault(*e->launch, where(*e) + ": " + what, illegal_address);
    e->aborted = true;
    Fiber& f = *e->current;
    f.state = kExited;
    switch_to_scheduler(*e, f);
    std::abort();  // an aborted block's fibers are never resumed
}

attnrt_emu_describe_fn g_describe = nullptr;
struct sigaction g_previous[2];  // SIGSEGV, SIGBUS

void chain_signal(int sig, siginfo_t* info, void* context) {
    const struct sigaction& prev = g_previous[sig == SIGBUS ? 1 : 0];
    if (prev.sa_flags & SA_SIGINFO) {
        if (prev.sa_sigaction != nullptr) {
            sigset_t old;
            pthread_sigmask(SIG_BLOCK, &prev.sa_mask, &old);
            prev.sa_sigaction(sig, info, context);
            pthread_sigmask(SIG_SETMASK, &old, nullptr);
        }
        return;
    }
    if (prev.sa_handler == SIG_DFL || prev.sa_handler == SIG_IGN) {
        signal(sig, SIG_DFL);  // the faulting instruction runs again and takes the default action
        return;
    }
    prev.sa_handler(sig);
}

void on_memory_fault(int sig, siginfo_t* info, void* context) {
    Executor* e = executor_of_this_thread();
    if (e == nullptr || !e->in_fiber || e->current == nullptr || e->launch == nullptr) {
        chain_signal(sig, info, context);
        return;
    }
    e->in_fiber = false;  // a second fault while describing this one is not the kernel's: it is chained
    bool write = false;
#if defined(__x86_64__) && defined(REG_ERR)
    write = (static_cast<ucontext_t*>(context)->uc_mcontext.gregs[REG_ERR] & 2) != 0;  // page-fault W bit
#endif
    const uintptr_t address = reinterpret_cast<uintptr_t>(info->si_addr);
    const Fiber& f = *e->current;
    const uintptr_t stack_lo = reinterpret_cast<uintptr_t>(f.stack_lo);
    char text[512];
    if (address < stack_lo && address + page_size() >= stack_lo) {
        std::snprintf(text, sizeof text, "the thread overflowed its %zu KB fiber stack (raise ATTNRT_EMU_STACK_KB)",
                      f.stack_size / 1024);
    } else {
        char described[400];
        if (g_describe != nullptr) {
            g_describe(info->si_addr, described, sizeof described);
        } else {
            std::snprintf(described, sizeof described, "%p", info->si_addr);
        }
        std::snprintf(text, sizeof text, "illegal %s of global memory at %s", write ? "write" : "read", described);
    }
    abort_block(e, text, true);
}

void install_fault_handlers() {
    struct sigaction sa{};
    sa.sa_sigaction = &on_memory_fault;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigaction(SIGSEGV, &sa, &g_previous[0]);
    sigaction(SIGBUS, &sa, &g_previous[1]);
}
}  // namespace

void fault(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    const std::string what = vformat(fmt, ap);
    va_end(ap);
    Executor* e = tls_exec;
    if (!e || !e->current) {
        std::fprintf(stderr, "attnrt-emu: device fault outside an emulated kernel: %s\n", what.c_str());
        std::abort();
    }
    abort_block(e, what, false);
}

void syncthreads() { syncthreads_reduce(0, 0); }

int syncthreads_reduce(int predicate, int op) {
    Executor& e = exec_in_fiber("__syncthreads");
    Fiber& f = *e.current;
    if (e.at_barrier == 0) e.barrier_acc = (op == 1) ? 1 : 0;
    const int p = predicate != 0;
    e.barrier_acc = op == 0 ? e.barrier_acc + p : op == 1 ? (e.barrier_acc & p) : (e.barrier_acc | p);
    park(e, f, kAtBarrier);
    if (++e.at_barrier == e.alive) release_barrier(e);
    switch_to_scheduler(e, f);
    return e.barrier_result;
}

void yield() {
    Executor& e = exec_in_fiber("yield");
    Fiber& f = *e.current;
    make_runnable(e, f);
    e.yielded = true;
    switch_to_scheduler(e, f);
}

unsigned active_mask(Site site) {
    Executor& e = exec_in_fiber("__activemask");
    Fiber& f = *e.current;
    Warp& w = e.warps[f.regs.warp];
    f.am_site = site;
    w.am_waiting |= 1u << f.regs.lane;
    park(e, f, kAtActiveMask);
    switch_to_scheduler(e, f);  // the scheduler resumes it once no lane of the warp can run (resolve_active_mask)
    return f.am_result;
}

void* dynamic_smem() { return exec().dyn_smem; }

void shared_first_use(void* variable, size_t bytes) {
    Executor* e = tls_exec;
    if (!e || !e->current) return;
    for (void* seen : e->shared_seen)
        if (seen == variable) return;
    e->shared_seen.push_back(variable);
    std::memset(variable, kPoisonByte, bytes);
}

const unsigned char* warp_collective(unsigned mask, CollectiveKind kind, const void* payload, unsigned bytes,
                                     unsigned* valid, Site site) {
    Executor& e = exec_in_fiber("a warp collective");
    Fiber& f = *e.current;
    Warp& w = e.warps[f.regs.warp];
    const unsigned bit = 1u << f.regs.lane;
    if (bytes > kSlotBytes) fault("warp collective payload of %u bytes exceeds %u", bytes, kSlotBytes);
    if (!(mask & bit)) fault("lane %u executed a warp collective whose mask 0x%08x does not name it", f.regs.lane, mask);
    release_held(f);
    const unsigned m = mask & w.existing;
    if (m & w.exited)
        fault("warp collective with mask 0x%08x names lanes that have exited (0x%08x)", mask, m & w.exited);
    Group* g = nullptr;
    for (int i = 0; i < w.ngroups; ++i) {
        if (w.groups[i].mask == m) {
            g = &w.groups[i];
        } else if (w.groups[i].mask & m) {
            fault("overlapping warp collectives in one warp: masks 0x%08x and 0x%08x", w.groups[i].mask, m);
        }
    }
    if (!g) {
        g = &w.groups[w.ngroups++];
        *g = Group{m, 0, kind, bytes, w.free_buf(), site};
    } else if (g->kind != kind || g->bytes != bytes) {
        fault("lanes of warp %u met at different warp collectives (%s with %u bytes and %s with %u bytes, mask 0x%08x)",
              f.regs.warp, kind_name(g->kind), g->bytes, kind_name(kind), bytes, m);
    } else if (g->site.file != nullptr && site.file != nullptr && !same_site(g->site, site)) {
        fault("lanes 0x%08x of warp %u are at %s (mask 0x%08x) at %s:%d, but this lane reached one at %s:%d: the mask "
              "names lanes that do not take part in the same call",
              g->arrived, f.regs.warp, kind_name(kind), m, g->site.file, g->site.line, site.file, site.line);
    }
    CollBuf* buf = g->buf;
    if (bytes) std::memcpy(buf->slots + f.regs.lane * kSlotBytes, payload, bytes);
    g->arrived |= bit;
    ++buf->refs;
    f.held = buf;
    if (g->arrived == g->mask) {
        if (kind == kMma) complete_mma(*buf);
        if (kind == kLdMatrix) complete_ldmatrix(*buf);
        const unsigned done = g->mask;
        *g = w.groups[--w.ngroups];
        const unsigned base = f.regs.warp * 32;
        for (unsigned l = 0; l < 32; ++l)
            if ((done >> l & 1u) && l != f.regs.lane) make_runnable(e, *e.fibers[base + l]);
        make_runnable(e, f);  // the last to arrive also waits for its turn: the order is reshuffled
    } else {
        park(e, f, kAtWarpCollective);
    }
    switch_to_scheduler(e, f);
    *valid = m;
    return buf->slots;
}

void mma_m16n8k16_f32(bool bf16, float d[4], const uint32_t a[4], const uint32_t b[2], const float c[4]) {
    MmaPayload p;
    std::memcpy(p.a, a, sizeof p.a);
    std::memcpy(p.b, b, sizeof p.b);
    std::memcpy(p.c, c, sizeof p.c);
    p.bf16 = bf16;
    unsigned valid;
    warp_collective(0xffffffffu, kMma, &p, sizeof p, &valid);
    if (valid != 0xffffffffu) fault("mma.sync needs all 32 lanes of a warp, this warp has lanes 0x%08x", valid);
    const CollBuf& buf = *tls_exec->current->held;
    std::memcpy(d, buf.result[tls_thread->lane], 4 * sizeof(float));
}

void ldmatrix_b16(uint32_t* regs, int count, bool trans, const void* row_address) {
    if (count != 1 && count != 2 && count != 4) fault("ldmatrix .x%d does not exist", count);
    LdMatrixPayload p{row_address, count, trans};
    unsigned valid;
    warp_collective(0xffffffffu, kLdMatrix, &p, sizeof p, &valid);
    if (valid != 0xffffffffu) fault("ldmatrix needs all 32 lanes of a warp, this warp has lanes 0x%08x", valid);
    const CollBuf& buf = *tls_exec->current->held;
    std::memcpy(regs, buf.result[tls_thread->lane], count * sizeof(uint32_t));
}

void cp_async(void* dst, const void* src, unsigned bytes, unsigned src_bytes, bool cache_global) {
    Executor& e = exec_in_fiber("cp.async");
    if (bytes != 4 && bytes != 8 && bytes != 16) fault("cp.async of %u bytes (must be 4, 8 or 16)", bytes);
    if (cache_global && bytes != 16) fault("cp.async.cg copies 16 bytes, not %u", bytes);
    if (src_bytes > bytes) fault("cp.async src-size %u exceeds cp-size %u", src_bytes, bytes);
    if ((reinterpret_cast<uintptr_t>(dst) | reinterpret_cast<uintptr_t>(src)) % bytes != 0)
        fault("cp.async of %u bytes with misaligned addresses (shared %p, global %p)", bytes, dst, src);
    // Until the group that holds it is waited for, the destination has no defined content: poison it,
    // so reading it early (a missing cp.async.wait_group) or writing it too soon shows up.
    std::memset(dst, kPoisonByte, bytes);
    e.current->cp_ops.push_back(CpAsyncOp{dst, src, bytes, src_bytes, -1});
}

void cp_async_commit() {
    Fiber& f = *exec_in_fiber("cp.async.commit_group").current;
    for (CpAsyncOp& op : f.cp_ops)
        if (op.group < 0) op.group = f.cp_next_group;
    ++f.cp_next_group;  // an empty group is a group too, as in PTX
}

void cp_async_wait_group(int pending_allowed) {
    Fiber& f = *exec_in_fiber("cp.async.wait_group").current;
    if (pending_allowed < 0) fault("cp.async.wait_group %d", pending_allowed);
    const int retire_below = f.cp_next_group - pending_allowed;
    size_t kept = 0;
    for (size_t i = 0; i < f.cp_ops.size(); ++i) {
        const CpAsyncOp& op = f.cp_ops[i];
        if (op.group >= 0 && op.group < retire_below) {
            perform(op);
        } else {
            f.cp_ops[kept++] = op;
        }
    }
    f.cp_ops.resize(kept);
}

// ---- launching --------------------------------------------------------------------------------------

int launch_grid(const char* name, const unsigned grid[3], const unsigned block[3], unsigned dynamic_smem,
                KernelBody body, const void* args) {
    const uint64_t threads = uint64_t(block[0]) * block[1] * block[2];
    const char* invalid = nullptr;
    if (grid[0] == 0 || grid[1] == 0 || grid[2] == 0) invalid = "a grid dimension is zero";
    else if (grid[0] > 0x7fffffffu || grid[1] > 65535 || grid[2] > 65535) invalid = "a grid dimension exceeds the limit (2^31-1, 65535, 65535)";
    else if (block[0] == 0 || block[1] == 0 || block[2] == 0) invalid = "a block dimension is zero";
    else if (block[0] > 1024 || block[1] > 1024 || block[2] > 64) invalid = "a block dimension exceeds the limit (1024, 1024, 64)";
    else if (threads > kMaxBlockThreads) invalid = "the block has more than 1024 threads";
    else if (dynamic_smem > kMaxDynamicSmem) invalid = "the dynamic shared memory exceeds 227 KB";
    if (invalid) {
        std::fprintf(stderr, "attnrt-emu: kernel %s: invalid launch grid (%u,%u,%u) block (%u,%u,%u) dynamic smem %u: %s\n",
                     name, grid[0], grid[1], grid[2], block[0], block[1], block[2], dynamic_smem, invalid);
        return ATTNRT_EMU_INVALID_LAUNCH;
    }
    static std::once_flag handlers;
    std::call_once(handlers, install_fault_handlers);
    static std::once_flag printed;
    std::call_once(printed, [] {
        // Several kernel libraries may be loaded, each with its own seed: say which one this is.
        Dl_info info{};
        const char* library = dladdr(reinterpret_cast<void*>(&attnrt_emu_seed), &info) && info.dli_fname ? info.dli_fname : "?";
        const char* slash = std::strrchr(library, '/');
        std::fprintf(stderr, "attnrt-emu: fiber-order seed %llu (%s)\n", initial_seed(), slash ? slash + 1 : library);
    });
    std::lock_guard<std::mutex> lock(g_launch_mutex);
    LaunchState l;
    l.name = name;
    std::memcpy(l.grid, grid, sizeof l.grid);
    std::memcpy(l.block, block, sizeof l.block);
    l.dynamic_smem = dynamic_smem;
    l.body = body;
    l.args = args;
    l.nblocks = uint64_t(grid[0]) * grid[1] * grid[2];
    l.launch_index = g_launch_count++;
    Pool::instance().run(l, current_seed());
    if (l.failed.load()) {
        std::fprintf(stderr, "attnrt-emu: kernel %s: %s\n", name, l.fault_message.c_str());
        return l.illegal_address ? ATTNRT_EMU_ILLEGAL_ADDRESS : ATTNRT_EMU_FAULT;
    }
    return ATTNRT_EMU_OK;
}

KernelRegistrar::KernelRegistrar(const char* name, attnrt_emu_launch_fn launch) {
    registry().push_back(attnrt_emu_kernel{name, launch, kMaxDynamicSmem});
}

// For the emulator's own tests: later launches use this seed instead of ATTNRT_EMU_SEED / the clock.
__attribute__((visibility("hidden"))) void set_seed_for_testing(unsigned long long seed) {
    g_seed_override.store(seed);
    g_seed_overridden.store(true);
}

// For the emulator's own tests: run the fibers of a block in thread order, as a plain sequential
// emulation would, to show which bugs only the shuffle exposes.
__attribute__((visibility("hidden"))) void set_sequential_for_testing(bool sequential) {
    g_sequential_for_testing.store(sequential);
}

}  // namespace attnrt_emu

extern "C" const attnrt_emu_kernel* attnrt_emu_kernel_table(int* count) {
    auto& r = attnrt_emu::registry();
    if (count) *count = static_cast<int>(r.size());
    return r.data();
}

extern "C" unsigned long long attnrt_emu_seed(void) { return attnrt_emu::initial_seed(); }

extern "C" void attnrt_emu_set_describer(attnrt_emu_describe_fn describe) { attnrt_emu::g_describe = describe; }

// A failed assert() in a kernel stops the launch with a fault instead of aborting the process.
// Hidden, so the kernels of this library bind to it rather than to the C library's.
extern "C" __attribute__((visibility("hidden"), noreturn)) void __assert_fail(const char* expr, const char* file,
                                                                             unsigned int line, const char* func) noexcept {
    attnrt_emu::Executor* e = attnrt_emu::tls_exec;
    if (e && e->current) attnrt_emu::fault("assertion `%s' failed at %s:%u in %s", expr, file, line, func);
    std::fprintf(stderr, "attnrt-emu: assertion `%s' failed at %s:%u in %s\n", expr, file, line, func);
    std::abort();
}
