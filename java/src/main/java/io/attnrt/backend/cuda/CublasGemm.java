package io.attnrt.backend.cuda;

import static jcuda.jcublas.JCublas2.cublasCreate;
import static jcuda.jcublas.JCublas2.cublasDestroy;
import static jcuda.jcublas.JCublas2.cublasGemmEx_new;
import static jcuda.jcublas.cublasComputeType.CUBLAS_COMPUTE_32F;
import static jcuda.jcublas.cublasGemmAlgo.CUBLAS_GEMM_DEFAULT;
import static jcuda.jcublas.cublasOperation.CUBLAS_OP_N;
import static jcuda.jcublas.cublasOperation.CUBLAS_OP_T;

import io.attnrt.tensor.DType;
import jcuda.Pointer;
import jcuda.cudaDataType;
import jcuda.driver.CUdeviceptr;
import jcuda.jcublas.JCublas2;
import jcuda.jcublas.cublasHandle;
import jcuda.jcublas.cublasStatus;

/**
 * {@code out[N, OUT] (+)= x[N, IN] · W[OUT, IN]ᵀ} through {@code cublasGemmEx} on tensor cores (16-bit
 * inputs, F32 accumulation). cuBLAS is column-major: the row-major W is a column-major [IN, OUT] matrix,
 * so out viewed column-major [OUT, N] = op_T(W) · x with lda = IN, ldb = xStride, ldc = outStride.
 * Uses {@code cublasGemmEx_new}: JCublas2's {@code cublasGemmEx} takes the pre-CUDA-11 compute type and
 * silently returns NOT_SUPPORTED for {@code CUBLAS_COMPUTE_32F}.
 */
final class CublasGemm implements AutoCloseable {
    private final cublasHandle handle;
    private static final Pointer ONE = Pointer.to(new float[] {1f});
    private static final Pointer ZERO = Pointer.to(new float[] {0f});

    private CublasGemm(cublasHandle handle) {
        this.handle = handle;
    }

    /** cuBLAS, or null with {@code why[0]} saying why it cannot be used here. */
    static CublasGemm tryCreate(String[] why) {
        try {
            JCublas2.setExceptionsEnabled(false);
            cublasHandle h = new cublasHandle();
            int status = cublasCreate(h);
            if (status != cublasStatus.CUBLAS_STATUS_SUCCESS) {
                why[0] = "cublasCreate failed: " + cublasStatus.stringFor(status);
                return null;
            }
            return new CublasGemm(h);
        } catch (UnsatisfiedLinkError | NoClassDefFoundError e) {
            why[0] = "libcublas.so.12 could not be loaded (" + firstLine(e.getMessage()) + ")";
            return null;
        }
    }

    void gemm(DType in, DType out, CUdeviceptr x, int xStride, CUdeviceptr w, CUdeviceptr result, int outStride,
              int n, int inFeatures, int outFeatures, boolean accumulate) {
        int status = cublasGemmEx_new(handle, CUBLAS_OP_T, CUBLAS_OP_N, outFeatures, n, inFeatures, ONE,
                w, type(in), inFeatures, x, type(in), xStride, accumulate ? ONE : ZERO, result, type(out), outStride,
                CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
        if (status != cublasStatus.CUBLAS_STATUS_SUCCESS) {
            throw new CudaKernelException("cublasGemmEx " + in + "->" + out + " m=" + outFeatures + " n=" + n + " k="
                    + inFeatures + " failed with " + cublasStatus.stringFor(status));
        }
    }

    private static int type(DType t) {
        return switch (t) {
            case F32 -> cudaDataType.CUDA_R_32F;
            case F16 -> cudaDataType.CUDA_R_16F;
            case BF16 -> cudaDataType.CUDA_R_16BF;
            default -> throw new IllegalArgumentException("cuBLAS has no " + t + " GEMM");
        };
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "no detail";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    @Override
    public void close() {
        cublasDestroy(handle);
    }
}
