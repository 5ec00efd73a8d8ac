package io.attnrt.emu;


import io.attnrt.emu.ElementwiseKernelTest.Dev;
import io.attnrt.emu.GemvKernelTest.Buffers;
import io.attnrt.emu.GemvKernelTest.Problem;
import io.attnrt.tensor.DType;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * cuda/gemm.cu: the tensor-core GEMM (W in the activation dtype) and the fp32 SIMT GEMM (W kept in f32) against
 * the double reference of {@link GemvKernelTest.Problem}, with the same tolerance argument (fp32 accumulation of
 * exact products: (in + 2) · 2^-24 · Σ|x·w|, plus half an ulp of O) and the same sentinel checks around the
 * output box and NaN in x's stride gap.
 *
 * <p>Shapes: n = 9, 17, 130 (one partial M tile, two M tiles), outFeatures = 100, 257 (not a multiple of the
 * 128 / 64 tiles, and 3 N tiles), in = 8 (one K step, fewer than the pipeline's 3 prefetched), 136 (a K step
 * with a single 8-wide chunk), 1000 (32 K steps: the 4-stage ring wraps 8 times).
 */
@EmulatedDevice
class GemmKernelTest {
    private static final DType[] ACTS = {DType.F16, DType.BF16};
    private static final DType[] TYPES = {DType.F32, DType.F16, DType.BF16};
    /** gemm_A_O's dynamic shared memory, as cuda/gemm.cu's LAUNCH line states. */
    private static final int GEMM_SMEM = 65536;
    private static EmulatedCuda cuda;
    private static CUmodule gemm;

    @BeforeAll
    static void open() {
        cuda = EmulatedCuda.open();
        gemm = cuda.loadPtx("ptx/gemm.ptx");
    }

    @AfterAll
    static void close() {
        if (cuda != null) {
            cuda.close();
        }
    }

    @Test
    void tensorCoreGemmForEveryActivationAndOutputDtype() {
        // n, in, out, xStride extra, outStride extra, accumulate
        int[][] shapes = {
            {130, 1000, 257, 8, 3, 0}, {9, 136, 100, 0, 0, 1}, {17, 8, 257, 16, 1, 0},
            {17, 1000, 100, 0, 2, 1}, {9, 8, 100, 8, 0, 1}, {130, 136, 100, 0, 5, 0}};
        int i = 0;
        for (DType a : ACTS) {
            for (DType o : TYPES) {
                int[] s = shapes[i];
                runGemm("gemm_" + Dev.suffix(a, o), a, a, o, s, 5000 + i, GEMM_SMEM, 128);
                i++;
            }
        }
    }

    @Test
    void simtGemmWithF32WeightsForEveryActivationAndOutputDtype() {
        int[][] shapes = {
            {9, 136, 257, 8, 3, 1}, {130, 200, 65, 0, 0, 0}, {17, 8, 100, 0, 1, 1},
            {17, 1000, 100, 16, 0, 0}, {9, 37, 64, 3, 2, 1}, {64, 64, 130, 0, 0, 0}};
        int i = 0;
        for (DType a : ACTS) {
            for (DType o : TYPES) {
                runGemm("gemm_simt_" + Dev.suffix(a, DType.F32, o), a, DType.F32, o, shapes[i], 6000 + i, 0, 64);
                i++;
            }
        }
    }

    private static void runGemm(String kernel, DType a, DType w, DType o, int[] s, long seed, int smem, int tile) {
        int n = s[0];
        int in = s[1];
        int out = s[2];
        int xStride = in + s[3];
        int outStride = out + s[4];
        boolean accumulate = s[5] == 1;
        Problem p = Problem.random(a, w, o, n, in, out, xStride, outStride, accumulate, seed);
        try (Dev dev = new Dev()) {
            Buffers b = p.upload(dev);
            launch(cuda.function(gemm, kernel), GemvKernelTest.ceil(out, tile), GemvKernelTest.ceil(n, tile), smem,
                    b.x(), xStride, b.w(), b.out(), outStride, n, in, out, accumulate ? 1 : 0);
            p.check(kernel, dev.download(o, b.out(), p.outElems()), 0);
        }
    }

    /** {@link Dev#launch} with dynamic shared memory (opted into above 48 KB, as the backend's Kernel does). */
    private static void launch(CUfunction f, int gridX, int gridY, int smem, Object... args) {
        SelfTestKernels.optIn(f, smem);
        SelfTestKernels.launch(f, gridX, gridY, 1, 256, 1, smem, args);
    }
}
