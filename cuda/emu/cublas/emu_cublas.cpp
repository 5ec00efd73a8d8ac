// emu_cublas.cpp — a fake libcublas.so.12 for the emulated CUDA device (test target only).
//
// JCublas2 imports its symbols versioned (cublasCreate_v2@libcublas.so.12), hence libcublas.map. Device
// memory of the emulated device is host memory, so the GEMMs below run on the CPU, on the pointers as given,
// with cuBLAS's column-major semantics: C = alpha * op(A) * op(B) + beta * C, op(A) m x k, op(B) k x n. Every
// matrix a call touches is first checked against the emulated driver's allocations (attnrt_emu_check_range),
// so a too-small buffer or a wrong leading dimension fails the call (CUBLAS_STATUS_EXECUTION_FAILED, reason
// on stderr) where a real GPU would read or write out of bounds.
//
// cuBLAS has no public header here; the types and values below are those of the cuBLAS 12 documentation
// (cublas_api.h, library_types.h).

#include "../driver/attnrt_emu_driver.h"

#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <set>
#include <vector>

#define EMU_API extern "C" __attribute__((visibility("default")))

typedef enum {
    CUBLAS_STATUS_SUCCESS = 0,
    CUBLAS_STATUS_NOT_INITIALIZED = 1,
    CUBLAS_STATUS_ALLOC_FAILED = 3,
    CUBLAS_STATUS_INVALID_VALUE = 7,
    CUBLAS_STATUS_ARCH_MISMATCH = 8,
    CUBLAS_STATUS_MAPPING_ERROR = 11,
    CUBLAS_STATUS_EXECUTION_FAILED = 13,
    CUBLAS_STATUS_INTERNAL_ERROR = 14,
    CUBLAS_STATUS_NOT_SUPPORTED = 15,
    CUBLAS_STATUS_LICENSE_ERROR = 16
} cublasStatus_t;

typedef enum { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1, CUBLAS_OP_C = 2 } cublasOperation_t;
typedef enum { CUBLAS_POINTER_MODE_HOST = 0, CUBLAS_POINTER_MODE_DEVICE = 1 } cublasPointerMode_t;
typedef enum { CUBLAS_ATOMICS_NOT_ALLOWED = 0, CUBLAS_ATOMICS_ALLOWED = 1 } cublasAtomicsMode_t;
typedef enum {
    CUBLAS_DEFAULT_MATH = 0,
    CUBLAS_TENSOR_OP_MATH = 1,
    CUBLAS_PEDANTIC_MATH = 2,
    CUBLAS_TF32_TENSOR_OP_MATH = 3,
    CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION = 16
} cublasMath_t;
typedef enum { CUDA_R_32F = 0, CUDA_R_16F = 2, CUDA_R_16BF = 14 } cudaDataType;
typedef enum {
    CUBLAS_COMPUTE_16F = 64,
    CUBLAS_COMPUTE_16F_PEDANTIC = 65,
    CUBLAS_COMPUTE_32F = 68,
    CUBLAS_COMPUTE_32F_PEDANTIC = 69,
    CUBLAS_COMPUTE_64F = 70,
    CUBLAS_COMPUTE_64F_PEDANTIC = 71,
    CUBLAS_COMPUTE_32I = 72,
    CUBLAS_COMPUTE_32I_PEDANTIC = 73,
    CUBLAS_COMPUTE_32F_FAST_16F = 74,
    CUBLAS_COMPUTE_32F_FAST_16BF = 75,
    CUBLAS_COMPUTE_32F_FAST_TF32 = 77
} cublasComputeType_t;
typedef enum { MAJOR_VERSION = 0, MINOR_VERSION = 1, PATCH_LEVEL = 2 } libraryPropertyType;
typedef int cublasGemmAlgo_t;  // CUBLAS_GEMM_DEFAULT -1, ALGO0..23, DEFAULT_TENSOR_OP 99, ALGO0..15_TENSOR_OP
typedef void* cudaStream_t;

struct cublasContext {
    cudaStream_t stream;
    cublasPointerMode_t pointerMode;
    cublasAtomicsMode_t atomicsMode;
    int mathMode;
    void* workspace;
    size_t workspaceBytes;
};
typedef cublasContext* cublasHandle_t;

namespace {

constexpr int kVersion = 120600;  // cuBLAS 12.6.0, the release JCublas 12.6.0 binds

std::mutex handlesMutex;
std::set<cublasHandle_t>& handles() {
    static auto* live = new std::set<cublasHandle_t>();
    return *live;
}

bool live(cublasHandle_t handle) {
    std::lock_guard<std::mutex> lock(handlesMutex);
    return handle != nullptr && handles().count(handle) > 0;
}

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

// ---- 16-bit floats (round to nearest even, as the hardware converts) ----------------------------------

float bitsToFloat(uint32_t bits) {
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint32_t floatToBits(float f) {
    uint32_t bits;
    memcpy(&bits, &f, 4);
    return bits;
}

float halfToFloat(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    int exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    if (exp == 0x1f) return bitsToFloat(sign | 0x7f800000 | (mant << 13));
    if (exp == 0) {
        float v = (float)mant * 0x1p-24f;
        return sign ? -v : v;
    }
    return bitsToFloat(sign | ((uint32_t)(exp + 112) << 23) | (mant << 13));
}

uint16_t floatToHalf(float f) {
    uint32_t x = floatToBits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t abs = x & 0x7fffffff;
    if (abs >= 0x7f800000) return sign | 0x7c00 | (abs > 0x7f800000 ? 0x200 : 0);
    if (abs >= 0x477ff000) return sign | 0x7c00;  // rounds to 65520 or more: infinity
    if (abs < 0x38800000) {                        // subnormal half or zero: units of 2^-24
        float v = bitsToFloat(abs) * 0x1p24f;
        float r = nearbyintf(v);                     // default rounding mode: ties to even
        return sign | (uint16_t)r;
    }
    uint32_t half = ((abs >> 23) - 112) << 10 | ((abs & 0x7fffff) >> 13);
    uint32_t rest = abs & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (half & 1))) half++;
    return sign | (uint16_t)half;
}

float bf16ToFloat(uint16_t b) { return bitsToFloat((uint32_t)b << 16); }

uint16_t floatToBf16(float f) {
    uint32_t x = floatToBits(f);
    if ((x & 0x7fffffff) > 0x7f800000) return (uint16_t)((x >> 16) | 0x40);
    return (uint16_t)((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}

// fp32 -> TF32 as the tensor cores take it: 10 explicit mantissa bits, round to nearest, ties away.
float roundToTf32(float f) {
    uint32_t x = floatToBits(f);
    if ((x & 0x7f800000) == 0x7f800000) return f;
    return bitsToFloat((x + 0x1000) & 0xffffe000);
}

int elementSize(int type) { return type == CUDA_R_32F ? 4 : 2; }

float load(const void* base, size_t index, int type) {
    switch (type) {
        case CUDA_R_32F: return static_cast<const float*>(base)[index];
        case CUDA_R_16F: return halfToFloat(static_cast<const uint16_t*>(base)[index]);
        default: return bf16ToFloat(static_cast<const uint16_t*>(base)[index]);
    }
}

void store(void* base, size_t index, int type, float value) {
    switch (type) {
        case CUDA_R_32F: static_cast<float*>(base)[index] = value; break;
        case CUDA_R_16F: static_cast<uint16_t*>(base)[index] = floatToHalf(value); break;
        default: static_cast<uint16_t*>(base)[index] = floatToBf16(value); break;
    }
}

// How the inputs are rounded before the products: the precision a compute type / math mode lets cuBLAS use.
enum class InputRounding { None, Tf32, Half, Bf16 };

float roundInput(float v, InputRounding r) {
    switch (r) {
        case InputRounding::Tf32: return roundToTf32(v);
        case InputRounding::Half: return halfToFloat(floatToHalf(v));
        case InputRounding::Bf16: return bf16ToFloat(floatToBf16(v));
        default: return v;
    }
}

struct GemmArgs {
    const char* api;
    cublasHandle_t handle;
    int transa, transb;
    int m, n, k;
    const float* alpha;
    const void* A;
    int Atype;
    int lda;
    long long strideA;
    const void* B;
    int Btype;
    int ldb;
    long long strideB;
    const float* beta;
    void* C;
    int Ctype;
    int ldc;
    long long strideC;
    int batchCount;
    InputRounding rounding;
};

bool validOp(int op) { return op == CUBLAS_OP_N || op == CUBLAS_OP_T || op == CUBLAS_OP_C; }

int maxOf(int a, int b) { return a > b ? a : b; }

// Bytes from the first to one past the last element of a column-major rows x cols matrix with leading
// dimension ld.
size_t matrixSpan(int rows, int cols, int ld, int elementBytes) {
    if (rows == 0 || cols == 0) return 0;
    return ((size_t)(cols - 1) * (size_t)ld + (size_t)rows) * (size_t)elementBytes;
}

bool checkMatrix(const GemmArgs& g, const char* which, const void* base, long long stride, int rows, int cols,
                 int ld, int type) {
    size_t span = matrixSpan(rows, cols, ld, elementSize(type));
    if (span == 0) return true;
    for (int b = 0; b < g.batchCount; b++) {
        const char* p = static_cast<const char*>(base) + (long long)b * stride * elementSize(type);
        char why[512];
        if (!attnrt_emu_check_range(p, span, why, sizeof why)) {
            emuLog("%s: matrix %s of batch %d (%d x %d, ld %d) is not in device memory: %s -> "
                   "CUBLAS_STATUS_EXECUTION_FAILED",
                   g.api, which, b, rows, cols, ld, why);
            return false;
        }
    }
    return true;
}

cublasStatus_t gemm(const GemmArgs& g) {
    if (!live(g.handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    int rowsA = g.transa == CUBLAS_OP_N ? g.m : g.k;
    int rowsB = g.transb == CUBLAS_OP_N ? g.k : g.n;
    if (!validOp(g.transa) || !validOp(g.transb) || g.m < 0 || g.n < 0 || g.k < 0 || g.lda < maxOf(1, rowsA) ||
        g.ldb < maxOf(1, rowsB) || g.ldc < maxOf(1, g.m) || g.batchCount < 0 || g.alpha == nullptr ||
        g.beta == nullptr) {
        emuLog("%s: invalid arguments (trans %d/%d, m %d, n %d, k %d, lda %d, ldb %d, ldc %d, batch %d) -> "
               "CUBLAS_STATUS_INVALID_VALUE",
               g.api, g.transa, g.transb, g.m, g.n, g.k, g.lda, g.ldb, g.ldc, g.batchCount);
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    if (g.m == 0 || g.n == 0 || g.batchCount == 0) return CUBLAS_STATUS_SUCCESS;
    bool deviceScalars = g.handle->pointerMode == CUBLAS_POINTER_MODE_DEVICE;
    if (deviceScalars) {
        char why[512];
        if (!attnrt_emu_check_range(g.alpha, 4, why, sizeof why) || !attnrt_emu_check_range(g.beta, 4, why, sizeof why)) {
            emuLog("%s: pointer mode DEVICE but alpha/beta are not in device memory: %s", g.api, why);
            return CUBLAS_STATUS_EXECUTION_FAILED;
        }
    }
    float alpha = *g.alpha;
    float beta = *g.beta;
    // BLAS semantics: with alpha == 0 (or k == 0) A and B are not read; with beta == 0 C is not read, so
    // whatever C held (NaN included) does not reach the result.
    bool useAB = alpha != 0.0f && g.k > 0;
    int colsA = g.transa == CUBLAS_OP_N ? g.k : g.m;
    int colsB = g.transb == CUBLAS_OP_N ? g.n : g.k;
    if (useAB && (!checkMatrix(g, "A", g.A, g.strideA, rowsA, colsA, g.lda, g.Atype) ||
                  !checkMatrix(g, "B", g.B, g.strideB, rowsB, colsB, g.ldb, g.Btype))) {
        return CUBLAS_STATUS_EXECUTION_FAILED;
    }
    if (!checkMatrix(g, "C", g.C, g.strideC, g.m, g.n, g.ldc, g.Ctype)) return CUBLAS_STATUS_EXECUTION_FAILED;

    const int m = g.m, n = g.n, k = g.k;
    std::vector<float> a(useAB ? (size_t)m * k : 0);  // op(A) row by row: a[i * k + p]
    std::vector<float> b(useAB ? (size_t)n * k : 0);  // op(B) column by column: b[j * k + p]
    for (int batch = 0; batch < g.batchCount; batch++) {
        const void* A = static_cast<const char*>(g.A) + (long long)batch * g.strideA * elementSize(g.Atype);
        const void* B = static_cast<const char*>(g.B) + (long long)batch * g.strideB * elementSize(g.Btype);
        void* C = static_cast<char*>(g.C) + (long long)batch * g.strideC * elementSize(g.Ctype);
        if (useAB) {
            for (int i = 0; i < m; i++) {
                for (int p = 0; p < k; p++) {
                    size_t at = g.transa == CUBLAS_OP_N ? (size_t)i + (size_t)p * g.lda : (size_t)p + (size_t)i * g.lda;
                    a[(size_t)i * k + p] = roundInput(load(A, at, g.Atype), g.rounding);
                }
            }
            for (int j = 0; j < n; j++) {
                for (int p = 0; p < k; p++) {
                    size_t at = g.transb == CUBLAS_OP_N ? (size_t)p + (size_t)j * g.ldb : (size_t)j + (size_t)p * g.ldb;
                    b[(size_t)j * k + p] = roundInput(load(B, at, g.Btype), g.rounding);
                }
            }
        }
        for (int j = 0; j < n; j++) {
            for (int i = 0; i < m; i++) {
                float dot = 0.0f;
                if (useAB) {
                    // fp32 accumulation in eight interleaved partial sums, as a GPU reduction splits the k
                    // loop; the order differs from a sequential sum by rounding only.
                    const float* ai = &a[(size_t)i * k];
                    const float* bj = &b[(size_t)j * k];
                    float partial[8] = {0, 0, 0, 0, 0, 0, 0, 0};
                    int p = 0;
                    for (; p + 8 <= k; p += 8)
                        for (int l = 0; l < 8; l++) partial[l] += ai[p + l] * bj[p + l];
                    for (; p < k; p++) partial[p & 7] += ai[p] * bj[p];
                    dot = ((partial[0] + partial[1]) + (partial[2] + partial[3])) +
                          ((partial[4] + partial[5]) + (partial[6] + partial[7]));
                }
                size_t at = (size_t)i + (size_t)j * g.ldc;
                float result = alpha * dot;
                if (beta != 0.0f) result += beta * load(C, at, g.Ctype);
                store(C, at, g.Ctype, result);
            }
        }
    }
    return CUBLAS_STATUS_SUCCESS;
}

bool tf32Allowed(cublasHandle_t handle) { return (handle->mathMode & 0xf) == CUBLAS_TF32_TENSOR_OP_MATH; }

// Which (A/B, C, compute) combinations cublasGemmEx accepts (cuBLAS docs, cublasGemmEx table), limited to
// the float formats attnrt uses. Returns false for everything else (CUBLAS_STATUS_NOT_SUPPORTED).
bool gemmExCombination(cublasHandle_t handle, int Atype, int Btype, int Ctype, int computeType,
                       InputRounding* rounding) {
    if (Atype != Btype) return false;
    bool ab16 = Atype == CUDA_R_16F || Atype == CUDA_R_16BF;
    switch (computeType) {
        case CUBLAS_COMPUTE_32F:
            *rounding = Atype == CUDA_R_32F && tf32Allowed(handle) ? InputRounding::Tf32 : InputRounding::None;
            return (Atype == CUDA_R_32F && Ctype == CUDA_R_32F) || (ab16 && (Ctype == CUDA_R_32F || Ctype == Atype));
        case CUBLAS_COMPUTE_32F_PEDANTIC:
            *rounding = InputRounding::None;
            return (Atype == CUDA_R_32F && Ctype == CUDA_R_32F) || (ab16 && (Ctype == CUDA_R_32F || Ctype == Atype));
        case CUBLAS_COMPUTE_32F_FAST_TF32:
            *rounding = InputRounding::Tf32;
            return Atype == CUDA_R_32F && Ctype == CUDA_R_32F;
        case CUBLAS_COMPUTE_32F_FAST_16F:
            *rounding = InputRounding::Half;
            return Atype == CUDA_R_32F && Ctype == CUDA_R_32F;
        case CUBLAS_COMPUTE_32F_FAST_16BF:
            *rounding = InputRounding::Bf16;
            return Atype == CUDA_R_32F && Ctype == CUDA_R_32F;
        default:
            return false;
    }
}

bool validAlgo(cublasGemmAlgo_t algo) { return (algo >= -1 && algo <= 23) || (algo >= 99 && algo <= 115); }

cublasStatus_t gemmEx(GemmArgs g, int computeType, cublasGemmAlgo_t algo) {
    if (!live(g.handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (!validAlgo(algo)) {
        emuLog("%s: algo %d is not a cublasGemmAlgo_t -> CUBLAS_STATUS_INVALID_VALUE", g.api, algo);
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    if (!gemmExCombination(g.handle, g.Atype, g.Btype, g.Ctype, computeType, &g.rounding)) {
        emuLog("%s: A type %d, B type %d, C type %d with compute type %d is not supported -> "
               "CUBLAS_STATUS_NOT_SUPPORTED",
               g.api, g.Atype, g.Btype, g.Ctype, computeType);
        return CUBLAS_STATUS_NOT_SUPPORTED;
    }
    return gemm(g);
}

}  // namespace

// ===== handles and settings ==============================================================================

EMU_API cublasStatus_t cublasCreate_v2(cublasHandle_t* handle) {
    if (handle == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
    auto* h = new cublasContext{nullptr, CUBLAS_POINTER_MODE_HOST, CUBLAS_ATOMICS_NOT_ALLOWED, CUBLAS_DEFAULT_MATH,
                                nullptr, 0};
    std::lock_guard<std::mutex> lock(handlesMutex);
    handles().insert(h);
    *handle = h;
    return CUBLAS_STATUS_SUCCESS;
}

EMU_API cublasStatus_t cublasDestroy_v2(cublasHandle_t handle) {
    std::lock_guard<std::mutex> lock(handlesMutex);
    if (handle == nullptr || handles().erase(handle) == 0) return CUBLAS_STATUS_NOT_INITIALIZED;
    delete handle;
    return CUBLAS_STATUS_SUCCESS;
}

EMU_API cublasStatus_t cublasGetVersion_v2(cublasHandle_t handle, int* version) {
    if (!live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (version == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
    *version = kVersion;
    return CUBLAS_STATUS_SUCCESS;
}

EMU_API cublasStatus_t cublasGetProperty(libraryPropertyType type, int* value) {
    if (value == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
    switch (type) {
        case MAJOR_VERSION: *value = kVersion / 10000; return CUBLAS_STATUS_SUCCESS;
        case MINOR_VERSION: *value = kVersion / 100 % 100; return CUBLAS_STATUS_SUCCESS;
        case PATCH_LEVEL: *value = kVersion % 100; return CUBLAS_STATUS_SUCCESS;
        default: return CUBLAS_STATUS_INVALID_VALUE;
    }
}

EMU_API size_t cublasGetCudartVersion(void) { return 12060; }

EMU_API const char* cublasGetStatusName(cublasStatus_t status) {
    switch (status) {
        case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
        case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
        case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
        case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
        case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
        case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
        case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
        case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
        case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
        case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
        default: return "CUBLAS_STATUS_UNKNOWN";
    }
}

EMU_API const char* cublasGetStatusString(cublasStatus_t status) {
    switch (status) {
        case CUBLAS_STATUS_SUCCESS: return "success";
        case CUBLAS_STATUS_NOT_INITIALIZED: return "the library was not initialized";
        case CUBLAS_STATUS_ALLOC_FAILED: return "the resource allocation failed";
        case CUBLAS_STATUS_INVALID_VALUE: return "an invalid numeric value was used as an argument";
        case CUBLAS_STATUS_ARCH_MISMATCH: return "an absent device architectural feature is required";
        case CUBLAS_STATUS_MAPPING_ERROR: return "an access to GPU memory space failed";
        case CUBLAS_STATUS_EXECUTION_FAILED: return "the GPU program failed to execute";
        case CUBLAS_STATUS_INTERNAL_ERROR: return "an internal operation failed";
        case CUBLAS_STATUS_NOT_SUPPORTED: return "the functionality requested is not supported";
        case CUBLAS_STATUS_LICENSE_ERROR: return "error detected trying to check the license";
        default: return "unknown error";
    }
}

EMU_API cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, cudaStream_t streamId) {
    if (!live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    handle->stream = streamId;  // every call completes before it returns, on whichever stream
    return CUBLAS_STATUS_SUCCESS;
}

EMU_API cublasStatus_t cublasGetStream_v2(cublasHandle_t handle, cudaStream_t* streamId) {
    if (!live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (streamId == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
    *streamId = handle->stream;
    return CUBLAS_STATUS_SUCCESS;
}

EMU_API cublasStatus_t cublasSetPointerMode_v2(cublasHandle_t handle, cublasPointerMode_t mode) {
    if (!live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (mode != CUBLAS_POINTER_MODE_HOST && mode != CUBLAS_POINTER_MODE_DEVICE) return CUBLAS_STATUS_INVALID_VALUE;
    handle->pointerMode = mode;
    return CUBLAS_STATUS_SUCCESS;
}

EMU_API cublasStatus_t cublasGetPointerMode_v2(cublasHandle_t handle, cublasPointerMode_t* mode) {
    if (!live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (mode == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
    *mode = handle->pointerMode;
    return CUBLAS_STATUS_SUCCESS;
}

EMU_API cublasStatus_t cublasSetAtomicsMode(cublasHandle_t handle, cublasAtomicsMode_t mode) {
    if (!live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (mode != CUBLAS_ATOMICS_NOT_ALLOWED && mode != CUBLAS_ATOMICS_ALLOWED) return CUBLAS_STATUS_INVALID_VALUE;
    handle->atomicsMode = mode;
    return CUBLAS_STATUS_SUCCESS;
}

EMU_API cublasStatus_t cublasGetAtomicsMode(cublasHandle_t handle, cublasAtomicsMode_t* mode) {
    if (!live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (mode == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
    *mode = handle->atomicsMode;
    return CUBLAS_STATUS_SUCCESS;
}

EMU_API cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
    if (!live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    int base = mode & 0xf;
    int flags = mode & ~0xf;
    if (base > CUBLAS_TF32_TENSOR_OP_MATH || (flags & ~CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION) != 0) {
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    handle->mathMode = mode;
    return CUBLAS_STATUS_SUCCESS;
}

EMU_API cublasStatus_t cublasGetMathMode(cublasHandle_t handle, cublasMath_t* mode) {
    if (!live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (mode == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
    *mode = (cublasMath_t)handle->mathMode;
    return CUBLAS_STATUS_SUCCESS;
}

EMU_API cublasStatus_t cublasSetWorkspace_v2(cublasHandle_t handle, void* workspace, size_t workspaceSizeInBytes) {
    if (!live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (workspaceSizeInBytes > 0) {
        char why[512];
        if (workspace == nullptr || !attnrt_emu_check_range(workspace, workspaceSizeInBytes, why, sizeof why)) {
            emuLog("cublasSetWorkspace: the workspace is not %zu bytes of device memory -> "
                   "CUBLAS_STATUS_INVALID_VALUE",
                   workspaceSizeInBytes);
            return CUBLAS_STATUS_INVALID_VALUE;
        }
    }
    handle->workspace = workspace;  // the CPU GEMM needs no workspace; kept so the setting round-trips
    handle->workspaceBytes = workspaceSizeInBytes;
    return CUBLAS_STATUS_SUCCESS;
}

// ===== GEMM ==============================================================================================

EMU_API cublasStatus_t cublasSgemm_v2(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                                      int m, int n, int k, const float* alpha, const float* A, int lda,
                                      const float* B, int ldb, const float* beta, float* C, int ldc) {
    if (!live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    InputRounding rounding = tf32Allowed(handle) ? InputRounding::Tf32 : InputRounding::None;
    return gemm(GemmArgs{"cublasSgemm", handle, transa, transb, m, n, k, alpha, A, CUDA_R_32F, lda, 0, B, CUDA_R_32F,
                         ldb, 0, beta, C, CUDA_R_32F, ldc, 0, 1, rounding});
}

EMU_API cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t handle, cublasOperation_t transa,
                                                 cublasOperation_t transb, int m, int n, int k, const float* alpha,
                                                 const float* A, int lda, long long strideA, const float* B, int ldb,
                                                 long long strideB, const float* beta, float* C, int ldc,
                                                 long long strideC, int batchCount) {
    if (!live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    InputRounding rounding = tf32Allowed(handle) ? InputRounding::Tf32 : InputRounding::None;
    return gemm(GemmArgs{"cublasSgemmStridedBatched", handle, transa, transb, m, n, k, alpha, A, CUDA_R_32F, lda,
                         strideA, B, CUDA_R_32F, ldb, strideB, beta, C, CUDA_R_32F, ldc, strideC, batchCount,
                         rounding});
}

EMU_API cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m,
                                    int n, int k, const void* alpha, const void* A, cudaDataType Atype, int lda,
                                    const void* B, cudaDataType Btype, int ldb, const void* beta, void* C,
                                    cudaDataType Ctype, int ldc, cublasComputeType_t computeType,
                                    cublasGemmAlgo_t algo) {
    return gemmEx(GemmArgs{"cublasGemmEx", handle, transa, transb, m, n, k, static_cast<const float*>(alpha), A,
                           Atype, lda, 0, B, Btype, ldb, 0, static_cast<const float*>(beta), C, Ctype, ldc, 0, 1,
                           InputRounding::None},
                  computeType, algo);
}

EMU_API cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t handle, cublasOperation_t transa,
                                                  cublasOperation_t transb, int m, int n, int k, const void* alpha,
                                                  const void* A, cudaDataType Atype, int lda, long long strideA,
                                                  const void* B, cudaDataType Btype, int ldb, long long strideB,
                                                  const void* beta, void* C, cudaDataType Ctype, int ldc,
                                                  long long strideC, int batchCount,
                                                  cublasComputeType_t computeType, cublasGemmAlgo_t algo) {
    return gemmEx(GemmArgs{"cublasGemmStridedBatchedEx", handle, transa, transb, m, n, k,
                           static_cast<const float*>(alpha), A, Atype, lda, strideA, B, Btype, ldb, strideB,
                           static_cast<const float*>(beta), C, Ctype, ldc, strideC, batchCount, InputRounding::None},
                  computeType, algo);
}

// ===== host <-> device copies of vectors and matrices ====================================================

namespace {
cublasStatus_t copyMatrix(const char* api, int rows, int cols, int elemSize, const void* src, int lds, void* dst,
                          int ldd, bool toDevice) {
    if (rows < 0 || cols < 0 || elemSize <= 0 || lds < maxOf(1, rows) || ldd < maxOf(1, rows)) {
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    if (rows == 0 || cols == 0) return CUBLAS_STATUS_SUCCESS;
    char why[512];
    const void* device = toDevice ? dst : src;
    int ld = toDevice ? ldd : lds;
    if (!attnrt_emu_check_range(device, matrixSpan(rows, cols, ld, elemSize), why, sizeof why)) {
        emuLog("%s: %s -> CUBLAS_STATUS_MAPPING_ERROR", api, why);
        return CUBLAS_STATUS_MAPPING_ERROR;
    }
    for (int j = 0; j < cols; j++) {
        memcpy(static_cast<char*>(dst) + (size_t)j * ldd * elemSize,
               static_cast<const char*>(src) + (size_t)j * lds * elemSize, (size_t)rows * elemSize);
    }
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t copyVector(const char* api, int n, int elemSize, const void* src, int incs, void* dst, int incd,
                          bool toDevice) {
    if (n < 0 || elemSize <= 0 || incs <= 0 || incd <= 0) return CUBLAS_STATUS_INVALID_VALUE;
    if (n == 0) return CUBLAS_STATUS_SUCCESS;
    char why[512];
    const void* device = toDevice ? dst : src;
    int inc = toDevice ? incd : incs;
    if (!attnrt_emu_check_range(device, ((size_t)(n - 1) * inc + 1) * elemSize, why, sizeof why)) {
        emuLog("%s: %s -> CUBLAS_STATUS_MAPPING_ERROR", api, why);
        return CUBLAS_STATUS_MAPPING_ERROR;
    }
    for (int i = 0; i < n; i++) {
        memcpy(static_cast<char*>(dst) + (size_t)i * incd * elemSize,
               static_cast<const char*>(src) + (size_t)i * incs * elemSize, (size_t)elemSize);
    }
    return CUBLAS_STATUS_SUCCESS;
}
}  // namespace

EMU_API cublasStatus_t cublasSetVector(int n, int elemSize, const void* x, int incx, void* devicePtr, int incy) {
    return copyVector("cublasSetVector", n, elemSize, x, incx, devicePtr, incy, true);
}

EMU_API cublasStatus_t cublasGetVector(int n, int elemSize, const void* x, int incx, void* y, int incy) {
    return copyVector("cublasGetVector", n, elemSize, x, incx, y, incy, false);
}

EMU_API cublasStatus_t cublasSetMatrix(int rows, int cols, int elemSize, const void* A, int lda, void* B, int ldb) {
    return copyMatrix("cublasSetMatrix", rows, cols, elemSize, A, lda, B, ldb, true);
}

EMU_API cublasStatus_t cublasGetMatrix(int rows, int cols, int elemSize, const void* A, int lda, void* B, int ldb) {
    return copyMatrix("cublasGetMatrix", rows, cols, elemSize, A, lda, B, ldb, false);
}

EMU_API cublasStatus_t cublasSetVectorAsync(int n, int elemSize, const void* x, int incx, void* devicePtr, int incy,
                                            cudaStream_t stream) {
    (void)stream;
    return cublasSetVector(n, elemSize, x, incx, devicePtr, incy);
}

EMU_API cublasStatus_t cublasGetVectorAsync(int n, int elemSize, const void* x, int incx, void* y, int incy,
                                            cudaStream_t stream) {
    (void)stream;
    return cublasGetVector(n, elemSize, x, incx, y, incy);
}

EMU_API cublasStatus_t cublasSetMatrixAsync(int rows, int cols, int elemSize, const void* A, int lda, void* B,
                                            int ldb, cudaStream_t stream) {
    (void)stream;
    return cublasSetMatrix(rows, cols, elemSize, A, lda, B, ldb);
}

EMU_API cublasStatus_t cublasGetMatrixAsync(int rows, int cols, int elemSize, const void* A, int lda, void* B,
                                            int ldb, cudaStream_t stream) {
    (void)stream;
    return cublasGetMatrix(rows, cols, elemSize, A, lda, B, ldb);
}
