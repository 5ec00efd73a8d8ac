package io.attnrt.emu;

import static io.attnrt.emu.SelfTestKernels.dims;
import static io.attnrt.emu.SelfTestKernels.floats;
import static io.attnrt.emu.SelfTestKernels.launch;
import static io.attnrt.emu.SelfTestKernels.randomFloats;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.attnrt.tensor.HalfFloats;
import java.util.Random;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * cuda/selftest/selftest_mma.cu: one warp computes D (16x8 fp32) = A (16x16) * B (16x8) with mma.m16n8k16 after
 * loading the fragments with every ldmatrix form (.x1/.x2/.x4, with and without .trans). A fragment-layout mistake
 * anywhere moves results by O(1); the tolerance only covers fp32 accumulation.
 */
@EmulatedDevice
class SelfTestMmaTest {
    /** 16 exact products of magnitude below 1 (plus C below 1) summed in fp32: error well below 1e-4. */
    private static final double TOLERANCE = 1e-4;

    private static EmulatedCuda cuda;
    private static CUmodule module;

    @BeforeAll
    static void open() {
        cuda = EmulatedCuda.open();
        module = cuda.loadPtx("ptx-selftest/selftest_mma.ptx");
    }

    @AfterAll
    static void close() {
        if (cuda != null) {
            cuda.close();
        }
    }

    @Test
    void f16WithLdmatrixX4AndX2Trans() {
        Random random = new Random(71);
        for (int rep = 0; rep < 3; rep++) {
            short[] a = halves(random, 16 * 16, false);
            short[] b = halves(random, 16 * 8, false);
            assertMma("selftest_mma_f16", a, b, reference(a, b, null, false), null);
        }
    }

    @Test
    void bf16WithLdmatrixX4AndX2Trans() {
        Random random = new Random(73);
        for (int rep = 0; rep < 3; rep++) {
            short[] a = halves(random, 16 * 16, true);
            short[] b = halves(random, 16 * 8, true);
            assertMma("selftest_mma_bf16", a, b, reference(a, b, null, true), null);
        }
    }

    @Test
    void f16WithBGivenNMajorAndLdmatrixX2() {
        Random random = new Random(79);
        short[] a = halves(random, 16 * 16, false);
        short[] b = halves(random, 16 * 8, false);
        assertMma("selftest_mma_f16_bt", a, transpose(b, 16, 8), reference(a, b, null, false), null);
    }

    @Test
    void f16WithLdmatrixX1AndX1Trans() {
        Random random = new Random(83);
        short[] a = halves(random, 16 * 16, false);
        short[] b = halves(random, 16 * 8, false);
        assertMma("selftest_mma_f16_x1", a, b, reference(a, b, null, false), null);
    }

    @Test
    void f16WithATransposedLdmatrixX4TransAndAccumulator() {
        Random random = new Random(89);
        short[] a = halves(random, 16 * 16, false);
        short[] b = halves(random, 16 * 8, false);
        float[] c = randomFloats(random, 16 * 8);
        assertMma("selftest_mma_f16_at", transpose(a, 16, 16), b, reference(a, b, c, false), c);
    }

    private static void assertMma(String kernel, short[] first, short[] second, double[] expected, float[] dIn) {
        CUfunction f = cuda.function(module, kernel);
        try (SelfTestKernels mem = new SelfTestKernels()) {
            CUdeviceptr d = dIn != null ? mem.upload(dIn) : mem.filled(16 * 8, -9f);
            launch(f, dims(1), dims(32), 0, mem.upload(first), mem.upload(second), d);
            float[] got = floats(d, 16 * 8);
            for (int i = 0; i < 16 * 8; i++) {
                assertEquals(expected[i], got[i], TOLERANCE, kernel + ": D[" + i / 8 + "][" + i % 8 + "]");
            }
        }
    }

    /** D = A B (+ C) from the rounded 16-bit inputs, in double. */
    private static double[] reference(short[] a, short[] b, float[] c, boolean bf16) {
        double[] d = new double[16 * 8];
        for (int m = 0; m < 16; m++) {
            for (int n = 0; n < 8; n++) {
                double acc = c == null ? 0 : c[m * 8 + n];
                for (int k = 0; k < 16; k++) {
                    acc += (double) toFloat(a[m * 16 + k], bf16) * toFloat(b[k * 8 + n], bf16);
                }
                d[m * 8 + n] = acc;
            }
        }
        return d;
    }

    private static short[] halves(Random random, int n, boolean bf16) {
        float[] f = randomFloats(random, n);
        short[] h = new short[n];
        for (int i = 0; i < n; i++) {
            h[i] = bf16 ? HalfFloats.floatToBf16(f[i]) : HalfFloats.floatToF16(f[i]);
        }
        return h;
    }

    private static float toFloat(short bits, boolean bf16) {
        return bf16 ? HalfFloats.bf16ToFloat(bits) : HalfFloats.f16ToFloat(bits);
    }

    private static short[] transpose(short[] m, int rows, int cols) {
        short[] t = new short[m.length];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                t[c * rows + r] = m[r * cols + c];
            }
        }
        return t;
    }
}
