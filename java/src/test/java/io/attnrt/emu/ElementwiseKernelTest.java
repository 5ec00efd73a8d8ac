package io.attnrt.emu;

import static jcuda.driver.JCudaDriver.cuLaunchKernel;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import io.attnrt.tensor.DType;
import io.attnrt.tensor.HalfFloats;
import java.util.Arrays;
import java.util.Random;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * cuda/norm.cu, cuda/rope.cu and cuda/elementwise.cu against double references computed in the test from the
 * same rounded inputs the kernels read.
 *
 * <p>Tolerances: an output rounded to a 16-bit type may be off by half an ulp of the exact value (relative
 * 2^-9 for bf16, 2^-12 for f16, plus one more half-ulp when the fp32 value lies next to a rounding midpoint —
 * hence {@link Dev#halfUlp} uses 2^-8 / 2^-11), on top of the fp32 arithmetic's own error, stated per op.
 * Pure data movement (gather, convert, add of two values) is checked bit-exactly against the same roundings
 * done in Java.
 */
@EmulatedDevice
class ElementwiseKernelTest {
    private static final DType[] TYPES = {DType.F32, DType.F16, DType.BF16};
    private static EmulatedCuda cuda;
    private static CUmodule norm;
    private static CUmodule rope;
    private static CUmodule elementwise;

    @BeforeAll
    static void open() {
        cuda = EmulatedCuda.open();
        norm = cuda.loadPtx("ptx/norm.ptx");
        rope = cuda.loadPtx("ptx/rope.ptx");
        elementwise = cuda.loadPtx("ptx/elementwise.ptx");
    }

    @AfterAll
    static void close() {
        if (cuda != null) {
            cuda.close();
        }
    }

    // ------------------------------------------------------------------------------------------ norms

    @Test
    void rmsNormAndAddRmsNormForEveryActivationAndWeightDtype() {
        int seed = 0;
        for (DType a : TYPES) {
            for (DType w : TYPES) {
                // 3 x 100: odd tail, and 16-bit rows that start off 16 bytes (scalar path from row 1 on);
                // 17 x 64: the 8-element vector path.
                for (int[] shape : new int[][] {{3, 100}, {17, 64}}) {
                    checkRmsNorm(a, w, shape[0], shape[1], false, ++seed);
                    checkAddRmsNorm(a, w, shape[0], shape[1], ++seed);
                }
            }
        }
        checkRmsNorm(DType.BF16, DType.BF16, 1, 4096, false, 101);
        checkAddRmsNorm(DType.F16, DType.BF16, 1, 4096, 102);
        checkRmsNorm(DType.F32, DType.F32, 1, 100, true, 103);
        checkRmsNorm(DType.BF16, DType.F32, 17, 100, true, 104);
    }

    private static void checkRmsNorm(DType a, DType w, int rows, int cols, boolean inPlace, long seed) {
        Random random = new Random(seed);
        float eps = 1e-5f;
        float[] x = Dev.round(a, Dev.gaussian(random, rows * cols, 2f));
        float[] weight = Dev.round(w, Dev.gaussian(random, cols, 1f));
        try (Dev dev = new Dev()) {
            CUdeviceptr dx = dev.upload(a, x);
            CUdeviceptr dout = inPlace ? dx : dev.filled(a, rows * cols, -7f);
            Dev.launch(fn(norm, "rmsnorm", a, w), rows, 1, 256, dx, dev.upload(w, weight), dout, rows, cols, eps);
            float[] got = dev.download(a, dout, rows * cols);
            double[] expected = rmsNormReference(x, weight, rows, cols, eps);
            assertClose(expected, got, Dev.halfUlp(a), 2e-6, "rmsnorm_" + Dev.suffix(a, w) + " " + rows + "x" + cols
                    + (inPlace ? " in place" : ""));
        }
    }

    private static void checkAddRmsNorm(DType a, DType w, int rows, int cols, long seed) {
        Random random = new Random(seed);
        float eps = 1e-6f;
        float[] residual = Dev.round(a, Dev.gaussian(random, rows * cols, 1f));
        float[] delta = Dev.round(a, Dev.gaussian(random, rows * cols, 0.5f));
        float[] weight = Dev.round(w, Dev.gaussian(random, cols, 1f));
        float[] summed = new float[rows * cols];
        for (int i = 0; i < summed.length; i++) {
            summed[i] = HalfFloats.roundTo(a, residual[i] + delta[i]); // one fp32 add, one rounding: as the kernel
        }
        try (Dev dev = new Dev()) {
            CUdeviceptr dr = dev.upload(a, residual);
            CUdeviceptr dout = dev.filled(a, rows * cols, -7f);
            Dev.launch(fn(norm, "add_rmsnorm", a, w), rows, 1, 256, dr, dev.upload(a, delta), dev.upload(w, weight),
                    dout, rows, cols, eps);
            String what = "add_rmsnorm_" + Dev.suffix(a, w) + " " + rows + "x" + cols;
            float[] gotResidual = dev.download(a, dr, rows * cols);
            for (int i = 0; i < summed.length; i++) {
                assertEquals(summed[i], gotResidual[i], 0f, what + " residual " + i);
            }
            assertClose(rmsNormReference(summed, weight, rows, cols, eps), dev.download(a, dout, rows * cols),
                    Dev.halfUlp(a), 2e-6, what + " out");
        }
    }

    private static double[] rmsNormReference(float[] x, float[] w, int rows, int cols, float eps) {
        double[] out = new double[rows * cols];
        for (int r = 0; r < rows; r++) {
            double ss = 0;
            for (int c = 0; c < cols; c++) {
                ss += (double) x[r * cols + c] * x[r * cols + c];
            }
            double inv = 1.0 / Math.sqrt(ss / cols + eps);
            for (int c = 0; c < cols; c++) {
                out[r * cols + c] = x[r * cols + c] * inv * w[c];
            }
        }
        return out;
    }

    // ------------------------------------------------------------------------------------------ rope

    @Test
    void ropeRotatesQAndKInPlaceInBothStylesUpToPosition100000() {
        int seed = 200;
        for (DType a : TYPES) {
            for (boolean interleaved : new boolean[] {false, true}) {
                checkRope(a, interleaved, 1, 64, 4, 2, true, 10000.0, ++seed);
                checkRope(a, interleaved, 3, 64, 2, 1, true, 500000.0, ++seed);
                checkRope(a, interleaved, 17, 32, 3, 0, false, 10000.0, ++seed);
            }
        }
    }

    /**
     * q and k are slices of one fused [rows, (qHeads + 2 kvHeads) headDim] qkv buffer (stride = the whole row);
     * the v slice must come back untouched.
     */
    private static void checkRope(DType a, boolean interleaved, int rows, int headDim, int qHeads, int kHeads,
                                  boolean withK, double theta, long seed) {
        Random random = new Random(seed);
        int half = headDim / 2;
        int width = (qHeads + 2 * kHeads) * headDim;
        float[] x = Dev.round(a, Dev.gaussian(random, rows * width, 1f));
        int[] positions = new int[rows];
        for (int r = 0; r < rows; r++) {
            positions[r] = r == 0 ? 100_000 : r == 1 ? 0 : random.nextInt(100_001);
        }
        float[] invFreq = new float[half];
        for (int p = 0; p < half; p++) {
            invFreq[p] = (float) Math.pow(theta, -2.0 * p / headDim);
        }
        try (Dev dev = new Dev()) {
            CUdeviceptr base = dev.upload(a, x);
            CUdeviceptr k = withK ? base.withByteOffset((long) qHeads * headDim * a.byteSize()) : new CUdeviceptr();
            Dev.launch(fn(rope, "rope", a), rows, 1, 128, base, width, qHeads, k, width, kHeads,
                    dev.upload(positions), dev.upload(DType.F32, invFreq), rows, headDim, interleaved ? 1 : 0);
            float[] got = dev.download(a, base, rows * width);
            int rotatedHeads = qHeads + (withK ? kHeads : 0);
            String what = "rope_" + Dev.suffix(a) + (interleaved ? " interleaved" : " rotate-half") + " rows " + rows;
            for (int r = 0; r < rows; r++) {
                for (int h = 0; h < qHeads + 2 * kHeads; h++) {
                    int head = r * width + h * headDim;
                    if (h >= rotatedHeads) {
                        for (int d = 0; d < headDim; d++) {
                            assertEquals(x[head + d], got[head + d], 0f, what + ": element outside q/k changed");
                        }
                        continue;
                    }
                    for (int p = 0; p < half; p++) {
                        // The exact angle, as ReferenceBackend has it; the kernel's is fp32 (invFreq and the
                        // product each rounded: 2 * pos * 2^-24) plus sincosf's ulp: within 2e-6 + pos * 2^-21.
                        double angle = positions[r] * Math.pow(theta, -2.0 * p / headDim);
                        int ia = head + (interleaved ? 2 * p : p);
                        int ib = head + (interleaved ? 2 * p + 1 : p + half);
                        double xa = x[ia];
                        double xb = x[ib];
                        double ea = xa * Math.cos(angle) - xb * Math.sin(angle);
                        double eb = xa * Math.sin(angle) + xb * Math.cos(angle);
                        double angleTol = (2e-6 + positions[r] * 0x1p-21) * (Math.abs(xa) + Math.abs(xb));
                        checkOne(ea, got[ia], Dev.halfUlp(a), angleTol, what + " pos " + positions[r] + " pair " + p);
                        checkOne(eb, got[ib], Dev.halfUlp(a), angleTol, what + " pos " + positions[r] + " pair " + p);
                    }
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------------ gather

    @Test
    void gatherRowsConvertsEveryTableDtypeToEveryActivationDtypeAndZeroesBadIds() {
        int seed = 300;
        for (DType w : TYPES) {
            for (DType a : TYPES) {
                for (int cols : new int[] {64, 100}) {
                    Random random = new Random(++seed);
                    int tableRows = 10;
                    float[] table = Dev.round(w, Dev.gaussian(random, tableRows * cols, 3f));
                    int[] ids = {3, -1, 9, 0, 10, 3, 7};
                    int outStride = cols + 8; // the gap after each row must keep its sentinel
                    try (Dev dev = new Dev()) {
                        CUdeviceptr out = dev.filled(a, ids.length * outStride, -7f);
                        Dev.launch(fn(elementwise, "gather_rows", w, a), ids.length, 1, 128, dev.upload(w, table),
                                tableRows, dev.upload(ids), ids.length, cols, out, outStride);
                        float[] got = dev.download(a, out, ids.length * outStride);
                        for (int i = 0; i < ids.length; i++) {
                            for (int c = 0; c < outStride; c++) {
                                boolean valid = ids[i] >= 0 && ids[i] < tableRows;
                                float expected = c >= cols ? HalfFloats.roundTo(a, -7f)
                                        : valid ? HalfFloats.roundTo(a, table[ids[i] * cols + c]) : 0f;
                                assertEquals(expected, got[i * outStride + c], 0f,
                                        "gather_rows_" + Dev.suffix(w, a) + " cols " + cols + " row " + i + " col " + c);
                            }
                        }
                    }
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------------ add, swiglu

    @Test
    void addIsExactIncludingAliasedAndMisalignedOperands() {
        int seed = 400;
        for (DType a : TYPES) {
            for (int n : new int[] {1, 100, 1003}) {
                for (int variant = 0; variant < 3; variant++) { // 0: separate out, 1: out = a, 2: one element off 16 B
                    Random random = new Random(++seed);
                    int offset = variant == 2 ? 1 : 0;
                    float[] x = Dev.round(a, Dev.gaussian(random, n + offset, 4f));
                    float[] y = Dev.round(a, Dev.gaussian(random, n + offset, 4f));
                    try (Dev dev = new Dev()) {
                        long skip = (long) offset * a.byteSize();
                        CUdeviceptr dx = dev.upload(a, x);
                        CUdeviceptr out = variant == 1 ? dx : dev.filled(a, n + offset, -7f);
                        int grid = Math.max(1, Math.min((n + 2047) / 2048, 65535));
                        Dev.launch(fn(elementwise, "add", a), grid, 1, 256, dx.withByteOffset(skip),
                                dev.upload(a, y).withByteOffset(skip), out.withByteOffset(skip), (long) n);
                        float[] got = dev.download(a, out, n + offset);
                        for (int i = offset; i < n + offset; i++) {
                            assertEquals(HalfFloats.roundTo(a, x[i] + y[i]), got[i], 0f,
                                    "add_" + Dev.suffix(a) + " n " + n + " variant " + variant + " element " + i);
                        }
                    }
                }
            }
        }
    }

    @Test
    void swigluOnFusedGateUpRowsAndOnSeparateBuffers() {
        int seed = 500;
        for (DType a : TYPES) {
            checkSwiglu(a, 3, 100, true, ++seed);
            checkSwiglu(a, 17, 64, false, ++seed);
            checkSwiglu(a, 1, 64, true, ++seed);
        }
    }

    private static void checkSwiglu(DType a, int rows, int f, boolean fused, long seed) {
        Random random = new Random(seed);
        int gateStride = fused ? 2 * f : f;
        int upStride = fused ? 2 * f : f + 4;
        int outStride = f + 8;
        float[] gate = Dev.round(a, Dev.gaussian(random, rows * gateStride, 3f));
        float[] up = fused ? gate : Dev.round(a, Dev.gaussian(random, rows * upStride, 2f));
        gate[0] = -200f; // exp overflows in silu: must give -0 * up, not NaN
        gate[1] = 90f;
        try (Dev dev = new Dev()) {
            CUdeviceptr dg = dev.upload(a, gate);
            CUdeviceptr du = fused ? dg.withByteOffset((long) f * a.byteSize()) : dev.upload(a, up);
            CUdeviceptr out = dev.filled(a, rows * outStride, -7f);
            Dev.launch(fn(elementwise, "swiglu", a), rows, 1, 256, dg, gateStride, du, upStride, out, outStride, rows, f);
            float[] got = dev.download(a, out, rows * outStride);
            int upBase = fused ? f : 0;
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < outStride; c++) {
                    String what = "swiglu_" + Dev.suffix(a) + (fused ? " fused" : " separate") + " row " + r + " col " + c;
                    if (c >= f) {
                        assertEquals(HalfFloats.roundTo(a, -7f), got[r * outStride + c], 0f, what + " (gap)");
                        continue;
                    }
                    double g = gate[r * gateStride + c];
                    double u = up[r * upStride + upBase + c];
                    // expf, the division and the product: a few fp32 ulps, 1e-6 relative.
                    checkOne(g / (1 + Math.exp(-g)) * u, got[r * outStride + c], Dev.halfUlp(a), 0, what);
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------------ convert

    @Test
    void convertsBetweenAllNinePairsExactly() {
        int seed = 600;
        for (DType s : TYPES) {
            for (DType d : TYPES) {
                for (int n : new int[] {1, 1003}) {
                    for (int offset : new int[] {0, 1}) {
                        Random random = new Random(++seed);
                        float[] in = Dev.round(s, Dev.gaussian(random, n + offset, 1000f));
                        in[offset] = HalfFloats.roundTo(s, 1e-6f); // subnormal in f16
                        try (Dev dev = new Dev()) {
                            CUdeviceptr out = dev.filled(d, n + offset, -7f);
                            int grid = Math.max(1, Math.min((n + 2047) / 2048, 65535));
                            Dev.launch(fn(elementwise, "convert", s, d), grid, 1, 256,
                                    dev.upload(s, in).withByteOffset((long) offset * s.byteSize()),
                                    out.withByteOffset((long) offset * d.byteSize()), (long) n);
                            float[] got = dev.download(d, out, n + offset);
                            for (int i = 0; i < n + offset; i++) {
                                float expected = i < offset ? HalfFloats.roundTo(d, -7f) : HalfFloats.roundTo(d, in[i]);
                                assertEquals(expected, got[i], 0f, "convert_" + Dev.suffix(s, d) + " n " + n
                                        + " offset " + offset + " element " + i);
                            }
                        }
                    }
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------------ helpers

    private static CUfunction fn(CUmodule module, String op, DType... types) {
        return cuda.function(module, op + "_" + Dev.suffix(types));
    }

    /** |got - expected| <= rel * |expected| + abs + a 16-bit subnormal's half step (f16 2^-25). */
    static void checkOne(double expected, float got, double rel, double abs, String what) {
        double tol = (rel + 1e-6) * Math.abs(expected) + abs + 0x1p-25;
        if (!(Math.abs(got - expected) <= tol)) {
            fail(what + ": expected " + expected + " got " + got + " (tolerance " + tol + ")");
        }
    }

    private static void assertClose(double[] expected, float[] got, double rel, double extraRel, String what) {
        for (int i = 0; i < expected.length; i++) {
            checkOne(expected[i], got[i], rel + extraRel, 0, what + " element " + i);
        }
    }

    /** Typed device buffers and launches with any scalar argument type. */
    static final class Dev implements AutoCloseable {
        private final SelfTestKernels mem = new SelfTestKernels();

        static String suffix(DType... types) {
            StringBuilder b = new StringBuilder();
            for (DType t : types) {
                b.append(b.length() == 0 ? "" : "_").append(t.name().toLowerCase());
            }
            return b.toString();
        }

        /** Half an ulp (relative), doubled for the midpoint case: see the class comment. */
        static double halfUlp(DType t) {
            return switch (t) {
                case F32 -> 0x1p-23;
                case F16 -> 0x1p-11;
                case BF16 -> 0x1p-8;
                default -> throw new AssertionError("not an element type: " + t);
            };
        }

        static float[] round(DType t, float[] v) {
            float[] r = new float[v.length];
            for (int i = 0; i < v.length; i++) {
                r[i] = HalfFloats.roundTo(t, v[i]);
            }
            return r;
        }

        /** Gaussian * scale, never exactly zero (an unwritten output must not pass). */
        static float[] gaussian(Random random, int n, float scale) {
            float[] v = new float[n];
            for (int i = 0; i < n; i++) {
                do {
                    v[i] = (float) random.nextGaussian() * scale;
                } while (v[i] == 0f);
            }
            return v;
        }

        CUdeviceptr upload(DType t, float[] v) {
            if (t == DType.F32) {
                return mem.upload(v);
            }
            short[] bits = new short[v.length];
            for (int i = 0; i < v.length; i++) {
                bits[i] = t == DType.F16 ? HalfFloats.floatToF16(v[i]) : HalfFloats.floatToBf16(v[i]);
            }
            return mem.upload(bits);
        }

        CUdeviceptr upload(int[] v) {
            return mem.upload(v);
        }

        CUdeviceptr upload(double[] v) {
            CUdeviceptr p = mem.alloc((long) v.length * Double.BYTES);
            cuMemcpyHtoD(p, Pointer.to(v), (long) v.length * Double.BYTES);
            return p;
        }

        CUdeviceptr alloc(long bytes) {
            return mem.alloc(bytes);
        }

        CUdeviceptr filled(DType t, int n, float value) {
            float[] v = new float[n];
            Arrays.fill(v, value);
            return upload(t, v);
        }

        float[] download(DType t, CUdeviceptr p, int n) {
            if (t == DType.F32) {
                return SelfTestKernels.floats(p, n);
            }
            short[] bits = new short[n];
            cuMemcpyDtoH(Pointer.to(bits), p, (long) n * 2);
            float[] v = new float[n];
            for (int i = 0; i < n; i++) {
                v[i] = t == DType.F16 ? HalfFloats.f16ToFloat(bits[i]) : HalfFloats.bf16ToFloat(bits[i]);
            }
            return v;
        }

        static int[] ints(CUdeviceptr p, int n) {
            return SelfTestKernels.ints(p, n);
        }

        /** cuLaunchKernel (grid x/y, 1-D block, no dynamic smem) with CUdeviceptr/Integer/Long/Float/Double args. */
        static void launch(CUfunction f, int gridX, int gridY, int block, Object... args) {
            SelfTestKernels.launch(f, gridX, gridY, 1, block, 1, 0, args);
        }

        @Override
        public void close() {
            mem.close();
        }
    }
}
