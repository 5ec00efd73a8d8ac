package io.attnrt.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.attnrt.backend.RopeScaling;
import io.attnrt.backend.RopeSpec;
import io.attnrt.backend.RopeStyle;
import io.attnrt.backend.Tensor;
import io.attnrt.tensor.DType;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The cached cos/sin give the very bits of computing them per call (the oracle tests cover the maths). */
class RopeTableTest {

    @Test
    void entriesEqualThePerPositionComputationAcrossGrowth() {
        RopeSpec spec = new RopeSpec(500000, RopeStyle.ROTATE_HALF, new RopeScaling(RopeScaling.Kind.LLAMA3, 32, 1, 4, 8192));
        RopeTable table = new RopeTable(spec, 64);
        float[] one = new float[64];
        for (int max : new int[] {0, 1, 17, 1000, 1001, 40000, 9}) {
            float[] cs = table.covering(max);
            for (int pos : new int[] {0, max / 2, max}) {
                RopeTable.fill(pos, spec.inverseFrequencies(64), one, 0);
                for (int i = 0; i < 64; i++) {
                    assertEquals(Float.floatToRawIntBits(one[i]), Float.floatToRawIntBits(cs[pos * 64 + i]),
                            "position " + pos + " element " + i + " after covering " + max);
                }
            }
        }
        assertNull(table.covering((int) (RopeTable.MAX_ENTRIES / 32)), "past the bound: computed per call");
    }

    @Test
    void theTablePathAndThePerCallPathRotateIdentically() {
        int heads = 3, headDim = 32, n = 40;
        long far = RopeTable.MAX_ENTRIES / (headDim / 2) + 5; // one row this far forces the per-call path
        SplittableRandom rnd = new SplittableRandom(11);
        float[] x = new float[(n + 1) * heads * headDim];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextDouble(-2, 2);
        }
        int[] positions = new int[n + 1];
        for (int i = 0; i < n; i++) {
            positions[i] = rnd.nextInt(5000);
        }
        positions[n] = (int) far;
        for (RopeStyle style : RopeStyle.values()) {
            RopeSpec spec = new RopeSpec(10000, style);
            try (CpuBackend b = new CpuBackend(2, true);
                 Tensor tabled = b.upload(java.util.Arrays.copyOf(x, n * heads * headDim), DType.F32, n, heads * headDim);
                 Tensor perCall = b.upload(x, DType.F32, n + 1, heads * headDim)) {
                b.rope(tabled, java.util.Arrays.copyOf(positions, n), heads, headDim, spec);
                b.rope(perCall, positions, heads, headDim, spec);
                float[] t = b.download(tabled), p = b.download(perCall);
                for (int i = 0; i < t.length; i++) {
                    assertEquals(Float.floatToRawIntBits(p[i]), Float.floatToRawIntBits(t[i]), style + " element " + i);
                }
            }
        }
    }
}
