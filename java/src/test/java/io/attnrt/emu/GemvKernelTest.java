package io.attnrt.emu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import io.attnrt.emu.ElementwiseKernelTest.Dev;
import io.attnrt.tensor.DType;
import io.attnrt.tensor.HalfFloats;
import java.util.Arrays;
import java.util.Random;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUmodule;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * cuda/gemv.cu (decode projections, n ≤ 8 tokens) and its split-K pair against a double reference computed from
 * the same rounded inputs the kernels read.
 *
 * <p>Tolerance ({@link #assertProjection}): the kernel sums {@code in} fp32 products (exact: 16-bit × 16-bit,
 * and f32 W times a 16-bit x has ≤ 35 significant bits, one rounding) in some order, then adds the old out
 * value and, split-K, up to {@code splits} partials; every addition rounds by at most 2^-24 relative, so the
 * error is at most (in + splits + 2) · 2^-24 · (Σ|x·w| + |old|). The output rounding adds half an ulp of O,
 * {@link Dev#halfUlp} (doubled for the midpoint case). Inputs are N(0, 1): Σ|x·w| ≈ 0.64 in, so for in = 1000
 * the fp32 term is ≈ 4e-5, far below a dropped or doubled product (≈ 0.8 on average).
 *
 * <p>Every element of out outside the n × outFeatures box (the gap of a wider row stride and one extra row)
 * holds a sentinel that must come back bit for bit; x's stride gap holds NaN, so reading it shows.
 */
@EmulatedDevice
class GemvKernelTest {
    private static final DType[] ACTS = {DType.F16, DType.BF16};
    private static final DType[] TYPES = {DType.F32, DType.F16, DType.BF16};
    static final float SENTINEL = -7f;
    private static EmulatedCuda cuda;
    private static CUmodule gemv;

    @BeforeAll
    static void open() {
        cuda = EmulatedCuda.open();
        gemv = cuda.loadPtx("ptx/gemv.ptx");
    }

    @AfterAll
    static void close() {
        if (cuda != null) {
            cuda.close();
        }
    }

    @Test
    void everyGemvVariantOverTokenCountsWidthsStridesAndAccumulate() {
        int[] tokens = {1, 2, 5, 8};
        int[][] inOut = {{8, 100}, {136, 257}, {1000, 33}, {136, 100}, {1000, 257}, {8, 257}};
        int i = 0;
        for (DType a : ACTS) {
            for (DType w : TYPES) {
                for (DType o : TYPES) {
                    int n = tokens[i % tokens.length];
                    int in = inOut[i % inOut.length][0];
                    int out = inOut[i % inOut.length][1];
                    boolean accumulate = i % 2 == 1;
                    int xStride = in + (i % 3 == 0 ? 0 : 8 * (1 + i % 2)); // 16-byte multiples only (kernel contract)
                    int outStride = out + (i % 3 == 1 ? 0 : 3);             // odd gaps too
                    Problem p = Problem.random(a, w, o, n, in, out, xStride, outStride, accumulate, 1000 + i);
                    try (Dev dev = new Dev()) {
                        Buffers b = p.upload(dev);
                        Dev.launch(cuda.function(gemv, "gemv_" + Dev.suffix(a, w, o)), ceil(out, 32), 1, 256,
                                b.x, xStride, b.w, b.out, outStride, n, in, out, accumulate ? 1 : 0);
                        p.check("gemv_" + Dev.suffix(a, w, o), dev.download(o, b.out, p.outElems()), 0);
                    }
                    i++;
                }
            }
        }
    }

    /** Split counts 1, 2, 3 and 7 (7 over in = 136: 17 chunks of 8, per split 3, the last split is empty). */
    @Test
    void splitKPartialsAndTheFinishKernelForEveryVariant() {
        int i = 0;
        int[][] shapes = { // n, in, out, splits
            {1, 1000, 257, 1}, {8, 136, 100, 7}, {5, 1000, 33, 3}, {8, 136, 100, 7}, {2, 136, 257, 2}, {5, 1000, 33, 3}};
        for (DType a : ACTS) {
            for (DType w : TYPES) {
                int[] s = shapes[i % shapes.length];
                DType o = TYPES[i % TYPES.length];
                boolean accumulate = i % 2 == 0;
                int n = s[0];
                int in = s[1];
                int out = s[2];
                int splits = s[3];
                int outStride = out + 5;
                Problem p = Problem.random(a, w, o, n, in, out, in + 8, outStride, accumulate, 2000 + i);
                try (Dev dev = new Dev()) {
                    Buffers b = p.upload(dev);
                    int wsElems = splits * n * out;
                    CUdeviceptr ws = dev.filled(DType.F32, wsElems, Float.NaN); // an unwritten partial shows
                    Dev.launch(cuda.function(gemv, "gemv_splitk_" + Dev.suffix(a, w)), ceil(out, 32), splits, 256,
                            b.x, in + 8, b.w, ws, n, in, out);
                    float[] partials = dev.download(DType.F32, ws, wsElems);
                    Dev.launch(cuda.function(gemv, "gemv_splitk_finish_" + Dev.suffix(o)),
                            Math.min(ceil((long) n * out, 256), 65535), 1, 256, ws, splits, b.out, outStride, n, out,
                            accumulate ? 1 : 0);
                    float[] got = dev.download(o, b.out, p.outElems());
                    String what = "gemv_splitk_" + Dev.suffix(a, w) + " + finish_" + Dev.suffix(o) + " splits " + splits;
                    p.check(what, got, splits);
                    assertFinishSumsInSplitOrder(what, p, partials, splits, got);
                }
                i++;
            }
        }
    }

    /**
     * A wide input over 12 splits: 500 chunks, 42 per split, so split boundaries fall inside a warp's 64-chunk
     * step (lanes past the boundary idle in the second step) and the last split is short (38 chunks).
     */
    @Test
    void splitKWithManySplitsOverAWideInput() {
        int n = 3;
        int in = 4000;
        int out = 40;
        int splits = 12;
        Problem p = Problem.random(DType.BF16, DType.BF16, DType.F32, n, in, out, in, out, false, 3000);
        try (Dev dev = new Dev()) {
            Buffers b = p.upload(dev);
            CUdeviceptr ws = dev.filled(DType.F32, splits * n * out, Float.NaN);
            Dev.launch(cuda.function(gemv, "gemv_splitk_bf16_bf16"), 2, splits, 256, b.x, in, b.w, ws, n, in, out);
            float[] partials = dev.download(DType.F32, ws, splits * n * out);
            Dev.launch(cuda.function(gemv, "gemv_splitk_finish_f32"), 1, 1, 256, ws, splits, b.out, out, n, out, 0);
            float[] got = dev.download(DType.F32, b.out, p.outElems());
            p.check("gemv_splitk_bf16_bf16 12 splits", got, splits);
            assertFinishSumsInSplitOrder("gemv_splitk_finish_f32 12 splits", p, partials, splits, got);
        }
    }

    /**
     * The finish kernel's sum is fixed: split 0 + split 1 + ... (+ old), in fp32, one rounding. Bit-exact, so a
     * different order shows wherever fp32 addition is not associative (the F32-output cases with 3+ splits).
     */
    private static void assertFinishSumsInSplitOrder(String what, Problem p, float[] partials, int splits, float[] got) {
        for (int t = 0; t < p.n(); t++) {
            for (int j = 0; j < p.out(); j++) {
                float sum = 0f;
                for (int k = 0; k < splits; k++) {
                    sum += partials[(k * p.n() + t) * p.out() + j];
                }
                if (p.accumulate()) {
                    sum += p.old()[t * p.outStride() + j];
                }
                assertEquals(HalfFloats.roundTo(p.o(), sum), got[t * p.outStride() + j], 0f,
                        what + ": finish does not sum the splits in order at token " + t + " col " + j);
            }
        }
    }

    static int ceil(long a, int b) {
        return (int) ((a + b - 1) / b);
    }

    record Buffers(CUdeviceptr x, CUdeviceptr w, CUdeviceptr out) {
    }

    /**
     * One projection: x [n, xStride] (gap NaN), w [out, in], old out [(n + 1), outStride] = random values in the
     * box when accumulating (the sentinel otherwise) and the sentinel everywhere else.
     */
    record Problem(DType a, DType wt, DType o, int n, int in, int out, int xStride, int outStride, boolean accumulate,
                   float[] x, float[] w, float[] old) {
        static Problem random(DType a, DType wt, DType o, int n, int in, int out, int xStride, int outStride,
                              boolean accumulate, long seed) {
            Random random = new Random(seed);
            float[] x = new float[n * xStride];
            Arrays.fill(x, Float.NaN);
            float[] xv = Dev.round(a, Dev.gaussian(random, n * in, 1f));
            for (int t = 0; t < n; t++) {
                System.arraycopy(xv, t * in, x, t * xStride, in);
            }
            float[] w = Dev.round(wt, Dev.gaussian(random, out * in, 1f));
            float[] old = new float[(n + 1) * outStride];
            Arrays.fill(old, HalfFloats.roundTo(o, SENTINEL));
            if (accumulate) {
                float[] r = Dev.round(o, Dev.gaussian(random, n * out, (float) Math.sqrt(in)));
                for (int t = 0; t < n; t++) {
                    System.arraycopy(r, t * out, old, t * outStride, out);
                }
            }
            return new Problem(a, wt, o, n, in, out, xStride, outStride, accumulate, x, w, old);
        }

        int outElems() {
            return old.length;
        }

        Buffers upload(Dev dev) {
            return new Buffers(dev.upload(a, x), dev.upload(wt, w), dev.upload(o, old));
        }

        /** got: the whole out buffer after the call; extraAdds: further fp32 additions (split partials). */
        void check(String what, float[] got, int extraAdds) {
            String shape = what + " n " + n + " in " + in + " out " + out + " xStride " + xStride + " outStride "
                    + outStride + (accumulate ? " accumulate" : "");
            for (int t = 0; t <= n; t++) {
                for (int j = 0; j < outStride; j++) {
                    int e = t * outStride + j;
                    if (t == n || j >= out) {
                        assertEquals(old[e], got[e], 0f, shape + ": element outside the output box changed at row "
                                + t + " col " + j);
                        continue;
                    }
                    double sum = 0;
                    double mag = 0;
                    for (int k = 0; k < in; k++) {
                        double prod = (double) x[t * xStride + k] * w[j * in + k];
                        sum += prod;
                        mag += Math.abs(prod);
                    }
                    if (accumulate) {
                        sum += old[e];
                        mag += Math.abs(old[e]);
                    }
                    double fp32 = (in + extraAdds + 2) * 0x1p-24 * mag;
                    double tol = fp32 + Dev.halfUlp(o) * (Math.abs(sum) + fp32);
                    if (!(Math.abs(got[e] - sum) <= tol)) {
                        fail(shape + ": token " + t + " col " + j + " expected " + sum + " got " + got[e]
                                + " (tolerance " + tol + ")");
                    }
                }
            }
        }
    }
}
