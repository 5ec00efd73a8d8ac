package io.attnrt.backend.cpu;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.SplittableRandom;

/** Test helpers: seeded random data and element-wise comparison with a tolerance scaled to the data. */
final class Compare {
    private Compare() {
    }

    static float[] random(SplittableRandom rng, int n, double amplitude) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) ((rng.nextDouble() * 2 - 1) * amplitude);
        }
        return a;
    }

    /**
     * Fails unless every |actual − expected| ≤ atol + rtol·|expected|; names the first offending index.
     * Infinities must match exactly; NaN never passes.
     */
    static void assertClose(float[] expected, float[] actual, double rtol, double atol, String what) {
        if (expected.length != actual.length) {
            fail(what + ": length " + actual.length + ", expected " + expected.length);
        }
        double worst = 0;
        for (int i = 0; i < expected.length; i++) {
            float e = expected[i], a = actual[i];
            if (Float.isNaN(a) || Float.isNaN(e)) {
                fail(what + ": NaN at " + i + " (expected " + e + ", got " + a + ")");
            }
            if (Float.isInfinite(e) || Float.isInfinite(a)) {
                if (e != a) {
                    fail(what + ": at " + i + " expected " + e + ", got " + a);
                }
                continue;
            }
            double err = Math.abs((double) a - e);
            if (err > atol + rtol * Math.abs(e)) {
                fail(what + ": at " + i + " expected " + e + ", got " + a + " (error " + err + ", allowed "
                        + (atol + rtol * Math.abs(e)) + ")");
            }
            worst = Math.max(worst, err);
        }
    }
}
