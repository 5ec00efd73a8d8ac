package io.attnrt.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.attnrt.tensor.HalfFloats;
import org.junit.jupiter.api.Test;

/** The SIMD kernels' hand-written pieces (16-bit widening, exp) against exact scalar definitions. */
class KernelsTest {
    private final Kernels simd = new SimdKernels();
    private final Kernels scalar = new ScalarKernels();

    @Test
    void everyHalfAndBfloatBitPatternWidensExactly() {
        short[] all = new short[1 << 16];
        for (int i = 0; i < all.length; i++) {
            all[i] = (short) i;
        }
        for (boolean bf16 : new boolean[] {false, true}) {
            for (Kernels k : new Kernels[] {simd, scalar}) {
                float[] out = new float[all.length + 3];
                // an odd offset and length exercise the scalar tail after the vector loop
                k.toFloat(all, 1, bf16, out, 2, all.length - 1);
                for (int i = 1; i < all.length; i++) {
                    float expected = bf16 ? HalfFloats.bf16ToFloat(all[i]) : HalfFloats.f16ToFloat(all[i]);
                    float actual = out[i + 1];
                    if (Float.isNaN(expected)) {
                        assertTrue(Float.isNaN(actual), k.describe() + " bits " + i + " must stay NaN");
                    } else {
                        assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(actual),
                                k.describe() + (bf16 ? " bf16" : " f16") + " bits 0x" + Integer.toHexString(i));
                    }
                }
            }
        }
    }

    @Test
    void theFiniteOnlyHalfWideningIsExactForEveryFiniteHalf() {
        int lanes = simd.lanes();
        short[] block = new short[lanes];
        float[] out = new float[lanes];
        int checked = 0;
        for (int start = 0; start < 1 << 16; start += lanes) {
            for (int i = 0; i < lanes; i++) {
                block[i] = (short) (start + i);
            }
            SimdKernels.loadF16Finite(block, 0).intoArray(out, 0);
            for (int i = 0; i < lanes; i++) {
                if ((block[i] & 0x7c00) == 0x7c00) {
                    continue; // Inf/NaN: excluded by contract (the backend scans weights first)
                }
                assertEquals(Float.floatToRawIntBits(HalfFloats.f16ToFloat(block[i])), Float.floatToRawIntBits(out[i]),
                        "half bits 0x" + Integer.toHexString(block[i] & 0xffff));
                checked++;
            }
        }
        assertEquals((1 << 16) - 2 * 1024, checked);
    }

    @Test
    void finiteHalvesFindsInfinityAndNaNAnywhere() {
        short[] a = new short[1000];
        for (int i = 0; i < a.length; i++) {
            a[i] = HalfFloats.floatToF16((i % 7 - 3) * 1000.5f);
        }
        for (Kernels k : new Kernels[] {simd, scalar}) {
            assertTrue(k.finiteHalves(a, 0, a.length), k.describe());
            for (int pos : new int[] {0, 15, 16, 517, 999}) {
                for (short special : new short[] {(short) 0x7c00, (short) 0xfc00, (short) 0x7e00, (short) 0xfd01}) {
                    short old = a[pos];
                    a[pos] = special;
                    assertTrue(!k.finiteHalves(a, 0, a.length), k.describe() + " special at " + pos);
                    assertTrue(k.finiteHalves(a, pos + 1, a.length), k.describe() + " range after " + pos);
                    a[pos] = old;
                }
            }
        }
    }

    @Test
    void firstAboveFindsTheFirstLargerOrNaNValueAtEveryPosition() {
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(5);
        float[] a = new float[300];
        for (int i = 0; i < a.length; i++) {
            a[i] = rnd.nextInt(4); // many values equal to the threshold: equal is not above
        }
        for (Kernels k : new Kernels[] {simd, scalar}) {
            for (int trial = 0; trial < 2000; trial++) {
                int from = rnd.nextInt(a.length), to = from + rnd.nextInt(a.length - from + 1);
                float threshold = rnd.nextInt(5) - 0.5f * rnd.nextInt(2);
                int planted = rnd.nextInt(a.length);
                float old = a[planted];
                a[planted] = rnd.nextBoolean() ? Float.NaN : threshold > 3 ? old : Math.nextUp(threshold);
                int expected = to;
                for (int i = from; i < to; i++) {
                    if (!(a[i] <= threshold)) {
                        expected = i;
                        break;
                    }
                }
                assertEquals(expected, k.firstAbove(a, from, to, threshold),
                        k.describe() + " [" + from + ", " + to + ") threshold " + threshold);
                a[planted] = old;
            }
        }
    }

    @Test
    void vectorExpIsWithinTwoUlpsAndZeroBelowTheFloatRange() {
        int n = 200_001;
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = -100f + 188.3f * i / (n - 1); // -100 .. 88.3
        }
        a[0] = Float.NEGATIVE_INFINITY;
        float[] e = a.clone();
        simd.expShiftSum(e, 0, n, 0f);
        assertEquals(0f, e[0], "exp(-inf)");
        for (int i = 1; i < n; i++) {
            double expected = Math.exp(a[i]);
            if (expected < 1.2e-38) {
                assertTrue(e[i] >= 0 && e[i] < 1.2e-38, "tiny exp(" + a[i] + ") = " + e[i]);
                continue;
            }
            double ulp = Math.ulp((float) expected);
            assertTrue(Math.abs(e[i] - expected) <= 2 * ulp,
                    "exp(" + a[i] + ") = " + e[i] + ", expected " + expected);
        }
    }

    @Test
    void swigluIsFiniteForLargeGates() {
        float[] g = {-1000f, -100f, -88.8f, -80f, -10f, 0f, 10f, 80f, 100f, 1000f, -80f, 80f, -87f, 87f, 89f, -89f,
                -1e30f};
        float[] u = new float[g.length];
        java.util.Arrays.fill(u, 2f);
        for (Kernels k : new Kernels[] {simd, scalar}) {
            float[] out = new float[g.length];
            k.swiglu(g, 0, u, 0, out, 0, g.length);
            for (int i = 0; i < g.length; i++) {
                double x = g[i];
                double expected = x / (1 + Math.exp(-x)) * 2;
                assertTrue(Float.isFinite(out[i]), k.describe() + " swiglu(" + g[i] + ") = " + out[i]);
                assertEquals(expected, out[i], 1e-6 * Math.abs(expected) + 1e-30, k.describe() + " gate " + g[i]);
            }
        }
    }

    @Test
    void simdScoresDotMatchesTheScalarTwinForEveryKeyCount() {
        // The SIMD kernel sums 16 keys' products with a transpose-add tree; every key must land in its own
        // column, for partial groups and for head dims with and without a vector tail.
        int tile = simd.keyTile(), scalarTile = scalar.keyTile();
        java.util.SplittableRandom rng = new java.util.SplittableRandom(9);
        for (int d : new int[] {16, 64, 72, 128}) {
            for (int rows : new int[] {1, 3, 4, 8}) {
                float[] q = new float[rows * d + 5];
                float[] k = new float[(tile + 3) * d + 7];
                for (int i = 0; i < q.length; i++) {
                    q[i] = (float) rng.nextDouble(-1, 1);
                }
                for (int i = 0; i < k.length; i++) {
                    k[i] = (float) rng.nextDouble(-1, 1);
                }
                int[] offs = new int[tile];
                for (int j = 0; j < tile; j++) {
                    offs[j] = 7 + ((j * 5) % (tile + 3)) * d; // out of order, like pages of a block table
                }
                for (int count = 1; count <= tile; count++) {
                    float[] s = new float[rows * tile];
                    simd.scoresDot(q, 5, rows, d, k, offs, count, s);
                    for (int r = 0; r < rows; r++) {
                        for (int j = 0; j < count; j++) {
                            float expected = scalar.dot(q, 5 + r * d, k, offs[j], d);
                            assertEquals(expected, s[r * tile + j],
                                    1e-5f * (1 + Math.abs(expected)) * d / 16,
                                    "d=" + d + " rows=" + rows + " count=" + count + " r=" + r + " j=" + j);
                        }
                    }
                    float[] ss = new float[rows * scalarTile];
                    if (count <= scalarTile) {
                        scalar.scoresDot(q, 5, rows, d, k, offs, count, ss);
                        for (int r = 0; r < rows; r++) {
                            for (int j = 0; j < count; j++) {
                                assertEquals(ss[r * scalarTile + j], s[r * tile + j],
                                        1e-5f * d / 16);
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void theFmaPeakProbeComputesItsChainsOnEveryLane() {
        // every lane runs the scalar chains: the SIMD sum is lanes × the scalar one (up to summation order)
        for (long rounds : new long[] {0, 1, 1000}) {
            float one = scalar.fmaRounds(rounds, 1f), all = simd.fmaRounds(rounds, 1f);
            assertEquals(one * simd.lanes(), all, Math.abs(one) * simd.lanes() * 1e-6, "rounds " + rounds);
        }
        assertEquals(78f, scalar.fmaRounds(0, 1f)); // 1 + 2 + ... + 12: the chains start where they should
        double gflops = FmaPeak.measureGflops(1);
        assertTrue(gflops > 0.1 && Double.isFinite(gflops), gflops + " GFLOP/s");
    }
}
