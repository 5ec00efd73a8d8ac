package io.attnrt.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.attnrt.backend.SamplingParams;
import io.attnrt.backend.Tensor;
import io.attnrt.backend.reference.ReferenceBackend;
import io.attnrt.tensor.DType;
import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The cpu backend's sampler (partial selection, exps of the candidates only, reused scratch) against the
 * reference backend's full-vocabulary procedure, through {@code Backend.sample}: the tokens must be
 * identical, for every kind of logits (ties, −∞, ±0, underflow, adjacent floats, NaN/+∞), temperatures
 * from the smallest float to the largest, top-k off/1/2/40/V/V+5 and top-p 1/0.95/0.5/1e-6, and u at
 * random, at the ends of [0, 1) and on (and one ulp around) the running-sum boundaries, where a sum added
 * in another order or a ≥ for a &gt; would show.
 */
class SamplerTest {
    /** Scalar and (when the Vector API module is present, as in the build's test JVM) SIMD kernels. */
    private static final CpuBackend[] CPUS = CpuBackend.vectorModulePresent()
            ? new CpuBackend[] {new CpuBackend(1, false), new CpuBackend(1, true)}
            : new CpuBackend[] {new CpuBackend(1, false)};
    private static final ReferenceBackend REFERENCE = new ReferenceBackend();
    private static final float[] TEMPERATURES = {Float.MIN_VALUE, 1e-30f, 1e-3f, 0.05f, 0.3f, 0.8f, 1f, 1.7f, 5f,
        100f, 1e30f, Float.MAX_VALUE};
    private static final float[] TOP_P = {1f, 0.95f, 0.5f, 1e-6f, Math.nextDown(1f)};

    @AfterAll
    static void close() {
        for (CpuBackend cpu : CPUS) {
            cpu.close();
        }
        REFERENCE.close();
    }

    @Test
    void randomRowsMatchTheReference() {
        SplittableRandom rnd = new SplittableRandom(20240611);
        int rowsChecked = 0;
        for (int trial = 0; trial < 1500; trial++) {
            int vocab = switch (rnd.nextInt(4)) {
                case 0 -> 1 + rnd.nextInt(12);
                case 1 -> 1 + rnd.nextInt(100);
                default -> 1 + rnd.nextInt(5000);
            };
            rowsChecked += check(rnd, vocab, 1 + rnd.nextInt(6), "trial " + trial);
        }
        assertTrue(rowsChecked > 5000, rowsChecked + " rows");
    }

    @Test
    void largeVocabulariesMatchTheReference() {
        SplittableRandom rnd = new SplittableRandom(128256);
        for (int trial = 0; trial < 4; trial++) {
            check(rnd, 128256, 6, "vocab 128256 trial " + trial);
        }
    }

    @Test
    void tiesGoToTheLowerIndexAndUIsComparedStrictly() {
        float[] equal = {2f, 2f, 2f, 2f}; // w = 1 each: the running sums are 1, 2, 3, 4 exactly
        SamplingParams all = new SamplingParams(1f, 0, 1f);
        assertSample(equal, all, 0.0, 0);
        assertSample(equal, all, Math.nextDown(0.25), 0);
        assertSample(equal, all, 0.25, 1); // u · S = 1 is not exceeded by c_1 = 1
        assertSample(equal, all, 0.5, 2);
        assertSample(equal, all, Math.nextDown(1.0), 3);
        SamplingParams half = new SamplingParams(1f, 0, 0.5f); // c_2 = 2 reaches 0.5 · 4: two kept, S = 2
        assertSample(equal, half, 0.49, 0);
        assertSample(equal, half, 0.5, 1);
        assertSample(equal, half, Math.nextDown(1.0), 1);
        SamplingParams two = new SamplingParams(1f, 2, 1f);
        assertSample(equal, two, Math.nextDown(1.0), 1);
        // top-k 1 over a tie for the maximum: the lower index; -0 and +0 are one value
        assertSample(new float[] {1f, 3f, 3f, 2f}, new SamplingParams(1f, 1, 1f), 0.9, 1);
        assertSample(new float[] {-0f, 0f, -1f}, new SamplingParams(1f, 1, 1f), 0.9, 0);
        assertSample(new float[] {-1f, 0f, -0f}, new SamplingParams(1f, 1, 1f), 0.9, 1);
        // the order is by logit even where the weights are equal: at T = MAX_VALUE every w is 1
        assertSample(new float[] {1f, 3f, 2f}, new SamplingParams(Float.MAX_VALUE, 0, 1f), 0.0, 1);
        assertSample(new float[] {1f, 3f, 2f}, new SamplingParams(Float.MAX_VALUE, 0, 1f), 0.5, 2);
        assertSample(new float[] {1f, 3f, 2f}, new SamplingParams(Float.MAX_VALUE, 0, 1f), 0.9, 0);
        // -inf tokens are never drawn, not even as the fallback
        assertSample(new float[] {Float.NEGATIVE_INFINITY, 1f, Float.NEGATIVE_INFINITY}, all, Math.nextDown(1.0), 1);
    }

    @Test
    void rowsWithoutADistributionGiveTokenZero() {
        float nan = Float.NaN, inf = Float.POSITIVE_INFINITY, ninf = Float.NEGATIVE_INFINITY;
        float[][] rows = {
            {1f, 2f, nan, 3f}, {nan, 1f, 2f, 3f}, {1f, 2f, 3f, nan}, {1f, inf, 2f, inf}, {ninf, ninf, ninf},
            {ninf, nan, inf}, {nan},
        };
        for (float[] row : rows) {
            for (SamplingParams p : new SamplingParams[] {new SamplingParams(1f, 0, 1f), new SamplingParams(1f, 0, 0.5f),
                new SamplingParams(0.7f, 1, 1f), new SamplingParams(0.7f, 2, 0.9f)}) {
                assertSample(row, p, 0.7, 0);
            }
        }
    }

    /** Steady state: the sampler allocates nothing per call (its scratch is grown once and reused). */
    @Test
    void samplingAllocatesNothingPerCall() {
        java.lang.management.ThreadMXBean bean = ManagementFactory.getThreadMXBean();
        Assumptions.assumeTrue(bean instanceof com.sun.management.ThreadMXBean);
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) bean;
        Assumptions.assumeTrue(threads.isThreadAllocatedMemorySupported() && threads.isThreadAllocatedMemoryEnabled());
        SplittableRandom rnd = new SplittableRandom(7);
        int vocab = 32000;
        float[] logits = new float[vocab];
        for (int i = 0; i < vocab; i++) {
            logits[i] = (float) (2 * rnd.nextGaussian());
        }
        for (int i = 0; i < 8; i++) {
            logits[rnd.nextInt(vocab)] = 12f + i;
        }
        SamplingParams[] params = {new SamplingParams(0.8f, 40, 0.95f), new SamplingParams(0.8f, 0, 0.95f),
            new SamplingParams(1f, 0, 1f), new SamplingParams(0.5f, vocab + 5, 0.5f), SamplingParams.GREEDY};
        Sampler sampler = new Sampler(CpuBackend.loadKernels(CpuBackend.vectorModulePresent()));
        long thread = Thread.currentThread().getId();
        long sink = 0;
        for (int i = 0; i < 3000; i++) { // warm-up: scratch grown, code compiled
            sink += sampler.sample(logits, 0, vocab, params[i % params.length], rnd.nextDouble());
        }
        long before = threads.getThreadAllocatedBytes(thread);
        for (int i = 0; i < 1000; i++) {
            sink += sampler.sample(logits, 0, vocab, params[i % params.length], (i * 0.618034) % 1.0);
        }
        long allocated = threads.getThreadAllocatedBytes(thread) - before;
        assertTrue(allocated < 4096, allocated + " bytes allocated over 1000 calls (sink " + sink + ")");
    }

    // ------------------------------------------------------------------------------------------ helpers

    private static void assertSample(float[] row, SamplingParams p, double u, int expected) {
        int[] tokens = sampleBoth(row, row.length, new SamplingParams[] {p}, new double[] {u}, "row "
                + Arrays.toString(row) + " " + p + " u " + u);
        assertEquals(expected, tokens[0], "row " + Arrays.toString(row) + " " + p + " u " + u);
    }

    /** Rows of one vocabulary with random logits, params and draws; returns how many were compared. */
    private static int check(SplittableRandom rnd, int vocab, int rows, String what) {
        float[] logits = new float[rows * vocab];
        SamplingParams[] params = new SamplingParams[rows];
        double[] u = new double[rows];
        String[] kinds = new String[rows];
        for (int r = 0; r < rows; r++) {
            float[] row = new float[vocab];
            kinds[r] = fill(rnd, row);
            System.arraycopy(row, 0, logits, r * vocab, vocab);
            params[r] = params(rnd, vocab);
            u[r] = uniform(rnd, row, params[r]);
        }
        StringBuilder where = new StringBuilder(what).append(" vocab ").append(vocab);
        for (int r = 0; r < rows; r++) {
            where.append("\n  row ").append(r).append(": ").append(kinds[r]).append(' ').append(params[r])
                    .append(" u ").append(u[r]);
        }
        sampleBoth(logits, vocab, params, u, where.toString());
        return rows;
    }

    private static int[] sampleBoth(float[] logits, int vocab, SamplingParams[] params, double[] u, String where) {
        int rows = params.length;
        int[] expected;
        try (Tensor t = REFERENCE.upload(logits, DType.F32, rows, vocab)) {
            expected = REFERENCE.sample(t, params, u);
        }
        for (CpuBackend cpu : CPUS) {
            try (Tensor t = cpu.upload(logits, DType.F32, rows, vocab)) {
                int[] actual = cpu.sample(t, params, u);
                assertArrayEquals(expected, actual, cpu.description() + ": " + where);
            }
        }
        return expected;
    }

    private static SamplingParams params(SplittableRandom rnd, int vocab) {
        float t = rnd.nextInt(3) == 0 ? (float) (0.01 + 3 * rnd.nextDouble()) : TEMPERATURES[rnd.nextInt(TEMPERATURES.length)];
        int k = switch (rnd.nextInt(7)) {
            case 0 -> 0;
            case 1 -> 1;
            case 2 -> 2;
            case 3 -> 40;
            case 4 -> vocab;
            case 5 -> vocab + 5;
            default -> 1 + rnd.nextInt(vocab);
        };
        float p = rnd.nextInt(4) == 0 ? (float) (0.01 + 0.99 * rnd.nextDouble()) : TOP_P[rnd.nextInt(TOP_P.length)];
        return new SamplingParams(t, k, p);
    }

    /** Logits of a random kind; returns the kind's name. */
    private static String fill(SplittableRandom rnd, float[] row) {
        int v = row.length;
        int kind = rnd.nextInt(12);
        switch (kind) {
            case 0 -> {
                double sigma = new double[] {0.1, 1, 3, 10}[rnd.nextInt(4)];
                for (int i = 0; i < v; i++) {
                    row[i] = (float) (sigma * rnd.nextGaussian());
                }
                return "gaussian " + sigma;
            }
            case 1 -> {
                int distinct = 1 + rnd.nextInt(4);
                for (int i = 0; i < v; i++) {
                    row[i] = rnd.nextInt(distinct);
                }
                return distinct + " integers";
            }
            case 2 -> {
                Arrays.fill(row, (float) rnd.nextGaussian());
                return "all equal";
            }
            case 3 -> {
                double masked = new double[] {0.1, 0.5, 0.99, 1}[rnd.nextInt(4)];
                for (int i = 0; i < v; i++) {
                    row[i] = rnd.nextDouble() < masked ? Float.NEGATIVE_INFINITY : (float) (2 * rnd.nextGaussian());
                }
                row[rnd.nextInt(v)] = (float) rnd.nextGaussian(); // at least one finite logit
                return "masked " + masked;
            }
            case 4 -> {
                for (int i = 0; i < v; i++) {
                    row[i] = (float) (2 * rnd.nextGaussian());
                }
                for (int s = 0; s < 1 + rnd.nextInt(8); s++) {
                    row[rnd.nextInt(v)] = 10 + rnd.nextInt(6); // spikes, often equal
                }
                return "spiky";
            }
            case 5 -> {
                for (int i = 0; i < v; i++) {
                    row[i] = (float) (1e30 * rnd.nextGaussian());
                }
                return "huge";
            }
            case 6 -> {
                for (int i = 0; i < v; i++) {
                    row[i] = Math.round(8 * rnd.nextGaussian()) / 4f;
                }
                return "grid 1/4";
            }
            case 7 -> {
                for (int i = 0; i < v; i++) {
                    float x = 1f;
                    for (int s = rnd.nextInt(6); s > 0; s--) {
                        x = Math.nextUp(x);
                    }
                    row[i] = x;
                }
                return "adjacent floats";
            }
            case 8 -> {
                float[] values = {-0f, 0f, -1f, 1f, Float.MIN_VALUE};
                for (int i = 0; i < v; i++) {
                    row[i] = values[rnd.nextInt(values.length)];
                }
                return "signed zeros";
            }
            case 9 -> {
                for (int i = 0; i < v; i++) {
                    row[i] = (float) (3 * rnd.nextGaussian());
                }
                Arrays.sort(row);
                if (rnd.nextBoolean()) {
                    for (int i = 0, j = v - 1; i < j; i++, j--) {
                        float t = row[i];
                        row[i] = row[j];
                        row[j] = t;
                    }
                    return "descending";
                }
                return "ascending";
            }
            case 10 -> {
                for (int i = 0; i < v; i++) {
                    row[i] = (float) (0.5 * rnd.nextGaussian() + (rnd.nextInt(50) == 0 ? 800 : 0));
                }
                return "two scales"; // at small T everything below the top group underflows
            }
            default -> {
                for (int i = 0; i < v; i++) {
                    row[i] = (float) rnd.nextGaussian();
                }
                float[] planted = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY};
                int which = rnd.nextInt(planted.length);
                if (which == 2) {
                    Arrays.fill(row, Float.NEGATIVE_INFINITY);
                } else {
                    row[rnd.nextInt(v)] = planted[which];
                }
                return "degenerate " + planted[which];
            }
        }
    }

    /**
     * u at random, at the ends of [0, 1), or on a boundary of the kept running sums: c_j / S and its
     * neighbours, computed here from the definition (a sum off by an ulp, or a ≥ for a &gt;, then
     * changes the token).
     */
    private static double uniform(SplittableRandom rnd, float[] row, SamplingParams p) {
        switch (rnd.nextInt(6)) {
            case 0:
                return 0.0;
            case 1:
                return Math.nextDown(1.0);
            case 2:
                return rnd.nextDouble();
            default:
                double[] sums = runningSums(row, p);
                if (sums == null) {
                    return rnd.nextDouble();
                }
                int n = sums.length - 1; // sums[0..n-1] running sums, sums[n] = S
                double ratio = sums[rnd.nextInt(n)] / sums[n];
                double u = switch (rnd.nextInt(3)) {
                    case 0 -> Math.nextDown(ratio);
                    case 1 -> Math.nextUp(ratio);
                    default -> ratio;
                };
                return u >= 0 && u < 1 ? u : rnd.nextDouble();
        }
    }

    /** The kept tokens' running sums followed by the kept sum S, as SamplingParams defines them (null: none). */
    private static double[] runningSums(float[] row, SamplingParams p) {
        int v = row.length;
        float max = Float.NEGATIVE_INFINITY;
        for (float x : row) {
            if (Float.isNaN(x)) {
                return null;
            }
            max = Math.max(max, x);
        }
        if (p.greedy() || Float.isInfinite(max)) {
            return null;
        }
        double t = p.temperature();
        double shift = max / t;
        Integer[] order = new Integer[v];
        for (int i = 0; i < v; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (i, j) -> row[i] > row[j] ? -1 : row[i] < row[j] ? 1 : Integer.compare(i, j));
        int k = p.topK() > 0 ? Math.min(p.topK(), v) : v;
        boolean[] kept = new boolean[v];
        for (int r = 0; r < k; r++) {
            kept[order[r]] = true;
        }
        double s = 0;
        for (int i = 0; i < v; i++) {
            if (kept[i]) {
                s += Math.exp(row[i] / t - shift);
            }
        }
        double[] c = new double[k + 1];
        double run = 0;
        int n = k;
        for (int r = 0; r < k; r++) {
            run += Math.exp(row[order[r]] / t - shift);
            c[r] = run;
            if (p.topP() < 1f && run >= p.topP() * s) {
                n = r + 1;
                break;
            }
        }
        if (p.topP() < 1f) {
            s = c[n - 1];
        }
        double[] out = Arrays.copyOf(c, n + 1);
        out[n] = s;
        return out;
    }
}
