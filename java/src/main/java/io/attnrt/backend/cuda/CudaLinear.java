package io.attnrt.backend.cuda;

import static io.attnrt.backend.cuda.CudaBackend.sfx;

import io.attnrt.tensor.DType;
import jcuda.driver.CUdeviceptr;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which kernel computes a projection {@code out (+)= x · Wᵀ}:
 * <ul>
 *   <li>≤ {@link #GEMV_MAX_TOKENS} tokens (decode): {@code gemv_A_W_O}, which streams every weight once for
 *       all tokens — the path that decides decode speed;</li>
 *   <li>more tokens, W in the activation dtype: cuBLAS GemmEx on tensor cores, or the project's own
 *       {@code gemm_A_O} (mma.sync) when cuBLAS is unavailable or {@code -Dattnrt.cuda.gemm=own};</li>
 *   <li>block-quantized W: slices of at most {@link #DEQUANT_SLICE_BYTES} decoded into the activation dtype
 *       ({@code dequant_rows_Q_A}), each fed to that GEMM for its columns of out;</li>
 *   <li>F32 weights (kept with {@code -Dattnrt.cuda.weights=keep}): {@code gemm_simt_A_f32_O};
 *       16-bit weights of the other 16-bit type are widened to F32 in a workspace first (exact).</li>
 * </ul>
 */
final class CudaLinear implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(CudaLinear.class);
    static final int GEMV_MAX_TOKENS = 8;
    /** Output rows of one gemv CTA (cuda/gemv.cu). */
    static final int GEMV_ROWS_PER_CTA = 32;
    /** Dynamic shared memory of gemm_A_O: 4 stages x (128 + 128) rows x 32 k x 2 bytes (cuda/gemm.cu). */
    static final int GEMM_SMEM = 4 * 256 * 32 * 2;
    /**
     * Workspace of a quantized weight decoded for a prefill GEMM: 64 MiB is 8192 rows of 4096 BF16 inputs,
     * so a large projection takes a few GEMMs of thousands of columns each (still full tensor-core tiles),
     * and the device never holds a decoded copy of a whole large matrix.
     */
    static final long DEQUANT_SLICE_BYTES = 64L << 20;

    private final CudaBackend be;
    private final CublasGemm cublas;
    private final String path;
    private final Workspace widened = new Workspace();
    private final Workspace partials = new Workspace();
    private final Workspace decoded = new Workspace();
    private long sliceBytes = DEQUANT_SLICE_BYTES;

    CudaLinear(CudaBackend be, String mode) {
        this.be = be;
        String[] why = {null};
        switch (mode) {
            case "own" -> {
                cublas = null;
                path = "own mma.sync GEMM (forced by attnrt.cuda.gemm=own)";
            }
            case "cublas", "auto" -> {
                cublas = CublasGemm.tryCreate(why);
                if (cublas == null && mode.equals("cublas")) {
                    throw new CudaKernelException("attnrt.cuda.gemm=cublas but " + why[0]);
                }
                path = cublas != null ? "cuBLAS GemmEx" : "own mma.sync GEMM (" + why[0] + ")";
            }
            default -> throw new IllegalArgumentException("attnrt.cuda.gemm=" + mode + ": choose auto, cublas or own");
        }
        LOG.info("cuda projections of more than {} tokens: {}", GEMV_MAX_TOKENS, path);
    }

    String gemmPath() {
        return path;
    }

    void run(CudaTensor x, CudaTensor w, CudaTensor out, boolean accumulate) {
        int n = x.dim(0);
        int in = x.dim(1);
        int outFeatures = w.dim(0);
        if (n == 0 || outFeatures == 0) {
            return;
        }
        DType a = x.dtype();
        DType o = out.dtype();
        int acc = accumulate ? 1 : 0;
        if (n <= GEMV_MAX_TOKENS) {
            if (in % 8 != 0) {
                throw new IllegalArgumentException("linear: the cuda GEMV needs input features divisible by 8, got "
                        + in + " for weight " + w.describe());
            }
            // 32 output rows (8 warps x 4 rows) per CTA (see cuda/gemv.cu); split K when that is too few CTAs.
            int ctas = ceil(outFeatures, GEMV_ROWS_PER_CTA);
            int splits = gemvSplits(outFeatures, in, be.smCount());
            if (splits == 1) {
                be.launch("gemv_" + sfx(a) + "_" + sfx(w.dtype()) + "_" + sfx(o), ctas, 1, 1, 256, 0,
                        x.ptr, in, w.ptr, out.ptr, outFeatures, n, in, outFeatures, acc);
                return;
            }
            CUdeviceptr ws = partials.get(4L * splits * n * outFeatures);
            be.launch("gemv_splitk_" + sfx(a) + "_" + sfx(w.dtype()), ctas, splits, 1, 256, 0,
                    x.ptr, in, w.ptr, ws, n, in, outFeatures);
            be.launch("gemv_splitk_finish_" + sfx(o), Math.min(ceil((long) n * outFeatures, 256), 65535), 1, 1, 256,
                    0, ws, splits, out.ptr, outFeatures, n, outFeatures, acc);
            return;
        }
        if (w.dtype().isQuantized()) {
            // Rows are whole blocks (32 or 256 elements), so in % 8 == 0 and every slice start stays aligned.
            long rowBytes = 2L * in;
            int sliceRows = sliceRows(outFeatures, rowBytes, sliceBytes);
            CUdeviceptr slice = decoded.get(rowBytes * sliceRows);
            for (int j0 = 0; j0 < outFeatures; j0 += sliceRows) {
                int rows = Math.min(sliceRows, outFeatures - j0);
                be.launch("dequant_rows_" + sfx(w.dtype()) + "_" + sfx(a), rows, 1, 1, 128, 0,
                        w.ptr, outFeatures, in, Kernel.NULL, j0, rows, slice, in);
                gemm16(a, o, x.ptr, slice, out.ptr.withByteOffset((long) j0 * o.byteSize()), outFeatures, n, in, rows,
                        accumulate);
            }
            return;
        }
        if (w.dtype() == a && (cublas != null || in % 8 == 0)) {
            gemm16(a, o, x.ptr, w.ptr, out.ptr, outFeatures, n, in, outFeatures, accumulate);
            return;
        }
        // 16-bit rows that cp.async cannot copy in 16-byte chunks: the SIMT GEMM on a widened copy (exact).
        CUdeviceptr w32 = w.ptr;
        if (w.dtype() != DType.F32) {
            long elems = w.numel();
            w32 = widened.get(4 * elems);
            be.launch("convert_" + sfx(w.dtype()) + "_f32", (int) Math.min(ceil(elems, 1024), 1 << 20), 1, 1, 256, 0,
                    w.ptr, w32, elems);
        }
        be.launch("gemm_simt_" + sfx(a) + "_f32_" + sfx(o), ceil(outFeatures, 64), ceil(n, 64), 1, 256, 0,
                x.ptr, in, w32, out.ptr, outFeatures, n, in, outFeatures, acc);
    }

    /** Rows of one decoded slice: as many whole 128-row GEMM tiles as fit in {@code budget}, at least one. */
    static int sliceRows(int outFeatures, long rowBytes, long budget) {
        return (int) Math.min(outFeatures, Math.max(128, budget / rowBytes / 128 * 128));
    }

    /** Tests: decode quantized weights for prefill in slices of at most {@code bytes} (0 = the default). */
    void forceSliceBytes(long bytes) {
        sliceBytes = bytes > 0 ? bytes : DEQUANT_SLICE_BYTES;
    }

    /**
     * {@code out[0..n) × [0..outFeatures) (+)= x · wᵀ} with x and w both in the 16-bit dtype {@code a}, out's rows
     * {@code outStride} apart: cuBLAS, or the own GEMM (which needs {@code in % 8 == 0}: xStride = in, so that
     * also gives its xStride % 8 == 0 for 16-byte cp.async).
     */
    private void gemm16(DType a, DType o, CUdeviceptr x, CUdeviceptr w, CUdeviceptr out, int outStride, int n, int in,
                        int outFeatures, boolean accumulate) {
        if (cublas != null) {
            cublas.gemm(a, o, x, in, w, out, outStride, n, in, outFeatures, accumulate);
            return;
        }
        be.launch("gemm_" + sfx(a) + "_" + sfx(o), ceil(outFeatures, 128), ceil(n, 128), 1, 256, GEMM_SMEM,
                x, in, w, out, outStride, n, in, outFeatures, accumulate ? 1 : 0);
    }

    /**
     * Split-K factor of the decode GEMV: 1 (plain gemv) when ceil(OUT / 32) CTAs already give every SM two,
     * else enough splits for about two CTAs per SM, but none shorter than 256 input features. A function of
     * the shape and the SM count only, so results are reproducible run to run.
     */
    static int gemvSplits(int outFeatures, int in, int smCount) {
        int ctas = ceil(outFeatures, GEMV_ROWS_PER_CTA);
        if (ctas >= 2 * smCount) {
            return 1;
        }
        return Math.max(1, Math.min(ceil(2L * smCount, ctas), Math.max(1, in / 256)));
    }

    private static int ceil(long a, int b) {
        return (int) ((a + b - 1) / b);
    }

    @Override
    public void close() {
        widened.close();
        partials.close();
        decoded.close();
        if (cublas != null) {
            cublas.close();
        }
    }
}
