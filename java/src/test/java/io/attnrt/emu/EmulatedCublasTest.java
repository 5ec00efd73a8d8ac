package io.attnrt.emu;

import static io.attnrt.emu.EmulatedCuda.assertCudaError;
import static jcuda.cudaDataType.CUDA_R_16BF;
import static jcuda.cudaDataType.CUDA_R_16F;
import static jcuda.cudaDataType.CUDA_R_32F;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;
import static jcuda.jcublas.JCublas2.cublasCreate;
import static jcuda.jcublas.JCublas2.cublasDestroy;
import static jcuda.jcublas.JCublas2.cublasGemmEx;
import static jcuda.jcublas.JCublas2.cublasGemmEx_new;
import static jcuda.jcublas.JCublas2.cublasGemmStridedBatchedEx_new;
import static jcuda.jcublas.JCublas2.cublasGetMathMode;
import static jcuda.jcublas.JCublas2.cublasGetVersion;
import static jcuda.jcublas.JCublas2.cublasSetMathMode;
import static jcuda.jcublas.JCublas2.cublasSetPointerMode;
import static jcuda.jcublas.JCublas2.cublasSetStream;
import static jcuda.jcublas.JCublas2.cublasSgemm;
import static jcuda.jcublas.JCublas2.cublasSgemmStridedBatched;
import static jcuda.jcublas.cublasComputeType.CUBLAS_COMPUTE_32F;
import static jcuda.jcublas.cublasComputeType.CUBLAS_COMPUTE_32F_FAST_TF32;
import static jcuda.jcublas.cublasGemmAlgo.CUBLAS_GEMM_DEFAULT;
import static jcuda.jcublas.cublasMath.CUBLAS_DEFAULT_MATH;
import static jcuda.jcublas.cublasMath.CUBLAS_TF32_TENSOR_OP_MATH;
import static jcuda.jcublas.cublasOperation.CUBLAS_OP_N;
import static jcuda.jcublas.cublasOperation.CUBLAS_OP_T;
import static jcuda.jcublas.cublasPointerMode.CUBLAS_POINTER_MODE_DEVICE;
import static jcuda.jcublas.cublasPointerMode.CUBLAS_POINTER_MODE_HOST;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import io.attnrt.tensor.DType;
import io.attnrt.tensor.HalfFloats;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;
import jcuda.jcublas.JCublas2;
import jcuda.jcublas.cublasHandle;
import jcuda.runtime.cudaStream_t;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * cuBLAS GEMMs through JCublas2 against a plain Java column-major computation:
 * C = alpha * op(A) * op(B) + beta * C with op(A) m x k, op(B) k x n, every matrix column-major with its leading
 * dimension. Sizes are odd and leading dimensions larger than needed, so a row/column or ld mix-up cannot cancel
 * out; the padding rows of C are checked untouched.
 *
 * <p>Tolerance: inputs are exact in every format (generated already rounded to it), so the only error is fp32
 * accumulation, bounded by a few k·2^-24 of Σ|alpha·a·b| + |beta·c| (1e-5 of it is generous at k = 33), plus
 * half an ulp of the output format when C is F16 (2^-11) or BF16 (2^-8).
 *
 * <p>JCublas2 trap: {@code cublasGemmEx} / {@code cublasGemmStridedBatchedEx} take the compute type as a
 * pre-CUDA-11 {@code cudaDataType} (CUDA_R_32F) and return CUBLAS_STATUS_NOT_SUPPORTED <em>without throwing</em>
 * for a {@code cublasComputeType} (CUBLAS_COMPUTE_32F); the {@code _new} variants take the cublasComputeType.
 */
@EmulatedDevice
class EmulatedCublasTest {
    private static final int M = 17;
    private static final int N = 9;
    private static final int K = 33;

    private static EmulatedCuda cuda;
    private static cublasHandle handle;
    private final List<CUdeviceptr> allocations = new ArrayList<>();
    private final Random random = new Random(1234);

    @BeforeAll
    static void open() {
        cuda = EmulatedCuda.open();
        JCublas2.setExceptionsEnabled(true);
        handle = new cublasHandle();
        cublasCreate(handle);
    }

    @AfterAll
    static void close() {
        if (handle != null) {
            cublasDestroy(handle);
        }
        if (cuda != null) {
            cuda.close();
        }
    }

    @AfterEach
    void freeAll() {
        for (CUdeviceptr p : allocations) {
            cuMemFree(p);
        }
        allocations.clear();
    }

    /** A column-major matrix on the host (values exact in its dtype) and its device copy. */
    private final class Matrix {
        final DType dtype;
        final int rows;
        final int cols;
        final int ld;
        final int batches;
        final long stride; // elements between batches
        final float[] host;
        final CUdeviceptr device = new CUdeviceptr();

        Matrix(DType dtype, int rows, int cols, int ld, int batches, long stride) {
            this.dtype = dtype;
            this.rows = rows;
            this.cols = cols;
            this.ld = ld;
            this.batches = batches;
            this.stride = stride;
            this.host = new float[(int) (stride * (batches - 1) + (long) ld * cols)];
            for (int i = 0; i < host.length; i++) {
                host[i] = HalfFloats.roundTo(dtype, (float) random.nextGaussian());
            }
            cuMemAlloc(device, (long) host.length * dtype.byteSize());
            allocations.add(device);
            upload();
        }

        Matrix(DType dtype, int rows, int cols, int ld) {
            this(dtype, rows, cols, ld, 1, 0);
        }

        float get(int batch, int row, int col) {
            return host[(int) (batch * stride + row + (long) col * ld)];
        }

        void upload() {
            cuMemcpyHtoD(device, hostPointer(), (long) host.length * dtype.byteSize());
        }

        private Pointer hostPointer() {
            return switch (dtype) {
                case F32 -> Pointer.to(host);
                case F16, BF16 -> {
                    short[] bits = new short[host.length];
                    for (int i = 0; i < host.length; i++) {
                        bits[i] = dtype == DType.F16 ? HalfFloats.floatToF16(host[i]) : HalfFloats.floatToBf16(host[i]);
                    }
                    yield Pointer.to(bits);
                }
                default -> throw new AssertionError("not an element type: " + dtype);
            };
        }

        float[] download() {
            float[] out = new float[host.length];
            if (dtype == DType.F32) {
                cuMemcpyDtoH(Pointer.to(out), device, (long) out.length * 4);
                return out;
            }
            short[] bits = new short[host.length];
            cuMemcpyDtoH(Pointer.to(bits), device, (long) bits.length * 2);
            for (int i = 0; i < bits.length; i++) {
                out[i] = dtype == DType.F16 ? HalfFloats.f16ToFloat(bits[i]) : HalfFloats.bf16ToFloat(bits[i]);
            }
            return out;
        }
    }

    private static int cudaType(DType dtype) {
        return switch (dtype) {
            case F32 -> CUDA_R_32F;
            case F16 -> CUDA_R_16F;
            case BF16 -> CUDA_R_16BF;
            default -> throw new AssertionError("not an element type: " + dtype);
        };
    }

    private static float opElement(Matrix a, int batch, int op, int row, int col) {
        return op == CUBLAS_OP_N ? a.get(batch, row, col) : a.get(batch, col, row);
    }

    /**
     * Checks C after a GEMM against the reference computed from A, B and C's values before the call;
     * inputRounding rounds A and B's elements as the compute mode does (identity for plain fp32 compute).
     */
    private static void assertGemm(int transa, int transb, float alpha, Matrix a, Matrix b, float beta,
            float[] cBefore, Matrix c, java.util.function.DoubleUnaryOperator inputRounding, double relTolerance) {
        float[] cAfter = c.download();
        double outputUlp = switch (c.dtype) {
            case F32 -> 0;
            case F16 -> 0x1p-11;
            case BF16 -> 0x1p-8;
            default -> throw new AssertionError("not an element type: " + c.dtype);
        };
        for (int batch = 0; batch < c.batches; batch++) {
            for (int j = 0; j < c.cols; j++) {
                for (int i = 0; i < c.ld; i++) {
                    int at = (int) (batch * c.stride + i + (long) j * c.ld);
                    if (i >= c.rows) {
                        assertEquals(cBefore[at], cAfter[at], 0.0f, "padding row " + i + " of column " + j + " changed");
                        continue;
                    }
                    double sum = 0;
                    double magnitude = 0;
                    for (int p = 0; p < K; p++) {
                        double x = inputRounding.applyAsDouble(opElement(a, batch, transa, i, p));
                        double y = inputRounding.applyAsDouble(opElement(b, batch, transb, p, j));
                        sum += x * y;
                        magnitude += Math.abs(alpha * x * y);
                    }
                    double expected = alpha * sum;
                    if (beta != 0) {
                        expected += beta * cBefore[at];
                        magnitude += Math.abs(beta * cBefore[at]);
                    }
                    double tolerance = relTolerance * magnitude + outputUlp * Math.abs(expected) + 1e-30;
                    double got = cAfter[at];
                    assertTrue(Math.abs(got - expected) <= tolerance, String.format(
                            "C[%d](%d,%d) = %s, expected %s (tolerance %s)", batch, i, j, got, expected, tolerance));
                }
            }
        }
    }

    private static final java.util.function.DoubleUnaryOperator EXACT = x -> x;

    static Stream<Arguments> inputTypesAndTransposes() {
        List<Arguments> cases = new ArrayList<>();
        for (DType dtype : DType.elementTypes()) {
            for (int transa : new int[] {CUBLAS_OP_N, CUBLAS_OP_T}) {
                for (int transb : new int[] {CUBLAS_OP_N, CUBLAS_OP_T}) {
                    cases.add(Arguments.of(dtype, transa, transb));
                }
            }
        }
        return cases.stream();
    }

    @ParameterizedTest(name = "{0} inputs, transa {1}, transb {2}")
    @MethodSource("inputTypesAndTransposes")
    void gemmExWithFloatOutput(DType inputType, int transa, int transb) {
        Matrix a = transa == CUBLAS_OP_N ? new Matrix(inputType, M, K, M + 3) : new Matrix(inputType, K, M, K + 3);
        Matrix b = transb == CUBLAS_OP_N ? new Matrix(inputType, K, N, K + 5) : new Matrix(inputType, N, K, N + 5);
        Matrix c = new Matrix(DType.F32, M, N, M + 2);
        float[] cBefore = c.host.clone();
        float alpha = 0.75f;
        float beta = -0.5f;
        cublasGemmEx_new(handle, transa, transb, M, N, K, Pointer.to(new float[] {alpha}), a.device, cudaType(inputType),
                a.ld, b.device, cudaType(inputType), b.ld, Pointer.to(new float[] {beta}), c.device, CUDA_R_32F, c.ld,
                CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
        assertGemm(transa, transb, alpha, a, b, beta, cBefore, c, EXACT, 1e-5);
    }

    @ParameterizedTest(name = "{0} in and out")
    @MethodSource("halfTypes")
    void gemmExWithHalfOutput(DType dtype) {
        Matrix a = new Matrix(dtype, K, M, K + 1); // op T
        Matrix b = new Matrix(dtype, K, N, K + 2); // op N
        Matrix c = new Matrix(dtype, M, N, M + 4);
        float[] cBefore = c.host.clone();
        cublasGemmEx_new(handle, CUBLAS_OP_T, CUBLAS_OP_N, M, N, K, Pointer.to(new float[] {1.5f}), a.device,
                cudaType(dtype), a.ld, b.device, cudaType(dtype), b.ld, Pointer.to(new float[] {0.25f}), c.device,
                cudaType(dtype), c.ld, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
        assertGemm(CUBLAS_OP_T, CUBLAS_OP_N, 1.5f, a, b, 0.25f, cBefore, c, EXACT, 1e-5);
    }

    static Stream<DType> halfTypes() {
        return Stream.of(DType.F16, DType.BF16);
    }

    @Test
    void betaZeroDoesNotReadC() {
        Matrix a = new Matrix(DType.F16, M, K, M);
        Matrix b = new Matrix(DType.F16, K, N, K);
        Matrix c = new Matrix(DType.F32, M, N, M);
        Arrays.fill(c.host, Float.NaN); // 0 * NaN would be NaN: C must not be read at all
        c.upload();
        float[] cBefore = c.host.clone();
        cublasGemmEx_new(handle, CUBLAS_OP_N, CUBLAS_OP_N, M, N, K, Pointer.to(new float[] {2f}), a.device, CUDA_R_16F,
                a.ld, b.device, CUDA_R_16F, b.ld, Pointer.to(new float[] {0f}), c.device, CUDA_R_32F, c.ld,
                CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
        assertGemm(CUBLAS_OP_N, CUBLAS_OP_N, 2f, a, b, 0f, cBefore, c, EXACT, 1e-5);
    }

    @Test
    void stridedBatchedGemmExOverThreeBatches() {
        int batches = 3;
        // Strides longer than a matrix: the gaps between batches must stay untouched in C.
        Matrix a = new Matrix(DType.BF16, M, K, M + 1, batches, (long) (M + 1) * K + 7);
        Matrix b = new Matrix(DType.BF16, N, K, N, batches, (long) N * K + 3); // op T
        Matrix c = new Matrix(DType.F32, M, N, M + 3, batches, (long) (M + 3) * N + 5);
        float[] cBefore = c.host.clone();
        cublasGemmStridedBatchedEx_new(handle, CUBLAS_OP_N, CUBLAS_OP_T, M, N, K, Pointer.to(new float[] {-1.25f}),
                a.device, CUDA_R_16BF, a.ld, a.stride, b.device, CUDA_R_16BF, b.ld, b.stride,
                Pointer.to(new float[] {0.5f}), c.device, CUDA_R_32F, c.ld, c.stride, batches, CUBLAS_COMPUTE_32F,
                CUBLAS_GEMM_DEFAULT);
        assertGemm(CUBLAS_OP_N, CUBLAS_OP_T, -1.25f, a, b, 0.5f, cBefore, c, EXACT, 1e-5);
        float[] cAfter = c.download();
        for (int batch = 0; batch < batches - 1; batch++) {
            for (long gap = (long) batch * c.stride + (long) c.ld * c.cols; gap < (batch + 1) * c.stride; gap++) {
                assertEquals(cBefore[(int) gap], cAfter[(int) gap], 0.0f, "gap element " + gap + " changed");
            }
        }
    }

    @Test
    void sgemm() {
        Matrix a = new Matrix(DType.F32, M, K, M + 2);
        Matrix b = new Matrix(DType.F32, N, K, N + 1); // op T
        Matrix c = new Matrix(DType.F32, M, N, M);
        float[] cBefore = c.host.clone();
        cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_T, M, N, K, Pointer.to(new float[] {1.25f}), a.device, a.ld,
                b.device, b.ld, Pointer.to(new float[] {0.5f}), c.device, c.ld);
        assertGemm(CUBLAS_OP_N, CUBLAS_OP_T, 1.25f, a, b, 0.5f, cBefore, c, EXACT, 1e-5);
    }

    @Test
    void sgemmStridedBatched() {
        int batches = 3;
        Matrix a = new Matrix(DType.F32, K, M, K, batches, (long) K * M + 1); // op T
        Matrix b = new Matrix(DType.F32, K, N, K + 2, batches, (long) (K + 2) * N);
        Matrix c = new Matrix(DType.F32, M, N, M + 1, batches, (long) (M + 1) * N + 2);
        float[] cBefore = c.host.clone();
        cublasSgemmStridedBatched(handle, CUBLAS_OP_T, CUBLAS_OP_N, M, N, K, Pointer.to(new float[] {0.5f}),
                a.device, a.ld, a.stride, b.device, b.ld, b.stride, Pointer.to(new float[] {-2f}), c.device, c.ld,
                c.stride, batches);
        assertGemm(CUBLAS_OP_T, CUBLAS_OP_N, 0.5f, a, b, -2f, cBefore, c, EXACT, 1e-5);
    }

    @Test
    void scalarsFromDeviceMemoryInDevicePointerMode() {
        Matrix a = new Matrix(DType.F32, M, K, M);
        Matrix b = new Matrix(DType.F32, K, N, K);
        Matrix c = new Matrix(DType.F32, M, N, M);
        float[] cBefore = c.host.clone();
        CUdeviceptr scalars = new CUdeviceptr();
        cuMemAlloc(scalars, 8);
        allocations.add(scalars);
        cuMemcpyHtoD(scalars, Pointer.to(new float[] {3f, -1f}), 8);
        cublasSetPointerMode(handle, CUBLAS_POINTER_MODE_DEVICE);
        try {
            cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, M, N, K, scalars, a.device, a.ld, b.device, b.ld,
                    scalars.withByteOffset(4), c.device, c.ld);
        } finally {
            cublasSetPointerMode(handle, CUBLAS_POINTER_MODE_HOST);
        }
        assertGemm(CUBLAS_OP_N, CUBLAS_OP_N, 3f, a, b, -1f, cBefore, c, EXACT, 1e-5);
    }

    @Test
    void fastTf32RoundsTheInputsToTf32() {
        Matrix a = new Matrix(DType.F32, M, K, M);
        Matrix b = new Matrix(DType.F32, K, N, K);
        Matrix c = new Matrix(DType.F32, M, N, M);
        float[] cBefore = c.host.clone();
        cublasGemmEx_new(handle, CUBLAS_OP_N, CUBLAS_OP_N, M, N, K, Pointer.to(new float[] {1f}), a.device, CUDA_R_32F,
                a.ld, b.device, CUDA_R_32F, b.ld, Pointer.to(new float[] {0f}), c.device, CUDA_R_32F, c.ld,
                CUBLAS_COMPUTE_32F_FAST_TF32, CUBLAS_GEMM_DEFAULT);
        if (EmulatedCuda.onRealGpu()) {
            // The hardware's fp32 -> tf32 conversion is not specified to the bit: accept TF32 precision.
            assertGemm(CUBLAS_OP_N, CUBLAS_OP_N, 1f, a, b, 0f, cBefore, c, EXACT, 0x1p-10);
        } else {
            // The emulator rounds to nearest (ties away) to 10 mantissa bits; a 1e-5 tolerance could not accept the
            // unrounded result, whose difference is about 2^-11 of the magnitude.
            assertGemm(CUBLAS_OP_N, CUBLAS_OP_N, 1f, a, b, 0f, cBefore, c, EXACT_TF32, 1e-5);
        }
    }

    private static final java.util.function.DoubleUnaryOperator EXACT_TF32 = x -> {
        int bits = Float.floatToRawIntBits((float) x);
        return Float.intBitsToFloat((bits + 0x1000) & 0xffffe000);
    };

    @Test
    void settingsRoundTrip() {
        int[] version = new int[1];
        cublasGetVersion(handle, version);
        assertTrue(version[0] >= 120000, "cuBLAS version " + version[0]);
        cublasSetMathMode(handle, CUBLAS_TF32_TENSOR_OP_MATH);
        int[] mode = new int[1];
        cublasGetMathMode(handle, mode);
        assertEquals(CUBLAS_TF32_TENSOR_OP_MATH, mode[0]);
        cublasSetMathMode(handle, CUBLAS_DEFAULT_MATH);
        cublasGetMathMode(handle, mode);
        assertEquals(CUBLAS_DEFAULT_MATH, mode[0]);
        CUstream stream = new CUstream();
        jcuda.driver.JCudaDriver.cuStreamCreate(stream, 0);
        try {
            cublasSetStream(handle, new cudaStream_t(stream));
            sgemm(); // work issued on the stream is complete once the result is copied back
        } finally {
            cublasSetStream(handle, null);
            jcuda.driver.JCudaDriver.cuStreamDestroy(stream);
        }
    }

    @Test
    void jcublasGemmExTakesTheLegacyComputeType() {
        Matrix a = new Matrix(DType.F16, M, K, M);
        Matrix b = new Matrix(DType.F16, K, N, K);
        Matrix c = new Matrix(DType.F32, M, N, M);
        float[] cBefore = c.host.clone();
        Pointer one = Pointer.to(new float[] {1f});
        // A cublasComputeType given to the legacy entry point: JCublas2 returns NOT_SUPPORTED, no exception, C kept.
        int status = cublasGemmEx(handle, CUBLAS_OP_N, CUBLAS_OP_N, M, N, K, one, a.device, CUDA_R_16F, a.ld,
                b.device, CUDA_R_16F, b.ld, one, c.device, CUDA_R_32F, c.ld, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
        assertEquals(jcuda.jcublas.cublasStatus.CUBLAS_STATUS_NOT_SUPPORTED, status);
        assertTrue(Arrays.equals(cBefore, c.download()), "C changed");
        // The legacy compute type CUDA_R_32F is migrated to CUBLAS_COMPUTE_32F and works.
        cublasGemmEx(handle, CUBLAS_OP_N, CUBLAS_OP_N, M, N, K, one, a.device, CUDA_R_16F, a.ld, b.device, CUDA_R_16F,
                b.ld, one, c.device, CUDA_R_32F, c.ld, CUDA_R_32F, CUBLAS_GEMM_DEFAULT);
        assertGemm(CUBLAS_OP_N, CUBLAS_OP_N, 1f, a, b, 1f, cBefore, c, EXACT, 1e-5);
    }

    @Test
    void invalidArgumentsAreInvalidValue() {
        Matrix a = new Matrix(DType.F32, M, K, M);
        Matrix b = new Matrix(DType.F32, K, N, K);
        Matrix c = new Matrix(DType.F32, M, N, M);
        Pointer one = Pointer.to(new float[] {1f});
        assertCudaError("CUBLAS_STATUS_INVALID_VALUE", () -> cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, -1, N, K,
                one, a.device, M, b.device, K, one, c.device, M));
        assertCudaError("CUBLAS_STATUS_INVALID_VALUE", () -> cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, M, N, K,
                one, a.device, M - 1, b.device, K, one, c.device, M)); // lda < m for op N
        assertCudaError("CUBLAS_STATUS_INVALID_VALUE", () -> cublasSgemm(handle, CUBLAS_OP_T, CUBLAS_OP_N, M, N, K,
                one, a.device, K - 1, b.device, K, one, c.device, M)); // lda < k for op T
        assertCudaError("CUBLAS_STATUS_INVALID_VALUE", () -> cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_T, M, N, K,
                one, a.device, M, b.device, N - 1, one, c.device, M)); // ldb < n for op T
        assertCudaError("CUBLAS_STATUS_INVALID_VALUE", () -> cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, M, N, K,
                one, a.device, M, b.device, K, one, c.device, M - 1)); // ldc < m
        assertCudaError("CUBLAS_STATUS_NOT_SUPPORTED", () -> cublasGemmEx_new(handle, CUBLAS_OP_N, CUBLAS_OP_N, M, N, K,
                one, a.device, CUDA_R_16F, M, b.device, CUDA_R_16BF, K, one, c.device, CUDA_R_32F, M,
                CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT)); // A and B of different types
    }

    @Test
    void matrixOutsideItsAllocationFailsTheCall() {
        assumeFalse(EmulatedCuda.onRealGpu(), "a real GPU reads out of bounds instead of checking");
        Matrix a = new Matrix(DType.F32, M, K, M);
        Matrix b = new Matrix(DType.F32, K, N, K);
        Matrix c = new Matrix(DType.F32, M, N - 1, M); // one column short
        Pointer one = Pointer.to(new float[] {1f});
        assertCudaError("CUBLAS_STATUS_EXECUTION_FAILED", () -> cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, M, N, K,
                one, a.device, M, b.device, K, one, c.device, M));
    }
}
