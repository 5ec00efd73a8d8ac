// emu_driver.cpp — the emulated CUDA device behind a fake libcuda.so.1 (test target only).
//
// JCuda's libJCudaDriver resolves cu* through the dynamic linker; with this library first on the library
// path every call lands here and runs on the CPU: device memory is host memory with guard zones, streams and
// events complete at once (every call is synchronous), and a kernel launch runs the whole grid through a
// kernel library that implements the kernel in C++ (ABI: cuda/emu/attnrt_emu_abi.h). What this file does not
// implement is answered CUDA_ERROR_NOT_SUPPORTED by stubs generated from JCuda's import list
// (scripts/emu-stubs.sh), so the emulator never kills the JVM with a missing symbol.
//
// Environment (read once, at cuInit):
//   ATTNRT_EMU_KERNEL_LIBS  colon-separated kernel libraries (.so) to dlopen
//   ATTNRT_EMU_CC           compute capability to report: 80 (default), 86, 89 or 90
//   ATTNRT_EMU_MEM_MB       device memory to report and enforce, in MiB (default 8192)
//   ATTNRT_EMU_VERBOSE      1: say on stderr which kernel libraries and kernels were loaded
//   ATTNRT_EMU_GUARD        end (default), start or off: where allocations abut a PROT_NONE page (GuardMode)

#include <cuda.h>

// cuda.h renames several entry points to newer versions (cuEventElapsedTime -> _v2, cuDeviceGetUuid -> _v2,
// ...). This file defines exactly the names JCuda 12.6 imports, so the renames must not apply to it.
#undef cuEventElapsedTime
#undef cuDeviceGetUuid
#undef cuStreamGetCtx
#undef cuDeviceTotalMem
#undef cuMemGetInfo
#undef cuMemAlloc
#undef cuMemFree
#undef cuMemGetAddressRange
#undef cuMemAllocHost
#undef cuMemHostGetDevicePointer
#undef cuMemcpy
#undef cuMemcpyAsync
#undef cuMemcpyHtoD
#undef cuMemcpyDtoH
#undef cuMemcpyDtoD
#undef cuMemcpyHtoDAsync
#undef cuMemcpyDtoHAsync
#undef cuMemcpyDtoDAsync
#undef cuMemsetD8
#undef cuMemsetD16
#undef cuMemsetD32
#undef cuMemsetD8Async
#undef cuMemsetD16Async
#undef cuMemsetD32Async
#undef cuMemAllocAsync
#undef cuMemFreeAsync
#undef cuCtxCreate
#undef cuCtxDestroy
#undef cuCtxPopCurrent
#undef cuCtxPushCurrent
#undef cuStreamDestroy
#undef cuEventDestroy
#undef cuDevicePrimaryCtxRelease
#undef cuDevicePrimaryCtxReset
#undef cuDevicePrimaryCtxSetFlags
#undef cuLaunchKernel
#undef cuStreamQuery
#undef cuStreamSynchronize
#undef cuStreamWaitEvent
#undef cuStreamGetFlags
#undef cuStreamGetPriority
#undef cuEventRecord
#undef cuEventRecordWithFlags
#undef cuModuleGetGlobal

#include "attnrt_emu_driver.h"

#include <dlfcn.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "../attnrt_emu_abi.h"

extern "C" {
typedef const attnrt_emu_kernel* (*attnrt_emu_kernel_table_fn)(int* count);
typedef unsigned long long (*attnrt_emu_seed_fn)(void);
typedef void (*attnrt_emu_set_describer_fn)(attnrt_emu_describe_fn describe);
}

#define EMU_API extern "C" __attribute__((visibility("default")))

namespace {

constexpr int kDriverVersion = 12060;
constexpr const char* kDeviceName = "attnrt emulated device";
// Guard zones around every allocation: a kernel that writes past either end of a buffer is caught after the
// launch instead of corrupting the heap of the test JVM.
constexpr size_t kRedzone = 256;
constexpr unsigned char kRedzoneByte = 0xCB;
// Guard-page layout (ATTNRT_EMU_GUARD, read at cuInit): every allocation is an mmap of its own,
//     [PROT_NONE page][slack | data, rounded up to kGuardGranule][PROT_NONE page]     ("end", the default)
//     [PROT_NONE page][data | slack                             ][PROT_NONE page]     ("start")
// so that an access past the rounded end (or, in "start", before the start) faults in the kernel fiber and
// becomes CUDA_ERROR_ILLEGAL_ADDRESS (attnrt_emu_runtime.cpp). "end" makes the START only kGuardGranule-
// aligned (CUDA guarantees 256): 16 bytes keeps every 16-byte vector load of the last element legal, as the
// GPU's allocation granularity does. Slack bytes are guard-zone bytes, checked after each launch for writes.
// "off" keeps the heap layout with kRedzone bytes on either side (writes only).
constexpr size_t kGuardGranule = 16;
enum class GuardMode { End, Start, Off };
// Fresh allocations read as NaN in every float format (0xFF bytes), as uninitialised device memory would
// read as garbage: a kernel that reads what nobody wrote shows up in the results.
constexpr unsigned char kPoisonByte = 0xFF;

void emuLog(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void emuLog(const char* fmt, ...) {
    char line[1024];
    va_list args;
    va_start(args, fmt);
    vsnprintf(line, sizeof line, fmt, args);
    va_end(args);
    fprintf(stderr, "[attnrt-emu] %s\n", line);
    fflush(stderr);
}

// Per compute capability: the numbers of the reference board (A100 SXM, RTX 3090, RTX 4090, H100 SXM).
struct DeviceProfile {
    int cc;
    int multiprocessors;
    int maxThreadsPerSm;
    int maxBlocksPerSm;
    int smemPerSm;
    int smemPerBlockOptin;
    int l2Bytes;
    int clockKhz;
    int memoryClockKhz;
    int busWidthBits;
};
constexpr DeviceProfile kProfiles[] = {
    {80, 108, 2048, 32, 167936, 166912, 41943040, 1410000, 1593000, 5120},
    {86, 82, 1536, 16, 102400, 101376, 6291456, 1695000, 9751000, 384},
    {89, 128, 1536, 24, 102400, 101376, 75497472, 2520000, 10501000, 384},
    {90, 132, 2048, 32, 233472, 232448, 52428800, 1980000, 2619000, 5120},
};
constexpr int kSmemPerBlockDefault = 48 * 1024;
constexpr int kReservedSmemPerBlock = 1024;

struct Ctx;

struct Alloc {
    uintptr_t base;
    size_t size;
    unsigned char* block;  // the accessible bytes around [base, base + size): guard zone, data, guard zone
    size_t blockSize;
    Ctx* ctx;
    bool host;  // page-locked host memory (cuMemAllocHost / cuMemHostAlloc), mapped for the device
    void* mapping;  // guard-page layout: the whole mmap (block plus a PROT_NONE page on each side); else null
    size_t mappingSize;
};

struct Ctx {
    unsigned long long id;
    unsigned flags;
    bool primary;
    bool alive;
    size_t limits[16];
    CUfunc_cache cacheConfig;
    // A kernel's illegal address ruins the context as on a GPU: later work in it fails with this error
    // (REQUIRE_HEALTHY) until it is destroyed or, for the primary context, reset or released.
    CUresult sticky = CUDA_SUCCESS;
};

struct Stream {
    Ctx* ctx;
    unsigned flags;
    int priority;
    bool alive;
};

struct Event {
    Ctx* ctx;
    unsigned flags;
    bool recorded;
    double timeMs;
    bool alive;
};

struct KernelEntry {
    const attnrt_emu_kernel* kernel;
    std::string library;
    unsigned long long seed;
};

struct Module;

struct Function {
    Module* module;
    std::string name;
    const KernelEntry* entry;
    int maxDynamicSmem;
    int carveout;
    int staticSmem;  // what ptxas would allocate for the kernel's __shared__ variables (from the PTX)
};

struct Module {
    Ctx* ctx;
    bool alive;
    int ptxVersion;  // major * 10 + minor
    std::set<std::string> entries;
    std::map<std::string, size_t> staticSmem;  // bytes of static shared memory per .entry (from the PTX)
    std::map<std::string, Function*> functions;
};

// Handles are never reused: objects are kept after destruction (marked dead), so a stale handle is
// recognised as such instead of silently aliasing a newer object.
struct State {
    std::mutex mutex;
    std::atomic<bool> initialized{false};
    CUresult initError = CUDA_SUCCESS;
    DeviceProfile profile = kProfiles[0];
    size_t totalMemory = 8192ull << 20;
    size_t deviceBytesInUse = 0;
    unsigned long long nextCtxId = 1;
    Ctx* primary = nullptr;
    int primaryRefs = 0;
    unsigned primaryFlags = 0;
    std::set<Ctx*> contexts;
    std::set<Stream*> streams;
    std::set<Event*> events;
    std::set<Module*> modules;
    std::set<Function*> functions;
    std::map<uintptr_t, Alloc> allocs;
    std::map<std::string, KernelEntry> kernels;
    bool warnedPtxVersion = false;
    GuardMode guard = GuardMode::End;
    bool warnedGuardFallback = false;
};

State& state() {
    static State* s = new State();  // never destroyed: JNI may call in during JVM shutdown
    return *s;
}

thread_local std::vector<Ctx*> ctxStack;

using Lock = std::lock_guard<std::mutex>;

double nowMs() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

#define REQUIRE_INIT()                                   \
    do {                                                 \
        if (!state().initialized) return CUDA_ERROR_NOT_INITIALIZED; \
    } while (0)

CUresult currentCtx(Ctx** out) {
    if (ctxStack.empty() || ctxStack.back() == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
    if (!ctxStack.back()->alive) return CUDA_ERROR_CONTEXT_IS_DESTROYED;
    *out = ctxStack.back();
    return CUDA_SUCCESS;
}

#define REQUIRE_CTX(var)                               \
    Ctx* var = nullptr;                                \
    do {                                               \
        CUresult rc_ = currentCtx(&var);               \
        if (rc_ != CUDA_SUCCESS) return rc_;           \
    } while (0)

// Work that a GPU refuses once a kernel fault has ruined the context (allocations, copies, memsets, module
// loads, launches, synchronisation). Frees, destroys and queries still succeed, so cleanup code runs.
#define REQUIRE_HEALTHY(var)                                      \
    do {                                                          \
        if ((var)->sticky != CUDA_SUCCESS) return (var)->sticky;  \
    } while (0)

CUresult checkDevice(CUdevice dev) { return dev == 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE; }

template <class T>
T* liveHandle(std::set<T*>& registry, void* handle) {
    T* object = static_cast<T*>(handle);
    if (handle == nullptr || registry.count(object) == 0 || !object->alive) return nullptr;
    return object;
}

// The NULL stream and the two special handles are always valid.
bool validStream(CUstream hStream) {
    if (hStream == nullptr || hStream == CU_STREAM_LEGACY || hStream == CU_STREAM_PER_THREAD) return true;
    return liveHandle(state().streams, hStream) != nullptr;
}

// ---- memory ---------------------------------------------------------------------------------------------

const Alloc* findAlloc(uintptr_t p) {
    auto& allocs = state().allocs;
    auto it = allocs.upper_bound(p);
    if (it == allocs.begin()) return nullptr;
    --it;
    return p < it->second.base + it->second.size ? &it->second : nullptr;
}

// Whether [p, p + bytes) lies in one live allocation; why says what is wrong otherwise.
bool rangeInAllocation(uintptr_t p, size_t bytes, std::string* why) {
    const Alloc* a = findAlloc(p);
    char text[256];
    if (a == nullptr) {
        snprintf(text, sizeof text, "0x%llx is not inside any live allocation of the emulated device",
                 (unsigned long long)p);
        if (why) *why = text;
        return false;
    }
    size_t offset = p - a->base;
    if (bytes > a->size - offset) {
        snprintf(text, sizeof text,
                 "[0x%llx, +%zu bytes) overruns the allocation at 0x%llx of %zu bytes (offset %zu) by %zu bytes",
                 (unsigned long long)p, bytes, (unsigned long long)a->base, a->size, offset,
                 bytes - (a->size - offset));
        if (why) *why = text;
        return false;
    }
    return true;
}

CUresult checkDeviceRange(const char* api, const char* what, uintptr_t p, size_t bytes) {
    std::string why;
    if (rangeInAllocation(p, bytes, &why)) return CUDA_SUCCESS;
    emuLog("%s: %s %s -> CUDA_ERROR_INVALID_VALUE", api, what, why.c_str());
    return CUDA_ERROR_INVALID_VALUE;
}

// cuMemcpy with unified addressing: a pointer inside an allocation must stay inside it; a pointer outside
// every allocation is host memory, which must not run into one.
CUresult checkUnifiedRange(const char* api, const char* what, uintptr_t p, size_t bytes) {
    if (findAlloc(p) != nullptr) return checkDeviceRange(api, what, p, bytes);
    auto it = state().allocs.upper_bound(p);
    if (it != state().allocs.end() && it->second.base < p + bytes) {
        emuLog("%s: host range %s [0x%llx, +%zu bytes) runs into the device allocation at 0x%llx -> "
               "CUDA_ERROR_INVALID_VALUE",
               api, what, (unsigned long long)p, bytes, (unsigned long long)it->second.base);
        return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

size_t pageSize() {
    static const size_t p = (size_t)sysconf(_SC_PAGESIZE);
    return p;
}

// The guard-page layout (see GuardMode); false when the mmap fails (vm.max_map_count, address space), and the
// caller falls back to the heap layout.
bool mapGuarded(size_t bytes, GuardMode mode, Alloc* a) {
    const size_t page = pageSize();
    size_t granule = mode == GuardMode::End ? kGuardGranule : page;
    size_t rounded = (bytes + granule - 1) / granule * granule;
    size_t inner = (rounded + page - 1) / page * page;
    if (rounded < bytes || inner < rounded || inner > SIZE_MAX - 2 * page) return false;
    size_t total = inner + 2 * page;
    void* m = mmap(nullptr, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) return false;
    unsigned char* block = static_cast<unsigned char*>(m) + page;
    if (mprotect(block, inner, PROT_READ | PROT_WRITE) != 0) {
        munmap(m, total);
        return false;
    }
    a->mapping = m;
    a->mappingSize = total;
    a->block = block;
    a->blockSize = inner;
    a->base = reinterpret_cast<uintptr_t>(mode == GuardMode::End ? block + inner - rounded : block);
    return true;
}

CUresult allocate(size_t bytes, bool host, Ctx* ctx, uintptr_t* out) {
    if (bytes == 0) return CUDA_ERROR_INVALID_VALUE;
    State& s = state();
    if (!host && bytes > s.totalMemory - s.deviceBytesInUse) return CUDA_ERROR_OUT_OF_MEMORY;
    Alloc a{0, bytes, nullptr, 0, ctx, host, nullptr, 0};
    if (s.guard == GuardMode::Off || !mapGuarded(bytes, s.guard, &a)) {
        if (s.guard != GuardMode::Off && !s.warnedGuardFallback) {
            s.warnedGuardFallback = true;
            emuLog("warning: cannot map a guarded allocation of %zu bytes (%s; %zu live allocations, each takes up "
                   "to 3 of vm.max_map_count); this and later such allocations only get write guard zones",
                   bytes, strerror(errno), s.allocs.size());
        }
        size_t rounded = (bytes + kRedzone - 1) / kRedzone * kRedzone;
        if (rounded < bytes) return CUDA_ERROR_OUT_OF_MEMORY;
        size_t blockSize = rounded + 2 * kRedzone;
        auto* block = static_cast<unsigned char*>(aligned_alloc(kRedzone, blockSize));
        if (block == nullptr) return CUDA_ERROR_OUT_OF_MEMORY;
        a.block = block;
        a.blockSize = blockSize;
        a.base = reinterpret_cast<uintptr_t>(block + kRedzone);
    }
    unsigned char* data = reinterpret_cast<unsigned char*>(a.base);
    memset(a.block, kRedzoneByte, data - a.block);
    memset(data, kPoisonByte, bytes);
    memset(data + bytes, kRedzoneByte, a.block + a.blockSize - data - bytes);
    s.allocs[a.base] = a;
    if (!host) s.deviceBytesInUse += bytes;
    *out = a.base;
    return CUDA_SUCCESS;
}

void release(std::map<uintptr_t, Alloc>::iterator it) {
    State& s = state();
    if (!it->second.host) s.deviceBytesInUse -= it->second.size;
    if (it->second.mapping != nullptr) {
        munmap(it->second.mapping, it->second.mappingSize);
    } else {
        free(it->second.block);
    }
    s.allocs.erase(it);
}

// Where addr lies relative to the nearest live allocation, for the message of a kernel's illegal address.
void describeAddress(uintptr_t addr, char* out, size_t len) {
    auto& allocs = state().allocs;
    const Alloc* best = nullptr;
    long long offset = 0;
    unsigned long long distance = ~0ull;
    auto it = allocs.upper_bound(addr);
    if (it != allocs.end()) {
        best = &it->second;
        offset = -(long long)(it->second.base - addr);
        distance = it->second.base - addr;
    }
    if (it != allocs.begin()) {
        const Alloc& prev = std::prev(it)->second;
        unsigned long long past = addr < prev.base + prev.size ? 0 : addr - (prev.base + prev.size);
        if (past <= distance) {
            best = &prev;
            offset = (long long)(addr - prev.base);
            distance = past;
        }
    }
    if (best == nullptr) {
        snprintf(out, len, "0x%llx (the emulated device has no live allocation)", (unsigned long long)addr);
    } else if (offset < 0) {
        snprintf(out, len, "0x%llx, %llu byte(s) before the start of the %zu-byte allocation at 0x%llx (offset %lld)",
                 (unsigned long long)addr, distance, best->size, (unsigned long long)best->base, offset);
    } else if (offset >= (long long)best->size) {
        snprintf(out, len, "0x%llx, %llu byte(s) past the end of the %zu-byte allocation at 0x%llx (offset %lld)",
                 (unsigned long long)addr, distance, best->size, (unsigned long long)best->base, offset);
    } else {
        snprintf(out, len, "0x%llx, inside the %zu-byte allocation at 0x%llx (offset %lld)", (unsigned long long)addr,
                 best->size, (unsigned long long)best->base, offset);
    }
}

CUresult freeAllocation(uintptr_t p, bool host) {
    auto& allocs = state().allocs;
    auto it = allocs.find(p);
    if (p == 0) return CUDA_SUCCESS;  // cudaFree(NULL) is a no-op
    if (it == allocs.end() || it->second.host != host) {
        emuLog("%s(0x%llx): not the start of a live %s allocation (double free or foreign pointer) -> "
               "CUDA_ERROR_INVALID_VALUE",
               host ? "cuMemFreeHost" : "cuMemFree", (unsigned long long)p, host ? "host" : "device");
        return CUDA_ERROR_INVALID_VALUE;
    }
    release(it);
    return CUDA_SUCCESS;
}

// Whether len bytes at p all equal byte, a word at a time (guard zones are checked after every launch).
bool allBytes(const unsigned char* p, size_t len, unsigned char byte) {
    uint64_t word;
    memset(&word, byte, sizeof word);
    size_t i = 0;
    for (; i < len && (reinterpret_cast<uintptr_t>(p + i) & 7) != 0; i++)
        if (p[i] != byte) return false;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, sizeof w);
        if (w != word) return false;
    }
    for (; i < len; i++)
        if (p[i] != byte) return false;
    return true;
}

// Finds guard zones a kernel overwrote, names the first, repairs them all. False when any was touched.
bool checkRedzones(const char* kernelName) {
    bool clean = true;
    for (auto& [base, a] : state().allocs) {
        unsigned char* data = reinterpret_cast<unsigned char*>(base);
        unsigned char* zones[2] = {a.block, data + a.size};
        size_t lengths[2] = {(size_t)(data - a.block), (size_t)(a.block + a.blockSize - data - a.size)};
        for (int z = 0; z < 2; z++) {
            if (allBytes(zones[z], lengths[z], kRedzoneByte)) continue;
            long first = -1, last = -1;
            for (size_t i = 0; i < lengths[z]; i++) {
                if (zones[z][i] != kRedzoneByte) {
                    if (first < 0) first = (long)i;
                    last = (long)i;
                }
            }
            long from = z == 0 ? first - (long)lengths[0] : (long)a.size + first;
            long to = z == 0 ? last - (long)lengths[0] : (long)a.size + last;
            if (clean) {
                emuLog("kernel %s wrote outside the allocation at 0x%llx of %zu bytes: bytes at offsets %ld..%ld "
                       "(%s) -> CUDA_ERROR_ILLEGAL_ADDRESS",
                       kernelName, (unsigned long long)base, a.size, from, to,
                       z == 0 ? "before its start" : "past its end");
            }
            clean = false;
            memset(zones[z], kRedzoneByte, lengths[z]);
        }
    }
    return clean;
}

// ---- contexts -------------------------------------------------------------------------------------------

Ctx* newCtx(unsigned flags, bool primary) {
    State& s = state();
    Ctx* c = new Ctx();
    c->id = s.nextCtxId++;
    c->flags = flags;
    c->primary = primary;
    c->alive = true;
    c->limits[CU_LIMIT_STACK_SIZE] = 1024;
    c->limits[CU_LIMIT_PRINTF_FIFO_SIZE] = 1 << 20;
    c->limits[CU_LIMIT_MALLOC_HEAP_SIZE] = 8 << 20;
    c->limits[CU_LIMIT_DEV_RUNTIME_SYNC_DEPTH] = 2;
    c->limits[CU_LIMIT_DEV_RUNTIME_PENDING_LAUNCH_COUNT] = 2048;
    c->limits[CU_LIMIT_MAX_L2_FETCH_GRANULARITY] = 64;
    c->limits[CU_LIMIT_PERSISTING_L2_CACHE_SIZE] = 0;
    c->cacheConfig = CU_FUNC_CACHE_PREFER_NONE;
    s.contexts.insert(c);
    return c;
}

// Everything a context owns dies with it, as on a real device.
void destroyCtxResources(Ctx* c) {
    State& s = state();
    for (auto it = s.allocs.begin(); it != s.allocs.end();) {
        auto next = std::next(it);
        if (it->second.ctx == c) release(it);
        it = next;
    }
    for (Stream* st : s.streams)
        if (st->ctx == c) st->alive = false;
    for (Event* e : s.events)
        if (e->ctx == c) e->alive = false;
    for (Module* m : s.modules)
        if (m->ctx == c) m->alive = false;
}

void dropFromThreadStack(Ctx* c) {
    for (auto it = ctxStack.begin(); it != ctxStack.end();) it = *it == c ? ctxStack.erase(it) : it + 1;
}

// ---- kernel libraries -----------------------------------------------------------------------------------

// Called by a kernel library on the worker thread whose kernel fiber faulted (from its SIGSEGV handler). The
// launching thread does not hold the driver lock while a grid runs, and workers never take it otherwise.
void describeForKernels(const void* address, char* out, size_t len) {
    Lock lock(state().mutex);
    describeAddress(reinterpret_cast<uintptr_t>(address), out, len);
}

CUresult loadKernelLibraries() {
    State& s = state();
    const char* env = getenv("ATTNRT_EMU_KERNEL_LIBS");
    bool verbose = getenv("ATTNRT_EMU_VERBOSE") != nullptr && strcmp(getenv("ATTNRT_EMU_VERBOSE"), "0") != 0;
    if (env == nullptr || *env == '\0') {
        emuLog("ATTNRT_EMU_KERNEL_LIBS is not set: no kernel can be launched on the emulated device");
        return CUDA_SUCCESS;
    }
    std::string list(env);
    size_t start = 0;
    while (start <= list.size()) {
        size_t end = list.find(':', start);
        if (end == std::string::npos) end = list.size();
        std::string path = list.substr(start, end - start);
        start = end + 1;
        if (path.empty()) continue;
        void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (lib == nullptr) {
            emuLog("cannot load kernel library %s: %s", path.c_str(), dlerror());
            return CUDA_ERROR_SHARED_OBJECT_INIT_FAILED;
        }
        auto table = reinterpret_cast<attnrt_emu_kernel_table_fn>(dlsym(lib, "attnrt_emu_kernel_table"));
        auto seed = reinterpret_cast<attnrt_emu_seed_fn>(dlsym(lib, "attnrt_emu_seed"));
        if (table == nullptr || seed == nullptr) {
            emuLog("kernel library %s does not export attnrt_emu_kernel_table and attnrt_emu_seed",
                   path.c_str());
            return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
        }
        int count = 0;
        const attnrt_emu_kernel* kernels = table(&count);
        if (count < 0 || (count > 0 && kernels == nullptr)) {
            emuLog("kernel library %s returned a broken kernel table (count %d)", path.c_str(), count);
            return CUDA_ERROR_SHARED_OBJECT_INIT_FAILED;
        }
        unsigned long long libSeed = seed();
        // Optional (libraries without kernels lack it): how the library names a faulting address.
        auto setDescriber = reinterpret_cast<attnrt_emu_set_describer_fn>(dlsym(lib, "attnrt_emu_set_describer"));
        if (setDescriber != nullptr) setDescriber(&describeForKernels);
        for (int i = 0; i < count; i++) {
            const attnrt_emu_kernel* k = &kernels[i];
            if (k->name == nullptr || k->launch == nullptr) {
                emuLog("kernel library %s: table entry %d has no name or no launch function", path.c_str(), i);
                return CUDA_ERROR_SHARED_OBJECT_INIT_FAILED;
            }
            auto existing = s.kernels.find(k->name);
            if (existing != s.kernels.end()) {
                emuLog("kernel %s is defined by both %s and %s", k->name, existing->second.library.c_str(),
                       path.c_str());
                return CUDA_ERROR_SHARED_OBJECT_INIT_FAILED;
            }
            s.kernels[k->name] = KernelEntry{k, path, libSeed};
        }
        if (verbose) {
            emuLog("kernel library %s: %d kernel(s), seed %llu", path.c_str(), count, libSeed);
        }
    }
    return CUDA_SUCCESS;
}

// ---- PTX ------------------------------------------------------------------------------------------------

struct PtxInfo {
    int version = 0;    // major * 10 + minor
    int target = 0;     // sm_NN -> NN
    bool archSpecific = false;
    std::set<std::string> entries;
    std::map<std::string, size_t> staticSmem;  // per .entry
};

// Comments and string literals blanked out, so ".entry" inside them is not taken for a kernel.
std::string stripComments(const char* text) {
    std::string out(text);
    size_t n = out.size();
    for (size_t i = 0; i < n; i++) {
        if (out[i] == '/' && i + 1 < n && out[i + 1] == '/') {
            while (i < n && out[i] != '\n') out[i++] = ' ';
        } else if (out[i] == '/' && i + 1 < n && out[i + 1] == '*') {
            size_t j = i;
            while (j < n && !(out[j] == '*' && j + 1 < n && out[j + 1] == '/')) out[j++] = ' ';
            for (size_t k = j; k < n && k < j + 2; k++) out[k] = ' ';
            i = j + 1;
        } else if (out[i] == '"') {
            size_t j = i + 1;
            while (j < n && out[j] != '"' && out[j] != '\n') out[j++] = ' ';
            i = j;
        }
    }
    return out;
}

bool isNameChar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '$' ||
           c == '.' || c == '%';
}

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// The next whitespace-delimited word after the directive at position p.
std::string wordAfter(const std::string& text, size_t p) {
    while (p < text.size() && isSpace(text[p])) p++;
    size_t start = p;
    while (p < text.size() && isNameChar(text[p])) p++;
    return text.substr(start, p - start);
}

// Positions where directive (".entry", ".version", ...) appears as a whole token.
std::vector<size_t> directivePositions(const std::string& text, const char* directive) {
    std::vector<size_t> positions;
    size_t len = strlen(directive);
    for (size_t p = text.find(directive); p != std::string::npos; p = text.find(directive, p + 1)) {
        bool startOk = p == 0 || isSpace(text[p - 1]);
        bool endOk = p + len < text.size() && isSpace(text[p + len]);
        if (startOk && endOk) positions.push_back(p + len);
    }
    return positions;
}

// ---- static shared memory from the PTX ------------------------------------------------------------------

struct SharedVar {
    std::string name;
    size_t align;
    size_t bytes;
    size_t at;  // position in the text
};

size_t ptxTypeBytes(const std::string& type) {
    if (type.empty()) return 0;
    int bits = atoi(type.c_str() + (type[0] == 'p' ? 4 : 1));  // .b8 .u16 .s32 .f64 .f16x2 ... (pred: none)
    if (type.compare(0, 3, "f16") == 0 && type.find("x2") != std::string::npos) bits = 32;
    return bits > 0 ? (size_t)bits / 8 : 0;
}

// `.shared [.align N] [.vK] .TYPE NAME[D1][D2]...;` starting after the directive at p; false for a dynamic
// (`[]`) or unreadable declaration.
bool parseSharedDecl(const std::string& text, size_t p, SharedVar* var) {
    size_t end = text.find(';', p);
    if (end == std::string::npos) return false;
    std::string decl = text.substr(p, end - p);
    if (decl.find_first_of(",()") != std::string::npos) return false;  // a .ptr .shared parameter, not a variable
    if (p >= 12 && text.compare(p - 12, 4, ".ptr") == 0) return false;
    size_t align = 0, vec = 1, elem = 0;
    std::string name;
    size_t i = 0;
    while (i < decl.size()) {
        while (i < decl.size() && isSpace(decl[i])) i++;
        if (i >= decl.size()) break;
        if (decl[i] == '.') {
            size_t j = i + 1;
            while (j < decl.size() && isNameChar(decl[j]) && decl[j] != '.') j++;
            std::string word = decl.substr(i + 1, j - i - 1);
            i = j;
            if (word == "align") {
                while (i < decl.size() && isSpace(decl[i])) i++;
                align = strtoul(decl.c_str() + i, nullptr, 10);
                while (i < decl.size() && !isSpace(decl[i])) i++;
            } else if (word == "v2" || word == "v4" || word == "v8") {
                vec = strtoul(word.c_str() + 1, nullptr, 10);
            } else {
                elem = ptxTypeBytes(word);
            }
        } else if (name.empty() && isNameChar(decl[i])) {
            size_t j = i;
            while (j < decl.size() && isNameChar(decl[j])) j++;
            name = decl.substr(i, j - i);
            i = j;
        } else if (decl[i] == '[') {
            size_t close = decl.find(']', i);
            if (close == std::string::npos) return false;
            std::string dim = decl.substr(i + 1, close - i - 1);
            if (dim.find_first_not_of(" \t") == std::string::npos) return false;  // dynamic: extern T x[]
            vec *= strtoull(dim.c_str(), nullptr, 10);
            i = close + 1;
        } else {
            i++;
        }
    }
    if (name.empty() || elem == 0) return false;
    var->name = name;
    var->bytes = vec * elem;
    var->align = align ? align : elem;
    var->at = p;
    return true;
}

bool containsToken(const std::string& text, size_t from, size_t to, const std::string& word) {
    for (size_t p = text.find(word, from); p != std::string::npos && p + word.size() <= to; p = text.find(word, p + 1)) {
        bool startOk = p == 0 || !isNameChar(text[p - 1]);
        bool endOk = p + word.size() >= text.size() || !isNameChar(text[p + word.size()]);
        if (startOk && endOk) return true;
    }
    return false;
}

// Static shared memory per .entry, as ptxas lays it out: the .shared variables declared in the entry's body
// (nvcc "demotes" those only it uses) plus the module-scope ones it or a .func it calls names, each at its
// alignment, in declaration order.
void staticSharedMemory(const std::string& text, std::map<std::string, size_t>* out) {
    struct Body {
        std::string name;
        bool entry;
        size_t open, close;
    };
    std::vector<Body> bodies;
    for (const char* kind : {".entry", ".func"}) {
        for (size_t at : directivePositions(text, kind)) {
            size_t p = at;
            while (p < text.size() && isSpace(text[p])) p++;
            if (p < text.size() && text[p] == '(') {  // .func (.param .b32 ret) name(...)
                int depth = 0;
                for (; p < text.size(); p++) {
                    if (text[p] == '(') depth++;
                    if (text[p] == ')' && --depth == 0) break;
                }
                p++;
            }
            std::string name = wordAfter(text, p);
            if (name.empty()) continue;
            int paren = 0;
            size_t q = p;
            for (; q < text.size(); q++) {
                if (text[q] == '(') paren++;
                if (text[q] == ')') paren--;
                if (paren == 0 && (text[q] == ';' || text[q] == '{')) break;
            }
            if (q >= text.size() || text[q] != '{') continue;  // a prototype
            int depth = 0;
            size_t close = q;
            for (; close < text.size(); close++) {
                if (text[close] == '{') depth++;
                if (text[close] == '}' && --depth == 0) break;
            }
            bodies.push_back(Body{name, strcmp(kind, ".entry") == 0, q, close});
        }
    }
    std::vector<SharedVar> moduleVars;
    std::vector<std::vector<SharedVar>> local(bodies.size());
    for (size_t at : directivePositions(text, ".shared")) {
        SharedVar v;
        if (!parseSharedDecl(text, at, &v)) continue;
        bool inBody = false;
        for (size_t b = 0; b < bodies.size(); b++) {
            if (at > bodies[b].open && at < bodies[b].close) {
                local[b].push_back(v);
                inBody = true;
            }
        }
        if (!inBody) moduleVars.push_back(v);
    }
    for (size_t b = 0; b < bodies.size(); b++) {
        if (!bodies[b].entry) continue;
        std::vector<size_t> reach{b};
        std::set<size_t> seen{b};
        for (size_t k = 0; k < reach.size(); k++) {
            for (size_t c = 0; c < bodies.size(); c++) {
                if (!bodies[c].entry && !seen.count(c) &&
                    containsToken(text, bodies[reach[k]].open, bodies[reach[k]].close, bodies[c].name)) {
                    seen.insert(c);
                    reach.push_back(c);
                }
            }
        }
        std::vector<SharedVar> vars;
        for (const SharedVar& v : moduleVars) {
            for (size_t r : reach) {
                if (containsToken(text, bodies[r].open, bodies[r].close, v.name)) {
                    vars.push_back(v);
                    break;
                }
            }
        }
        for (size_t r : reach) vars.insert(vars.end(), local[r].begin(), local[r].end());
        std::sort(vars.begin(), vars.end(), [](const SharedVar& x, const SharedVar& y) { return x.at < y.at; });
        size_t bytes = 0;
        for (const SharedVar& v : vars) bytes = (bytes + v.align - 1) / v.align * v.align + v.bytes;
        (*out)[bodies[b].name] = bytes;
    }
}

// Text that begins (after blank space and comments) with .version, as every PTX module does.
CUresult parsePtx(const void* image, PtxInfo* info) {
    if (image == nullptr) return CUDA_ERROR_INVALID_VALUE;
    const char* text = static_cast<const char*>(image);
    std::string clean = stripComments(text);
    size_t p = 0;
    while (p < clean.size() && isSpace(clean[p])) p++;
    if (clean.compare(p, 8, ".version") != 0 || p + 8 >= clean.size() || !isSpace(clean[p + 8])) {
        emuLog("cuModuleLoadData: the image is not PTX text (it must start with .version after comments); the "
               "emulated device loads PTX only -> CUDA_ERROR_INVALID_IMAGE");
        return CUDA_ERROR_INVALID_IMAGE;
    }
    int major = 0, minor = 0;
    if (sscanf(clean.c_str() + p + 8, " %d.%d", &major, &minor) != 2) {
        emuLog("cuModuleLoadData: unreadable .version directive -> CUDA_ERROR_INVALID_PTX");
        return CUDA_ERROR_INVALID_PTX;
    }
    info->version = major * 10 + minor;
    for (size_t at : directivePositions(clean, ".target")) {
        std::string target = wordAfter(clean, at);
        if (target.rfind("sm_", 0) == 0) {
            info->target = atoi(target.c_str() + 3);
            info->archSpecific = !target.empty() && (target.back() == 'a' || target.back() == 'f');
        }
    }
    for (size_t at : directivePositions(clean, ".entry")) {
        std::string name = wordAfter(clean, at);
        if (!name.empty()) info->entries.insert(name);
    }
    staticSharedMemory(clean, &info->staticSmem);
    return CUDA_SUCCESS;
}

// The newest PTX ISA a driver of the given version JIT-compiles (from the PTX ISA release notes).
int maxPtxIsaFor(int driverVersion) {
    static const int table[][2] = {{12000, 80}, {12010, 81}, {12020, 82}, {12030, 83}, {12040, 84},
                                   {12050, 85}, {12070, 86}, {12080, 87}, {12090, 88}, {13000, 90}};
    int isa = 0;
    for (auto& row : table)
        if (driverVersion >= row[0]) isa = row[1];
    return isa;
}

CUresult loadModule(CUmodule* module, const void* image) {
    REQUIRE_INIT();
    if (module == nullptr || image == nullptr) return CUDA_ERROR_INVALID_VALUE;
    std::lock_guard<std::mutex> lock(state().mutex);
    REQUIRE_CTX(ctx);
    REQUIRE_HEALTHY(ctx);
    PtxInfo info;
    CUresult rc = parsePtx(image, &info);
    if (rc != CUDA_SUCCESS) return rc;
    State& s = state();
    int cc = s.profile.cc;
    if (info.target > cc || (info.archSpecific && info.target != cc)) {
        emuLog("cuModuleLoadData: PTX .target sm_%d%s cannot run on the emulated compute capability %d.%d -> "
               "CUDA_ERROR_INVALID_PTX",
               info.target, info.archSpecific ? "a" : "", cc / 10, cc % 10);
        return CUDA_ERROR_INVALID_PTX;
    }
    if (info.version > maxPtxIsaFor(kDriverVersion) && !s.warnedPtxVersion) {
        s.warnedPtxVersion = true;
        emuLog("warning: PTX ISA %d.%d is newer than a real CUDA %d.%d driver JIT-compiles (ISA %d.%d); such a "
               "driver would fail with CUDA_ERROR_UNSUPPORTED_PTX_VERSION. The emulator loads it anyway.",
               info.version / 10, info.version % 10, kDriverVersion / 1000, kDriverVersion % 1000 / 10,
               maxPtxIsaFor(kDriverVersion) / 10, maxPtxIsaFor(kDriverVersion) % 10);
    }
    Module* m = new Module();
    m->ctx = ctx;
    m->alive = true;
    m->ptxVersion = info.version;
    m->entries = std::move(info.entries);
    m->staticSmem = std::move(info.staticSmem);
    s.modules.insert(m);
    *module = reinterpret_cast<CUmodule>(m);
    return CUDA_SUCCESS;
}

CUresult memsetDevice(const char* api, CUdeviceptr dst, const void* value, unsigned width, size_t count,
                CUstream stream) {
    REQUIRE_INIT();
    Lock lock(state().mutex);
    REQUIRE_CTX(ctx);
    REQUIRE_HEALTHY(ctx);
    if (!validStream(stream)) return CUDA_ERROR_INVALID_HANDLE;
    if (count == 0) return CUDA_SUCCESS;
    if (dst % width != 0) {
        emuLog("%s: 0x%llx is not aligned to %u bytes -> CUDA_ERROR_INVALID_VALUE", api,
               (unsigned long long)dst, width);
        return CUDA_ERROR_INVALID_VALUE;
    }
    if (count > SIZE_MAX / width) return CUDA_ERROR_INVALID_VALUE;
    CUresult rc = checkDeviceRange(api, "destination", dst, count * width);
    if (rc != CUDA_SUCCESS) return rc;
    auto* out = reinterpret_cast<unsigned char*>(dst);
    if (width == 1) {
        memset(out, *static_cast<const unsigned char*>(value), count);
    } else {
        for (size_t i = 0; i < count; i++) memcpy(out + i * width, value, width);
    }
    return CUDA_SUCCESS;
}

enum class Side { Host, Device, Unified };

CUresult copyMemory(const char* api, void* dst, Side dstSide, const void* src, Side srcSide, size_t bytes,
              CUstream stream) {
    REQUIRE_INIT();
    Lock lock(state().mutex);
    REQUIRE_CTX(ctx);
    REQUIRE_HEALTHY(ctx);
    if (!validStream(stream)) return CUDA_ERROR_INVALID_HANDLE;
    if (bytes == 0) return CUDA_SUCCESS;
    if (dst == nullptr || src == nullptr) return CUDA_ERROR_INVALID_VALUE;
    const void* ends[2] = {dst, src};
    Side sides[2] = {dstSide, srcSide};
    const char* names[2] = {"destination", "source"};
    for (int i = 0; i < 2; i++) {
        uintptr_t p = reinterpret_cast<uintptr_t>(ends[i]);
        CUresult rc = CUDA_SUCCESS;
        if (sides[i] == Side::Device) rc = checkDeviceRange(api, names[i], p, bytes);
        if (sides[i] == Side::Unified) rc = checkUnifiedRange(api, names[i], p, bytes);
        if (rc != CUDA_SUCCESS) return rc;
    }
    memmove(dst, src, bytes);
    return CUDA_SUCCESS;
}

void* asPtr(CUdeviceptr p) { return reinterpret_cast<void*>(static_cast<uintptr_t>(p)); }

const char* errorName(CUresult code) {
    switch (code) {
#define NAME(c) \
    case c:     \
        return #c;
        NAME(CUDA_SUCCESS) NAME(CUDA_ERROR_INVALID_VALUE) NAME(CUDA_ERROR_OUT_OF_MEMORY)
        NAME(CUDA_ERROR_NOT_INITIALIZED) NAME(CUDA_ERROR_DEINITIALIZED) NAME(CUDA_ERROR_PROFILER_DISABLED)
        NAME(CUDA_ERROR_PROFILER_NOT_INITIALIZED) NAME(CUDA_ERROR_PROFILER_ALREADY_STARTED)
        NAME(CUDA_ERROR_PROFILER_ALREADY_STOPPED) NAME(CUDA_ERROR_STUB_LIBRARY)
        NAME(CUDA_ERROR_DEVICE_UNAVAILABLE) NAME(CUDA_ERROR_NO_DEVICE) NAME(CUDA_ERROR_INVALID_DEVICE)
        NAME(CUDA_ERROR_DEVICE_NOT_LICENSED) NAME(CUDA_ERROR_INVALID_IMAGE) NAME(CUDA_ERROR_INVALID_CONTEXT)
        NAME(CUDA_ERROR_CONTEXT_ALREADY_CURRENT) NAME(CUDA_ERROR_MAP_FAILED) NAME(CUDA_ERROR_UNMAP_FAILED)
        NAME(CUDA_ERROR_ARRAY_IS_MAPPED) NAME(CUDA_ERROR_ALREADY_MAPPED) NAME(CUDA_ERROR_NO_BINARY_FOR_GPU)
        NAME(CUDA_ERROR_ALREADY_ACQUIRED) NAME(CUDA_ERROR_NOT_MAPPED) NAME(CUDA_ERROR_NOT_MAPPED_AS_ARRAY)
        NAME(CUDA_ERROR_NOT_MAPPED_AS_POINTER) NAME(CUDA_ERROR_ECC_UNCORRECTABLE)
        NAME(CUDA_ERROR_UNSUPPORTED_LIMIT) NAME(CUDA_ERROR_CONTEXT_ALREADY_IN_USE)
        NAME(CUDA_ERROR_PEER_ACCESS_UNSUPPORTED) NAME(CUDA_ERROR_INVALID_PTX)
        NAME(CUDA_ERROR_INVALID_GRAPHICS_CONTEXT) NAME(CUDA_ERROR_NVLINK_UNCORRECTABLE)
        NAME(CUDA_ERROR_JIT_COMPILER_NOT_FOUND) NAME(CUDA_ERROR_UNSUPPORTED_PTX_VERSION)
        NAME(CUDA_ERROR_JIT_COMPILATION_DISABLED) NAME(CUDA_ERROR_INVALID_SOURCE)
        NAME(CUDA_ERROR_FILE_NOT_FOUND) NAME(CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND)
        NAME(CUDA_ERROR_SHARED_OBJECT_INIT_FAILED) NAME(CUDA_ERROR_OPERATING_SYSTEM)
        NAME(CUDA_ERROR_INVALID_HANDLE) NAME(CUDA_ERROR_ILLEGAL_STATE) NAME(CUDA_ERROR_NOT_FOUND)
        NAME(CUDA_ERROR_NOT_READY) NAME(CUDA_ERROR_ILLEGAL_ADDRESS) NAME(CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES)
        NAME(CUDA_ERROR_LAUNCH_TIMEOUT) NAME(CUDA_ERROR_LAUNCH_INCOMPATIBLE_TEXTURING)
        NAME(CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED) NAME(CUDA_ERROR_PEER_ACCESS_NOT_ENABLED)
        NAME(CUDA_ERROR_PRIMARY_CONTEXT_ACTIVE) NAME(CUDA_ERROR_CONTEXT_IS_DESTROYED) NAME(CUDA_ERROR_ASSERT)
        NAME(CUDA_ERROR_TOO_MANY_PEERS) NAME(CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED)
        NAME(CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED) NAME(CUDA_ERROR_HARDWARE_STACK_ERROR)
        NAME(CUDA_ERROR_ILLEGAL_INSTRUCTION) NAME(CUDA_ERROR_MISALIGNED_ADDRESS)
        NAME(CUDA_ERROR_INVALID_ADDRESS_SPACE) NAME(CUDA_ERROR_INVALID_PC) NAME(CUDA_ERROR_LAUNCH_FAILED)
        NAME(CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE) NAME(CUDA_ERROR_NOT_PERMITTED)
        NAME(CUDA_ERROR_NOT_SUPPORTED) NAME(CUDA_ERROR_SYSTEM_NOT_READY) NAME(CUDA_ERROR_SYSTEM_DRIVER_MISMATCH)
        NAME(CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE) NAME(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED)
        NAME(CUDA_ERROR_STREAM_CAPTURE_INVALIDATED) NAME(CUDA_ERROR_CAPTURED_EVENT) NAME(CUDA_ERROR_TIMEOUT)
        NAME(CUDA_ERROR_UNKNOWN)
#undef NAME
        default:
            return nullptr;
    }
}

const char* errorString(CUresult code) {
    switch (code) {
        case CUDA_SUCCESS: return "no error";
        case CUDA_ERROR_INVALID_VALUE: return "invalid argument";
        case CUDA_ERROR_OUT_OF_MEMORY: return "out of memory";
        case CUDA_ERROR_NOT_INITIALIZED: return "initialization error";
        case CUDA_ERROR_NO_DEVICE: return "no CUDA-capable device is detected";
        case CUDA_ERROR_INVALID_DEVICE: return "invalid device ordinal";
        case CUDA_ERROR_INVALID_IMAGE: return "device kernel image is invalid";
        case CUDA_ERROR_INVALID_CONTEXT: return "invalid device context";
        case CUDA_ERROR_INVALID_PTX: return "a PTX JIT compilation failed";
        case CUDA_ERROR_UNSUPPORTED_PTX_VERSION: return "the provided PTX was compiled with an unsupported toolchain.";
        case CUDA_ERROR_FILE_NOT_FOUND: return "file not found";
        case CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND: return "shared object symbol not found";
        case CUDA_ERROR_SHARED_OBJECT_INIT_FAILED: return "shared object initialization failed";
        case CUDA_ERROR_INVALID_HANDLE: return "invalid resource handle";
        case CUDA_ERROR_NOT_FOUND: return "named symbol not found";
        case CUDA_ERROR_NOT_READY: return "device not ready";
        case CUDA_ERROR_ILLEGAL_ADDRESS: return "an illegal memory access was encountered";
        case CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES: return "too many resources requested for launch";
        case CUDA_ERROR_CONTEXT_IS_DESTROYED: return "context is destroyed";
        case CUDA_ERROR_LAUNCH_FAILED: return "unspecified launch failure";
        case CUDA_ERROR_NOT_SUPPORTED: return "operation not supported";
        case CUDA_ERROR_UNKNOWN: return "unknown error";
        default: return errorName(code);
    }
}

int deviceAttribute(CUdevice_attribute attribute) {
    const DeviceProfile& p = state().profile;
    switch (attribute) {
        case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK: return 1024;
        case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X: return 1024;
        case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y: return 1024;
        case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z: return 64;
        case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X: return 2147483647;
        case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y: return 65535;
        case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z: return 65535;
        case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK: return kSmemPerBlockDefault;
        case CU_DEVICE_ATTRIBUTE_TOTAL_CONSTANT_MEMORY: return 65536;
        case CU_DEVICE_ATTRIBUTE_WARP_SIZE: return 32;
        case CU_DEVICE_ATTRIBUTE_MAX_PITCH: return 2147483647;
        case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK: return 65536;
        case CU_DEVICE_ATTRIBUTE_CLOCK_RATE: return p.clockKhz;
        case CU_DEVICE_ATTRIBUTE_TEXTURE_ALIGNMENT: return 512;
        case CU_DEVICE_ATTRIBUTE_GPU_OVERLAP: return 1;
        case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: return p.multiprocessors;
        case CU_DEVICE_ATTRIBUTE_KERNEL_EXEC_TIMEOUT: return 0;
        case CU_DEVICE_ATTRIBUTE_INTEGRATED: return 0;
        case CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY: return 1;
        case CU_DEVICE_ATTRIBUTE_COMPUTE_MODE: return CU_COMPUTEMODE_DEFAULT;
        case CU_DEVICE_ATTRIBUTE_SURFACE_ALIGNMENT: return 512;
        case CU_DEVICE_ATTRIBUTE_CONCURRENT_KERNELS: return 1;
        case CU_DEVICE_ATTRIBUTE_ECC_ENABLED: return 0;
        case CU_DEVICE_ATTRIBUTE_PCI_BUS_ID: return 0;
        case CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID: return 0;
        case CU_DEVICE_ATTRIBUTE_TCC_DRIVER: return 0;
        case CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE: return p.memoryClockKhz;
        case CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH: return p.busWidthBits;
        case CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE: return p.l2Bytes;
        case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR: return p.maxThreadsPerSm;
        case CU_DEVICE_ATTRIBUTE_ASYNC_ENGINE_COUNT: return 2;
        case CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING: return 1;
        case CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID: return 0;
        case CU_DEVICE_ATTRIBUTE_TEXTURE_PITCH_ALIGNMENT: return 32;
        case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: return p.cc / 10;
        case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: return p.cc % 10;
        case CU_DEVICE_ATTRIBUTE_STREAM_PRIORITIES_SUPPORTED: return 1;
        case CU_DEVICE_ATTRIBUTE_GLOBAL_L1_CACHE_SUPPORTED: return 1;
        case CU_DEVICE_ATTRIBUTE_LOCAL_L1_CACHE_SUPPORTED: return 1;
        case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR: return p.smemPerSm;
        case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR: return 65536;
        case CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY: return 1;
        case CU_DEVICE_ATTRIBUTE_MULTI_GPU_BOARD: return 0;
        case CU_DEVICE_ATTRIBUTE_SINGLE_TO_DOUBLE_PRECISION_PERF_RATIO: return p.cc == 80 || p.cc == 90 ? 2 : 64;
        case CU_DEVICE_ATTRIBUTE_COMPUTE_PREEMPTION_SUPPORTED: return 1;
        case CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH: return 1;
        case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN: return p.smemPerBlockOptin;
        case CU_DEVICE_ATTRIBUTE_HOST_REGISTER_SUPPORTED: return 1;
        case CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR: return p.maxBlocksPerSm;
        case CU_DEVICE_ATTRIBUTE_RESERVED_SHARED_MEMORY_PER_BLOCK: return kReservedSmemPerBlock;
        case CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED: return 1;
        case CU_DEVICE_ATTRIBUTE_CLUSTER_LAUNCH: return p.cc >= 90 ? 1 : 0;
        default: return 0;  // a capability the emulated device does not have
    }
}

}  // namespace

// ===== exported: emulator helpers ========================================================================

EMU_API int attnrt_emu_check_range(const void* ptr, size_t bytes, char* why, size_t why_len) {
    Lock lock(state().mutex);
    std::string reason;
    if (rangeInAllocation(reinterpret_cast<uintptr_t>(ptr), bytes, &reason)) return 1;
    if (why != nullptr && why_len > 0) snprintf(why, why_len, "%s", reason.c_str());
    return 0;
}

// ===== exported: initialisation, version, errors =========================================================

EMU_API CUresult cuInit(unsigned int flags) {
    if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
    State& s = state();
    Lock lock(s.mutex);
    if (s.initialized) return CUDA_SUCCESS;
    if (s.initError != CUDA_SUCCESS) return s.initError;
    const char* cc = getenv("ATTNRT_EMU_CC");
    if (cc != nullptr && *cc != '\0') {
        bool found = false;
        for (const DeviceProfile& p : kProfiles) {
            if (atoi(cc) == p.cc && strlen(cc) == 2) {
                s.profile = p;
                found = true;
            }
        }
        if (!found) {
            emuLog("ATTNRT_EMU_CC=%s is not an emulated compute capability (80, 86, 89 or 90)", cc);
            return s.initError = CUDA_ERROR_NO_DEVICE;
        }
    }
    const char* mem = getenv("ATTNRT_EMU_MEM_MB");
    if (mem != nullptr && *mem != '\0') {
        char* end = nullptr;
        unsigned long long mb = strtoull(mem, &end, 10);
        if (*end != '\0' || mb == 0) {
            emuLog("ATTNRT_EMU_MEM_MB=%s is not a positive number of MiB", mem);
            return s.initError = CUDA_ERROR_INVALID_VALUE;
        }
        s.totalMemory = (size_t)mb << 20;
    }
    const char* guard = getenv("ATTNRT_EMU_GUARD");
    if (guard != nullptr && *guard != '\0') {
        if (strcmp(guard, "end") == 0) {
            s.guard = GuardMode::End;
        } else if (strcmp(guard, "start") == 0) {
            s.guard = GuardMode::Start;
        } else if (strcmp(guard, "off") == 0) {
            s.guard = GuardMode::Off;
        } else {
            emuLog("ATTNRT_EMU_GUARD=%s is not end, start or off", guard);
            return s.initError = CUDA_ERROR_INVALID_VALUE;
        }
    }
    CUresult rc = loadKernelLibraries();
    if (rc != CUDA_SUCCESS) return s.initError = rc;
    s.primary = newCtx(0, true);
    s.primary->alive = false;  // inactive until retained
    s.initialized = true;
    return CUDA_SUCCESS;
}

EMU_API CUresult cuDriverGetVersion(int* driverVersion) {
    if (driverVersion == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *driverVersion = kDriverVersion;
    return CUDA_SUCCESS;
}

EMU_API CUresult cuGetErrorName(CUresult error, const char** pStr) {
    if (pStr == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *pStr = errorName(error);
    return *pStr == nullptr ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}

EMU_API CUresult cuGetErrorString(CUresult error, const char** pStr) {
    if (pStr == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *pStr = errorString(error);
    return *pStr == nullptr ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}

// ===== exported: device ==================================================================================

EMU_API CUresult cuDeviceGetCount(int* count) {
    REQUIRE_INIT();
    if (count == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *count = 1;
    return CUDA_SUCCESS;
}

EMU_API CUresult cuDeviceGet(CUdevice* device, int ordinal) {
    REQUIRE_INIT();
    if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (ordinal != 0) return CUDA_ERROR_INVALID_DEVICE;
    *device = 0;
    return CUDA_SUCCESS;
}

EMU_API CUresult cuDeviceGetName(char* name, int len, CUdevice dev) {
    REQUIRE_INIT();
    if (name == nullptr || len <= 0) return CUDA_ERROR_INVALID_VALUE;
    if (checkDevice(dev) != CUDA_SUCCESS) return CUDA_ERROR_INVALID_DEVICE;
    snprintf(name, (size_t)len, "%s", kDeviceName);
    return CUDA_SUCCESS;
}

EMU_API CUresult cuDeviceGetAttribute(int* pi, CUdevice_attribute attrib, CUdevice dev) {
    REQUIRE_INIT();
    if (pi == nullptr || attrib <= 0 || attrib > 1000) return CUDA_ERROR_INVALID_VALUE;
    if (checkDevice(dev) != CUDA_SUCCESS) return CUDA_ERROR_INVALID_DEVICE;
    *pi = deviceAttribute(attrib);
    return CUDA_SUCCESS;
}

EMU_API CUresult cuDeviceTotalMem_v2(size_t* bytes, CUdevice dev) {
    REQUIRE_INIT();
    if (bytes == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (checkDevice(dev) != CUDA_SUCCESS) return CUDA_ERROR_INVALID_DEVICE;
    *bytes = state().totalMemory;
    return CUDA_SUCCESS;
}

EMU_API CUresult cuDeviceComputeCapability(int* major, int* minor, CUdevice dev) {
    REQUIRE_INIT();
    if (major == nullptr || minor == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (checkDevice(dev) != CUDA_SUCCESS) return CUDA_ERROR_INVALID_DEVICE;
    *major = state().profile.cc / 10;
    *minor = state().profile.cc % 10;
    return CUDA_SUCCESS;
}

EMU_API CUresult cuDeviceGetProperties(CUdevprop* prop, CUdevice dev) {
    REQUIRE_INIT();
    if (prop == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (checkDevice(dev) != CUDA_SUCCESS) return CUDA_ERROR_INVALID_DEVICE;
    prop->maxThreadsPerBlock = 1024;
    prop->maxThreadsDim[0] = 1024;
    prop->maxThreadsDim[1] = 1024;
    prop->maxThreadsDim[2] = 64;
    prop->maxGridSize[0] = 2147483647;
    prop->maxGridSize[1] = 65535;
    prop->maxGridSize[2] = 65535;
    prop->sharedMemPerBlock = kSmemPerBlockDefault;
    prop->totalConstantMemory = 65536;
    prop->SIMDWidth = 32;
    prop->memPitch = 2147483647;
    prop->regsPerBlock = 65536;
    prop->clockRate = state().profile.clockKhz;
    prop->textureAlign = 512;
    return CUDA_SUCCESS;
}

EMU_API CUresult cuDeviceGetUuid(CUuuid* uuid, CUdevice dev) {
    REQUIRE_INIT();
    if (uuid == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (checkDevice(dev) != CUDA_SUCCESS) return CUDA_ERROR_INVALID_DEVICE;
    memcpy(uuid->bytes, "attnrt-emulator!", 16);
    return CUDA_SUCCESS;
}

EMU_API CUresult cuDeviceGetPCIBusId(char* pciBusId, int len, CUdevice dev) {
    REQUIRE_INIT();
    if (pciBusId == nullptr || len <= 0) return CUDA_ERROR_INVALID_VALUE;
    if (checkDevice(dev) != CUDA_SUCCESS) return CUDA_ERROR_INVALID_DEVICE;
    snprintf(pciBusId, (size_t)len, "0000:00:00.0");
    return CUDA_SUCCESS;
}

// ===== exported: contexts ================================================================================

EMU_API CUresult cuDevicePrimaryCtxRetain(CUcontext* pctx, CUdevice dev) {
    REQUIRE_INIT();
    if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (checkDevice(dev) != CUDA_SUCCESS) return CUDA_ERROR_INVALID_DEVICE;
    State& s = state();
    Lock lock(s.mutex);
    if (s.primaryRefs++ == 0) {
        s.primary->alive = true;
        s.primary->sticky = CUDA_SUCCESS;
        s.primary->flags = s.primaryFlags;
    }
    *pctx = reinterpret_cast<CUcontext>(s.primary);
    return CUDA_SUCCESS;
}

EMU_API CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev) {
    REQUIRE_INIT();
    if (checkDevice(dev) != CUDA_SUCCESS) return CUDA_ERROR_INVALID_DEVICE;
    State& s = state();
    Lock lock(s.mutex);
    if (s.primaryRefs == 0) return CUDA_ERROR_INVALID_CONTEXT;
    if (--s.primaryRefs == 0) {
        destroyCtxResources(s.primary);
        s.primary->alive = false;
    }
    return CUDA_SUCCESS;
}

EMU_API CUresult cuDevicePrimaryCtxReset_v2(CUdevice dev) {
    REQUIRE_INIT();
    if (checkDevice(dev) != CUDA_SUCCESS) return CUDA_ERROR_INVALID_DEVICE;
    State& s = state();
    Lock lock(s.mutex);
    destroyCtxResources(s.primary);
    s.primary->alive = false;
    s.primary->sticky = CUDA_SUCCESS;
    s.primaryRefs = 0;
    s.primaryFlags = 0;
    return CUDA_SUCCESS;
}

EMU_API CUresult cuDevicePrimaryCtxGetState(CUdevice dev, unsigned int* flags, int* active) {
    REQUIRE_INIT();
    if (flags == nullptr || active == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (checkDevice(dev) != CUDA_SUCCESS) return CUDA_ERROR_INVALID_DEVICE;
    Lock lock(state().mutex);
    *flags = state().primaryFlags;
    *active = state().primary->alive ? 1 : 0;
    return CUDA_SUCCESS;
}

EMU_API CUresult cuDevicePrimaryCtxSetFlags_v2(CUdevice dev, unsigned int flags) {
    REQUIRE_INIT();
    if (checkDevice(dev) != CUDA_SUCCESS) return CUDA_ERROR_INVALID_DEVICE;
    if ((flags & ~(unsigned)CU_CTX_FLAGS_MASK) != 0) return CUDA_ERROR_INVALID_VALUE;
    Lock lock(state().mutex);
    state().primaryFlags = flags;
    state().primary->flags = flags;
    return CUDA_SUCCESS;
}

EMU_API CUresult cuCtxCreate_v2(CUcontext* pctx, unsigned int flags, CUdevice dev) {
    REQUIRE_INIT();
    if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (checkDevice(dev) != CUDA_SUCCESS) return CUDA_ERROR_INVALID_DEVICE;
    if ((flags & ~(unsigned)CU_CTX_FLAGS_MASK) != 0) return CUDA_ERROR_INVALID_VALUE;
    Lock lock(state().mutex);
    Ctx* c = newCtx(flags, false);
    ctxStack.push_back(c);
    *pctx = reinterpret_cast<CUcontext>(c);
    return CUDA_SUCCESS;
}

EMU_API CUresult cuCtxDestroy_v2(CUcontext ctx) {
    REQUIRE_INIT();
    Lock lock(state().mutex);
    Ctx* c = liveHandle(state().contexts, ctx);
    if (c == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
    if (c->primary) return CUDA_ERROR_INVALID_CONTEXT;  // primary contexts are released, not destroyed
    destroyCtxResources(c);
    c->alive = false;
    dropFromThreadStack(c);
    return CUDA_SUCCESS;
}

EMU_API CUresult cuCtxSetCurrent(CUcontext ctx) {
    REQUIRE_INIT();
    Lock lock(state().mutex);
    if (ctx == nullptr) {
        if (!ctxStack.empty()) ctxStack.pop_back();
        return CUDA_SUCCESS;
    }
    Ctx* c = liveHandle(state().contexts, ctx);
    if (c == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
    if (ctxStack.empty()) {
        ctxStack.push_back(c);
    } else {
        ctxStack.back() = c;
    }
    return CUDA_SUCCESS;
}

EMU_API CUresult cuCtxGetCurrent(CUcontext* pctx) {
    REQUIRE_INIT();
    if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *pctx = ctxStack.empty() ? nullptr : reinterpret_cast<CUcontext>(ctxStack.back());
    return CUDA_SUCCESS;
}

EMU_API CUresult cuCtxPushCurrent_v2(CUcontext ctx) {
    REQUIRE_INIT();
    Lock lock(state().mutex);
    Ctx* c = liveHandle(state().contexts, ctx);
    if (c == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
    ctxStack.push_back(c);
    return CUDA_SUCCESS;
}

EMU_API CUresult cuCtxPopCurrent_v2(CUcontext* pctx) {
    REQUIRE_INIT();
    if (ctxStack.empty()) return CUDA_ERROR_INVALID_CONTEXT;
    if (pctx != nullptr) *pctx = reinterpret_cast<CUcontext>(ctxStack.back());
    ctxStack.pop_back();
    return CUDA_SUCCESS;
}

EMU_API CUresult cuCtxGetDevice(CUdevice* device) {
    REQUIRE_INIT();
    if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
    Lock lock(state().mutex);
    REQUIRE_CTX(ctx);
    *device = 0;
    return CUDA_SUCCESS;
}

EMU_API CUresult cuCtxGetFlags(unsigned int* flags) {
    REQUIRE_INIT();
    if (flags == nullptr) return CUDA_ERROR_INVALID_VALUE;
    Lock lock(state().mutex);
    REQUIRE_CTX(ctx);
    *flags = ctx->flags;
    return CUDA_SUCCESS;
}

EMU_API CUresult cuCtxGetId(CUcontext ctx, unsigned long long* ctxId) {
    REQUIRE_INIT();
    if (ctxId == nullptr) return CUDA_ERROR_INVALID_VALUE;
    Lock lock(state().mutex);
    Ctx* c = nullptr;
    if (ctx == nullptr) {
        CUresult rc = currentCtx(&c);
        if (rc != CUDA_SUCCESS) return rc;
    } else if ((c = liveHandle(state().contexts, ctx)) == nullptr) {
        return CUDA_ERROR_INVALID_CONTEXT;
    }
    *ctxId = c->id;
    return CUDA_SUCCESS;
}

EMU_API CUresult cuCtxGetApiVersion(CUcontext ctx, unsigned int* version) {
    REQUIRE_INIT();
    if (version == nullptr) return CUDA_ERROR_INVALID_VALUE;
    Lock lock(state().mutex);
    if (ctx != nullptr && liveHandle(state().contexts, ctx) == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
    if (ctx == nullptr) {
        REQUIRE_CTX(current);
        (void)current;
    }
    *version = 3020;  // the context API version every driver since CUDA 3.2 reports
    return CUDA_SUCCESS;
}

EMU_API CUresult cuCtxSynchronize(void) {
    REQUIRE_INIT();
    Lock lock(state().mutex);
    REQUIRE_CTX(ctx);
    REQUIRE_HEALTHY(ctx);
    return CUDA_SUCCESS;  // every operation completed when it was issued
}

EMU_API CUresult cuCtxGetStreamPriorityRange(int* leastPriority, int* greatestPriority) {
    REQUIRE_INIT();
    Lock lock(state().mutex);
    REQUIRE_CTX(ctx);
    if (leastPriority != nullptr) *leastPriority = 0;
    if (greatestPriority != nullptr) *greatestPriority = -5;
    return CUDA_SUCCESS;
}

EMU_API CUresult cuCtxSetLimit(CUlimit limit, size_t value) {
    REQUIRE_INIT();
    Lock lock(state().mutex);
    REQUIRE_CTX(ctx);
    if ((int)limit < 0 || limit > CU_LIMIT_PERSISTING_L2_CACHE_SIZE) return CUDA_ERROR_UNSUPPORTED_LIMIT;
    ctx->limits[limit] = value;
    return CUDA_SUCCESS;
}

EMU_API CUresult cuCtxGetLimit(size_t* value, CUlimit limit) {
    REQUIRE_INIT();
    if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
    Lock lock(state().mutex);
    REQUIRE_CTX(ctx);
    if ((int)limit < 0 || limit > CU_LIMIT_PERSISTING_L2_CACHE_SIZE) return CUDA_ERROR_UNSUPPORTED_LIMIT;
    *value = ctx->limits[limit];
    return CUDA_SUCCESS;
}

EMU_API CUresult cuCtxSetCacheConfig(CUfunc_cache config) {
    REQUIRE_INIT();
    Lock lock(state().mutex);
    REQUIRE_CTX(ctx);
    ctx->cacheConfig = config;
    return CUDA_SUCCESS;
}

EMU_API CUresult cuCtxGetCacheConfig(CUfunc_cache* config) {
    REQUIRE_INIT();
    if (config == nullptr) return CUDA_ERROR_INVALID_VALUE;
    Lock lock(state().mutex);
    REQUIRE_CTX(ctx);
    *config = ctx->cacheConfig;
    return CUDA_SUCCESS;
}

// ===== exported: memory ==================================================================================

EMU_API CUresult cuMemAlloc_v2(CUdeviceptr* dptr, size_t bytesize) {
    REQUIRE_INIT();
    if (dptr == nullptr) return CUDA_ERROR_INVALID_VALUE;
    Lock lock(state().mutex);
    REQUIRE_CTX(ctx);
    REQUIRE_HEALTHY(ctx);
    uintptr_t p = 0;
    CUresult rc = allocate(bytesize, false, ctx, &p);
    if (rc == CUDA_SUCCESS) *dptr = p;
    return rc;
}

EMU_API CUresult cuMemAllocManaged(CUdeviceptr* dptr, size_t bytesize, unsigned int flags) {
    if (flags != CU_MEM_ATTACH_GLOBAL && flags != CU_MEM_ATTACH_HOST) return CUDA_ERROR_INVALID_VALUE;
    return cuMemAlloc_v2(dptr, bytesize);
}

EMU_API CUresult cuMemAllocAsync(CUdeviceptr* dptr, size_t bytesize, CUstream hStream) {
    {
        REQUIRE_INIT();
        Lock lock(state().mutex);
        if (!validStream(hStream)) return CUDA_ERROR_INVALID_HANDLE;
    }
    return cuMemAlloc_v2(dptr, bytesize);
}

EMU_API CUresult cuMemFree_v2(CUdeviceptr dptr) {
    REQUIRE_INIT();
    Lock lock(state().mutex);
    REQUIRE_CTX(ctx);
    return freeAllocation(dptr, false);
}

EMU_API CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream hStream) {
    REQUIRE_INIT();
    Lock lock(state().mutex);
    REQUIRE_CTX(ctx);
    if (!validStream(hStream)) return CUDA_ERROR_INVALID_HANDLE;
    return freeAllocation(dptr, false);
}

EMU_API CUresult cuMemAllocHost_v2(void** pp, size_t bytesize) {
    REQUIRE_INIT();
    if (pp == nullptr) return CUDA_ERROR_INVALID_VALUE;
    Lock lock(state().mutex);
    REQUIRE_CTX(ctx);
    REQUIRE_HEALTHY(ctx);
    uintptr_t p = 0;
    CUresult rc = allocate(bytesize, true, ctx, &p);
    if (rc == CUDA_SUCCESS) *pp = reinterpret_cast<void*>(p);
    return rc;
}

EMU_API CUresult cuMemHostAlloc(void** pp, size_t bytesize, unsigned int flags) {
    (void)flags;  // portable / mapped / write-combined change nothing when device memory is host memory
    return cuMemAllocHost_v2(pp, bytesize);
}

EMU_API CUresult cuMemFreeHost(void* p) {
    REQUIRE_INIT();
    Lock lock(state().mutex);
    REQUIRE_CTX(ctx);
    return freeAllocation(reinterpret_cast<uintptr_t>(p), true);
}

EMU_API CUresult cuMemHostGetDevicePointer_v2(CUdeviceptr* pdptr, void* p, unsigned int flags) {
    REQUIRE_INIT();
    if (pdptr == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
    Lock lock(state().mutex);
    REQUIRE_CTX(ctx);
    const Alloc* a = findAlloc(reinterpret_cast<uintptr_t>(p));
    if (a == nullptr || !a->host) return CUDA_ERROR_INVALID_VALUE;
    *pdptr = reinterpret_cast<uintptr_t>(p);
    return CUDA_SUCCESS;
}

EMU_API CUresult cuMemGetInfo_v2(size_t* free, size_t* total) {
    REQUIRE_INIT();
    if (free == nullptr || total == nullptr) return CUDA_ERROR_INVALID_VALUE;
    Lock lock(state().mutex);
    REQUIRE_CTX(ctx);
    *total = state().totalMemory;
    *free = state().totalMemory - state().deviceBytesInUse;
    return CUDA_SUCCESS;
}

EMU_API CUresult cuMemGetAddressRange_v2(CUdeviceptr* pbase, size_t* psize, CUdeviceptr dptr) {
    REQUIRE_INIT();
    Lock lock(state().mutex);
    REQUIRE_CTX(ctx);
    const Alloc* a = findAlloc(dptr);
    if (a == nullptr) return CUDA_ERROR_NOT_FOUND;
    if (pbase != nullptr) *pbase = a->base;
    if (psize != nullptr) *psize = a->size;
    return CUDA_SUCCESS;
}

EMU_API CUresult cuMemcpyHtoD_v2(CUdeviceptr dstDevice, const void* srcHost, size_t ByteCount) {
    return copyMemory("cuMemcpyHtoD", asPtr(dstDevice), Side::Device, srcHost, Side::Host, ByteCount, nullptr);
}

EMU_API CUresult cuMemcpyDtoH_v2(void* dstHost, CUdeviceptr srcDevice, size_t ByteCount) {
    return copyMemory("cuMemcpyDtoH", dstHost, Side::Host, asPtr(srcDevice), Side::Device, ByteCount, nullptr);
}

EMU_API CUresult cuMemcpyDtoD_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount) {
    return copyMemory("cuMemcpyDtoD", asPtr(dstDevice), Side::Device, asPtr(srcDevice), Side::Device, ByteCount,
                nullptr);
}

EMU_API CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dstDevice, const void* srcHost, size_t ByteCount,
                                      CUstream hStream) {
    return copyMemory("cuMemcpyHtoDAsync", asPtr(dstDevice), Side::Device, srcHost, Side::Host, ByteCount, hStream);
}

EMU_API CUresult cuMemcpyDtoHAsync_v2(void* dstHost, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream) {
    return copyMemory("cuMemcpyDtoHAsync", dstHost, Side::Host, asPtr(srcDevice), Side::Device, ByteCount, hStream);
}

EMU_API CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount,
                                      CUstream hStream) {
    return copyMemory("cuMemcpyDtoDAsync", asPtr(dstDevice), Side::Device, asPtr(srcDevice), Side::Device, ByteCount,
                hStream);
}

EMU_API CUresult cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount) {
    return copyMemory("cuMemcpy", asPtr(dst), Side::Unified, asPtr(src), Side::Unified, ByteCount, nullptr);
}

EMU_API CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount, CUstream hStream) {
    return copyMemory("cuMemcpyAsync", asPtr(dst), Side::Unified, asPtr(src), Side::Unified, ByteCount, hStream);
}

EMU_API CUresult cuMemsetD8_v2(CUdeviceptr dstDevice, unsigned char uc, size_t N) {
    return memsetDevice("cuMemsetD8", dstDevice, &uc, 1, N, nullptr);
}

EMU_API CUresult cuMemsetD16_v2(CUdeviceptr dstDevice, unsigned short us, size_t N) {
    return memsetDevice("cuMemsetD16", dstDevice, &us, 2, N, nullptr);
}

EMU_API CUresult cuMemsetD32_v2(CUdeviceptr dstDevice, unsigned int ui, size_t N) {
    return memsetDevice("cuMemsetD32", dstDevice, &ui, 4, N, nullptr);
}

EMU_API CUresult cuMemsetD8Async(CUdeviceptr dstDevice, unsigned char uc, size_t N, CUstream hStream) {
    return memsetDevice("cuMemsetD8Async", dstDevice, &uc, 1, N, hStream);
}

EMU_API CUresult cuMemsetD16Async(CUdeviceptr dstDevice, unsigned short us, size_t N, CUstream hStream) {
    return memsetDevice("cuMemsetD16Async", dstDevice, &us, 2, N, hStream);
}

EMU_API CUresult cuMemsetD32Async(CUdeviceptr dstDevice, unsigned int ui, size_t N, CUstream hStream) {
    return memsetDevice("cuMemsetD32Async", dstDevice, &ui, 4, N, hStream);
}

// ===== exported: streams and events ======================================================================

EMU_API CUresult cuStreamCreateWithPriority(CUstream* phStream, unsigned int flags, int priority) {
    REQUIRE_INIT();
    if (phStream == nullptr || (flags & ~(unsigned)CU_STREAM_NON_BLOCKING) != 0) return CUDA_ERROR_INVALID_VALUE;
    Lock lock(state().mutex);
    REQUIRE_CTX(ctx);
    Stream* st = new Stream{ctx, flags, priority < -5 ? -5 : priority > 0 ? 0 : priority, true};
    state().streams.insert(st);
    *phStream = reinterpret_cast<CUstream>(st);
    return CUDA_SUCCESS;
}

EMU_API CUresult cuStreamCreate(CUstream* phStream, unsigned int flags) {
    return cuStreamCreateWithPriority(phStream, flags, 0);
}

EMU_API CUresult cuStreamDestroy_v2(CUstream hStream) {
    REQUIRE_INIT();
    Lock lock(state().mutex);
    Stream* st = liveHandle(state().streams, hStream);
    if (st == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    st->alive = false;
    return CUDA_SUCCESS;
}

EMU_API CUresult cuStreamSynchronize(CUstream hStream) {
    REQUIRE_INIT();
    Lock lock(state().mutex);
    REQUIRE_CTX(ctx);
    REQUIRE_HEALTHY(ctx);
    return validStream(hStream) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

EMU_API CUresult cuStreamQuery(CUstream hStream) {
    return cuStreamSynchronize(hStream);  // all work is done by the time the call that issued it returns
}

EMU_API CUresult cuStreamWaitEvent(CUstream hStream, CUevent hEvent, unsigned int flags) {
    REQUIRE_INIT();
    Lock lock(state().mutex);
    REQUIRE_CTX(ctx);
    if (!validStream(hStream) || liveHandle(state().events, hEvent) == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    return flags == 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

EMU_API CUresult cuStreamGetFlags(CUstream hStream, unsigned int* flags) {
    REQUIRE_INIT();
    if (flags == nullptr) return CUDA_ERROR_INVALID_VALUE;
    Lock lock(state().mutex);
    REQUIRE_CTX(ctx);
    if (!validStream(hStream)) return CUDA_ERROR_INVALID_HANDLE;
    Stream* st = liveHandle(state().streams, hStream);
    *flags = st != nullptr ? st->flags : 0;
    return CUDA_SUCCESS;
}

EMU_API CUresult cuStreamGetPriority(CUstream hStream, int* priority) {
    REQUIRE_INIT();
    if (priority == nullptr) return CUDA_ERROR_INVALID_VALUE;
    Lock lock(state().mutex);
    REQUIRE_CTX(ctx);
    if (!validStream(hStream)) return CUDA_ERROR_INVALID_HANDLE;
    Stream* st = liveHandle(state().streams, hStream);
    *priority = st != nullptr ? st->priority : 0;
    return CUDA_SUCCESS;
}

EMU_API CUresult cuStreamGetCtx(CUstream hStream, CUcontext* pctx) {
    REQUIRE_INIT();
    if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
    Lock lock(state().mutex);
    REQUIRE_CTX(ctx);
    if (!validStream(hStream)) return CUDA_ERROR_INVALID_HANDLE;
    Stream* st = liveHandle(state().streams, hStream);
    *pctx = reinterpret_cast<CUcontext>(st != nullptr ? st->ctx : ctx);
    return CUDA_SUCCESS;
}

EMU_API CUresult cuEventCreate(CUevent* phEvent, unsigned int flags) {
    REQUIRE_INIT();
    unsigned known = CU_EVENT_BLOCKING_SYNC | CU_EVENT_DISABLE_TIMING | CU_EVENT_INTERPROCESS;
    if (phEvent == nullptr || (flags & ~known) != 0) return CUDA_ERROR_INVALID_VALUE;
    if ((flags & CU_EVENT_INTERPROCESS) && !(flags & CU_EVENT_DISABLE_TIMING)) return CUDA_ERROR_INVALID_VALUE;
    Lock lock(state().mutex);
    REQUIRE_CTX(ctx);
    Event* e = new Event{ctx, flags, false, 0.0, true};
    state().events.insert(e);
    *phEvent = reinterpret_cast<CUevent>(e);
    return CUDA_SUCCESS;
}

EMU_API CUresult cuEventRecord(CUevent hEvent, CUstream hStream) {
    REQUIRE_INIT();
    Lock lock(state().mutex);
    REQUIRE_CTX(ctx);
    Event* e = liveHandle(state().events, hEvent);
    if (e == nullptr || !validStream(hStream)) return CUDA_ERROR_INVALID_HANDLE;
    e->recorded = true;
    e->timeMs = nowMs();
    return CUDA_SUCCESS;
}

EMU_API CUresult cuEventRecordWithFlags(CUevent hEvent, CUstream hStream, unsigned int flags) {
    if (flags != 0 && flags != CU_EVENT_RECORD_EXTERNAL) return CUDA_ERROR_INVALID_VALUE;
    return cuEventRecord(hEvent, hStream);
}

EMU_API CUresult cuEventQuery(CUevent hEvent) {
    REQUIRE_INIT();
    Lock lock(state().mutex);
    return liveHandle(state().events, hEvent) != nullptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

EMU_API CUresult cuEventSynchronize(CUevent hEvent) { return cuEventQuery(hEvent); }

EMU_API CUresult cuEventElapsedTime(float* pMilliseconds, CUevent hStart, CUevent hEnd) {
    REQUIRE_INIT();
    if (pMilliseconds == nullptr) return CUDA_ERROR_INVALID_VALUE;
    Lock lock(state().mutex);
    Event* start = liveHandle(state().events, hStart);
    Event* end = liveHandle(state().events, hEnd);
    if (start == nullptr || end == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    if ((start->flags | end->flags) & CU_EVENT_DISABLE_TIMING) return CUDA_ERROR_INVALID_HANDLE;
    if (!start->recorded || !end->recorded) return CUDA_ERROR_INVALID_HANDLE;
    *pMilliseconds = (float)(end->timeMs - start->timeMs);
    return CUDA_SUCCESS;
}

EMU_API CUresult cuEventDestroy_v2(CUevent hEvent) {
    REQUIRE_INIT();
    Lock lock(state().mutex);
    Event* e = liveHandle(state().events, hEvent);
    if (e == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    e->alive = false;
    return CUDA_SUCCESS;
}

// ===== exported: modules, functions, launches ============================================================

EMU_API CUresult cuModuleLoadData(CUmodule* module, const void* image) { return loadModule(module, image); }

EMU_API CUresult cuModuleLoadDataEx(CUmodule* module, const void* image, unsigned int numOptions,
                                    CUjit_option* options, void** optionValues) {
    // JIT options tune or report on a compilation that the emulator does not perform.
    (void)numOptions;
    (void)options;
    (void)optionValues;
    return loadModule(module, image);
}

EMU_API CUresult cuModuleLoad(CUmodule* module, const char* fname) {
    REQUIRE_INIT();
    if (module == nullptr || fname == nullptr) return CUDA_ERROR_INVALID_VALUE;
    FILE* f = fopen(fname, "rb");
    if (f == nullptr) return CUDA_ERROR_FILE_NOT_FOUND;
    std::string text;
    char buffer[65536];
    size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, f)) > 0) text.append(buffer, n);
    fclose(f);
    return loadModule(module, text.c_str());
}

EMU_API CUresult cuModuleUnload(CUmodule hmod) {
    REQUIRE_INIT();
    Lock lock(state().mutex);
    Module* m = liveHandle(state().modules, hmod);
    if (m == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    m->alive = false;
    return CUDA_SUCCESS;
}

// A kernel is found only when it is both an .entry of the loaded PTX and a kernel of a loaded kernel
// library, so the CUDA source and its emulation cannot drift apart unnoticed.
EMU_API CUresult cuModuleGetFunction(CUfunction* hfunc, CUmodule hmod, const char* name) {
    REQUIRE_INIT();
    if (hfunc == nullptr || name == nullptr) return CUDA_ERROR_INVALID_VALUE;
    State& s = state();
    Lock lock(s.mutex);
    REQUIRE_CTX(ctx);
    Module* m = liveHandle(s.modules, hmod);
    if (m == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    auto known = m->functions.find(name);
    if (known != m->functions.end()) {
        *hfunc = reinterpret_cast<CUfunction>(known->second);
        return CUDA_SUCCESS;
    }
    bool inPtx = m->entries.count(name) > 0;
    auto kernel = s.kernels.find(name);
    bool emulated = kernel != s.kernels.end();
    if (!inPtx || !emulated) {
        if (inPtx) {
            emuLog("cuModuleGetFunction(%s): the PTX has this .entry but no loaded kernel library emulates it "
                   "(ATTNRT_EMU_KERNEL_LIBS=%s) -> CUDA_ERROR_NOT_FOUND",
                   name, getenv("ATTNRT_EMU_KERNEL_LIBS") ? getenv("ATTNRT_EMU_KERNEL_LIBS") : "");
        } else if (emulated) {
            emuLog("cuModuleGetFunction(%s): %s emulates this kernel but the PTX module has no such .entry -> "
                   "CUDA_ERROR_NOT_FOUND",
                   name, kernel->second.library.c_str());
        } else {
            emuLog("cuModuleGetFunction(%s): neither the PTX module nor any kernel library has this kernel -> "
                   "CUDA_ERROR_NOT_FOUND",
                   name);
        }
        return CUDA_ERROR_NOT_FOUND;
    }
    int staticSmem = m->staticSmem.count(name) ? (int)m->staticSmem[name] : 0;
    // As on a GPU, the default dynamic limit is what the 48 KB a block gets without opt-in leaves.
    int defaultDynamic = staticSmem < kSmemPerBlockDefault ? kSmemPerBlockDefault - staticSmem : 0;
    Function* f = new Function{m, name, &kernel->second, defaultDynamic, -1, staticSmem};
    m->functions[name] = f;
    s.functions.insert(f);
    *hfunc = reinterpret_cast<CUfunction>(f);
    return CUDA_SUCCESS;
}

namespace {
Function* liveFunction(CUfunction hfunc) {
    Function* f = static_cast<Function*>(static_cast<void*>(hfunc));
    if (hfunc == nullptr || state().functions.count(f) == 0 || !f->module->alive) return nullptr;
    return f;
}
}  // namespace

EMU_API CUresult cuFuncGetModule(CUmodule* hmod, CUfunction hfunc) {
    REQUIRE_INIT();
    if (hmod == nullptr) return CUDA_ERROR_INVALID_VALUE;
    Lock lock(state().mutex);
    Function* f = liveFunction(hfunc);
    if (f == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    *hmod = reinterpret_cast<CUmodule>(f->module);
    return CUDA_SUCCESS;
}

EMU_API CUresult cuFuncGetAttribute(int* pi, CUfunction_attribute attrib, CUfunction hfunc) {
    REQUIRE_INIT();
    if (pi == nullptr) return CUDA_ERROR_INVALID_VALUE;
    Lock lock(state().mutex);
    Function* f = liveFunction(hfunc);
    if (f == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    switch (attrib) {
        case CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *pi = 1024; break;
        // Static shared memory is read from the PTX's .shared declarations (laid out as ptxas does); constant
        // and local memory and registers are what ptxas decides, and the emulator does not compile PTX, so it
        // reports none (the ptxas -v reports of the build have the real numbers).
        case CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES: *pi = f->staticSmem; break;
        case CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES: *pi = 0; break;
        case CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES: *pi = 0; break;
        case CU_FUNC_ATTRIBUTE_NUM_REGS: *pi = 32; break;
        case CU_FUNC_ATTRIBUTE_PTX_VERSION: *pi = f->module->ptxVersion; break;
        case CU_FUNC_ATTRIBUTE_BINARY_VERSION: *pi = state().profile.cc; break;
        case CU_FUNC_ATTRIBUTE_CACHE_MODE_CA: *pi = 0; break;
        case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: *pi = f->maxDynamicSmem; break;
        case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT: *pi = f->carveout; break;
        default: *pi = 0; break;
    }
    return CUDA_SUCCESS;
}

EMU_API CUresult cuFuncSetAttribute(CUfunction hfunc, CUfunction_attribute attrib, int value) {
    REQUIRE_INIT();
    Lock lock(state().mutex);
    Function* f = liveFunction(hfunc);
    if (f == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    switch (attrib) {
        case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES:
            if (value < 0 || value > state().profile.smemPerBlockOptin - f->staticSmem) {
                emuLog("cuFuncSetAttribute(%s, MAX_DYNAMIC_SHARED_SIZE_BYTES, %d): with %d bytes of static shared "
                       "memory the device allows at most %d -> CUDA_ERROR_INVALID_VALUE",
                       f->name.c_str(), value, f->staticSmem, state().profile.smemPerBlockOptin - f->staticSmem);
                return CUDA_ERROR_INVALID_VALUE;
            }
            f->maxDynamicSmem = value;
            return CUDA_SUCCESS;
        case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
            if (value < -1 || value > 100) return CUDA_ERROR_INVALID_VALUE;
            f->carveout = value;
            return CUDA_SUCCESS;
        default:
            return CUDA_ERROR_INVALID_VALUE;
    }
}

EMU_API CUresult cuFuncSetCacheConfig(CUfunction hfunc, CUfunc_cache config) {
    REQUIRE_INIT();
    (void)config;
    Lock lock(state().mutex);
    return liveFunction(hfunc) != nullptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

EMU_API CUresult cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(int* numBlocks, CUfunction func,
                                                                     int blockSize, size_t dynamicSMemSize,
                                                                     unsigned int flags) {
    REQUIRE_INIT();
    (void)flags;
    if (numBlocks == nullptr || blockSize <= 0) return CUDA_ERROR_INVALID_VALUE;
    Lock lock(state().mutex);
    if (liveFunction(func) == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    const DeviceProfile& p = state().profile;
    if (blockSize > 1024) {
        *numBlocks = 0;
        return CUDA_SUCCESS;
    }
    int warps = (blockSize + 31) / 32;
    int byThreads = p.maxThreadsPerSm / 32 / warps;
    int byRegisters = 65536 / (32 * warps * 32);  // assumes 32 registers per thread, as NUM_REGS reports
    int bySmem = (int)(p.smemPerSm / (dynamicSMemSize + kReservedSmemPerBlock));
    int blocks = p.maxBlocksPerSm;
    for (int limit : {byThreads, byRegisters, bySmem}) blocks = limit < blocks ? limit : blocks;
    *numBlocks = dynamicSMemSize > (size_t)p.smemPerBlockOptin ? 0 : blocks;
    return CUDA_SUCCESS;
}

EMU_API CUresult cuOccupancyMaxActiveBlocksPerMultiprocessor(int* numBlocks, CUfunction func, int blockSize,
                                                             size_t dynamicSMemSize) {
    return cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(numBlocks, func, blockSize, dynamicSMemSize, 0);
}

EMU_API CUresult cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY, unsigned int gridDimZ,
                                unsigned int blockDimX, unsigned int blockDimY, unsigned int blockDimZ,
                                unsigned int sharedMemBytes, CUstream hStream, void** kernelParams, void** extra) {
    REQUIRE_INIT();
    const KernelEntry* entry;
    std::string name;
    Ctx* launchCtx;
    {
        Lock lock(state().mutex);
        REQUIRE_CTX(ctx);
        REQUIRE_HEALTHY(ctx);
        launchCtx = ctx;
        Function* fn = liveFunction(f);
        if (fn == nullptr) return CUDA_ERROR_INVALID_HANDLE;
        if (!validStream(hStream)) return CUDA_ERROR_INVALID_HANDLE;
        name = fn->name;
        if (extra != nullptr) {
            emuLog("cuLaunchKernel(%s): parameters through 'extra' are not emulated; pass kernelParams -> "
                   "CUDA_ERROR_NOT_SUPPORTED",
                   name.c_str());
            return CUDA_ERROR_NOT_SUPPORTED;
        }
        unsigned long long threads = (unsigned long long)blockDimX * blockDimY * blockDimZ;
        bool blockOk = blockDimX >= 1 && blockDimY >= 1 && blockDimZ >= 1 && blockDimX <= 1024 &&
                       blockDimY <= 1024 && blockDimZ <= 64 && threads <= 1024;
        bool gridOk = gridDimX >= 1 && gridDimY >= 1 && gridDimZ >= 1 && gridDimX <= 2147483647u &&
                      gridDimY <= 65535 && gridDimZ <= 65535;
        if (!blockOk || !gridOk) {
            emuLog("cuLaunchKernel(%s): grid (%u,%u,%u) block (%u,%u,%u) is outside the device limits -> "
                   "CUDA_ERROR_INVALID_VALUE",
                   name.c_str(), gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ);
            return CUDA_ERROR_INVALID_VALUE;
        }
        if (fn->staticSmem > kSmemPerBlockDefault) {
            emuLog("cuLaunchKernel(%s): %d bytes of static shared memory exceed the %d a kernel may declare (ptxas "
                   "rejects this kernel) -> CUDA_ERROR_INVALID_VALUE",
                   name.c_str(), fn->staticSmem, kSmemPerBlockDefault);
            return CUDA_ERROR_INVALID_VALUE;
        }
        if (sharedMemBytes > (unsigned)fn->maxDynamicSmem ||
            (unsigned long long)sharedMemBytes + fn->staticSmem > (unsigned)state().profile.smemPerBlockOptin) {
            emuLog("cuLaunchKernel(%s): %u bytes of dynamic shared memory, but with %d bytes of static shared memory "
                   "the function allows %d (raise CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES first, up to %d) "
                   "-> CUDA_ERROR_INVALID_VALUE",
                   name.c_str(), sharedMemBytes, fn->staticSmem, fn->maxDynamicSmem,
                   state().profile.smemPerBlockOptin - fn->staticSmem);
            return CUDA_ERROR_INVALID_VALUE;
        }
        entry = fn->entry;
        // max_dynamic_smem is the kernel library's opt-in maximum for this kernel (attnrt_emu_abi.h).
        if (sharedMemBytes > entry->kernel->max_dynamic_smem) {
            emuLog("cuLaunchKernel(%s): %u bytes of dynamic shared memory, but %s allows this kernel at most %u "
                   "-> CUDA_ERROR_INVALID_VALUE",
                   name.c_str(), sharedMemBytes, entry->library.c_str(), entry->kernel->max_dynamic_smem);
            return CUDA_ERROR_INVALID_VALUE;
        }
    }
    // The grid runs without the driver lock: a kernel may call attnrt_emu_check_range, and other threads
    // may keep using the driver meanwhile.
    const unsigned grid[3] = {gridDimX, gridDimY, gridDimZ};
    const unsigned block[3] = {blockDimX, blockDimY, blockDimZ};
    int status = entry->kernel->launch(grid, block, sharedMemBytes, kernelParams);
    Lock lock(state().mutex);
    bool clean = checkRedzones(name.c_str());
    if (status == ATTNRT_EMU_INVALID_LAUNCH) {
        emuLog("kernel %s: the emulation in %s rejected the launch configuration -> CUDA_ERROR_INVALID_VALUE",
               name.c_str(), entry->library.c_str());
        return CUDA_ERROR_INVALID_VALUE;
    }
    if (status == ATTNRT_EMU_ILLEGAL_ADDRESS || (status == ATTNRT_EMU_OK && !clean)) {
        if (status == ATTNRT_EMU_ILLEGAL_ADDRESS) {
            emuLog("kernel %s made an illegal memory access (%s, seed %llu) -> CUDA_ERROR_ILLEGAL_ADDRESS, sticky "
                   "for the context",
                   name.c_str(), entry->library.c_str(), entry->seed);
        }
        // The context outlives the launch unless the test destroyed it meanwhile from another thread.
        if (state().contexts.count(launchCtx) != 0) launchCtx->sticky = CUDA_ERROR_ILLEGAL_ADDRESS;
        return CUDA_ERROR_ILLEGAL_ADDRESS;
    }
    if (status != ATTNRT_EMU_OK) {
        emuLog("kernel %s failed in its emulation (status %d, %s, seed %llu) -> CUDA_ERROR_LAUNCH_FAILED",
               name.c_str(), status, entry->library.c_str(), entry->seed);
        return CUDA_ERROR_LAUNCH_FAILED;
    }
    return CUDA_SUCCESS;
}
