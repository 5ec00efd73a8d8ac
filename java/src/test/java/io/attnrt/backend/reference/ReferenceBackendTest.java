package io.attnrt.backend.reference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.attnrt.backend.AttentionSpec;
import io.attnrt.backend.RopeSpec;
import io.attnrt.backend.RopeStyle;
import io.attnrt.backend.SamplingParams;
import io.attnrt.tensor.DType;
import io.attnrt.tensor.HalfFloats;
import io.attnrt.backend.Tensor;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The oracle against cases derivable by hand. Expected values come from the formulas written out here,
 * never from another backend op, except where the test is about two ops agreeing (decode vs prefill).
 */
class ReferenceBackendTest {
    private final ReferenceBackend ref = new ReferenceBackend();

    @AfterEach
    void noLeaks() {
        // Every test frees what it allocates; a leak here would point at a test bug, not the backend.
        assertEquals(0, ref.bytesInUse(), "tensors left allocated");
        ref.close();
    }

    private Tensor f32(float[] data, int... shape) {
        return ref.upload(data, DType.F32, shape);
    }

    private static float[] random(SplittableRandom rng, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (rng.nextDouble() * 2 - 1);
        }
        return a;
    }

    // ---------------------------------------------------------------- attention

    @Test
    void prefillOverThreeKeysMatchesTheSoftmaxFormula() {
        // One head, d = 2, three tokens, non-causal: out_i = Σ_j e^{s·q_i·k_j} v_j / Σ_j e^{s·q_i·k_j}.
        float[] q = {1f, 0.5f, -0.25f, 2f, 0.75f, -1f};
        float[] k = {0.5f, -1f, 1.5f, 0.25f, -0.5f, 1f};
        float[] v = {1f, 2f, -3f, 0.5f, 4f, -1f};
        float scale = 0.7f;
        AttentionSpec spec = new AttentionSpec(1, 1, 2, false, 0, scale);
        try (Tensor tq = f32(q, 3, 2); Tensor tk = f32(k, 3, 2); Tensor tv = f32(v, 3, 2);
             Tensor out = ref.allocate(DType.F32, 3, 2); Tensor lse = ref.allocate(DType.F32, 3, 1)) {
            ref.attentionPrefill(tq, tk, tv, new int[] {0, 3}, spec, out, lse);
            float[] o = ref.download(out);
            float[] l = ref.download(lse);
            for (int i = 0; i < 3; i++) {
                double[] w = new double[3];
                double sum = 0;
                for (int j = 0; j < 3; j++) {
                    w[j] = Math.exp(scale * (q[2 * i] * k[2 * j] + q[2 * i + 1] * k[2 * j + 1]));
                    sum += w[j];
                }
                for (int d = 0; d < 2; d++) {
                    double expected = (w[0] * v[d] + w[1] * v[2 + d] + w[2] * v[4 + d]) / sum;
                    assertEquals(expected, o[2 * i + d], 1e-6, "query " + i + " dim " + d);
                }
                assertEquals(Math.log(sum), l[i], 1e-6, "lse of query " + i);
            }
        }
    }

    /**
     * With q = 0 every visible key scores 0, so the output is the plain mean of the visible values: the
     * output reveals exactly which keys the mask let through.
     */
    @Test
    void causalAndWindowMasksShowTheRightKeys() {
        int length = 6;
        float[] v = new float[length];
        for (int j = 0; j < length; j++) {
            v[j] = (float) Math.pow(3, j); // distinct, so a wrong key set gives a wrong mean
        }
        int[][] cases = {{1, 0}, {1, 1}, {1, 3}, {0, 0}, {0, 2}};
        for (int[] c : cases) {
            boolean causal = c[0] == 1;
            int window = c[1];
            AttentionSpec spec = new AttentionSpec(1, 1, 1, causal, window, 1f);
            try (Tensor q = ref.allocate(DType.F32, length, 1);
                 Tensor k = f32(random(new SplittableRandom(1), length), length, 1);
                 Tensor tv = f32(v, length, 1); Tensor out = ref.allocate(DType.F32, length, 1)) {
                ref.attentionPrefill(q, k, tv, new int[] {0, length}, spec, out, null);
                float[] o = ref.download(out);
                for (int i = 0; i < length; i++) {
                    int first = window == 0 ? 0 : Math.max(0, i - window + 1);
                    int last = causal ? i : (window == 0 ? length - 1 : length - 1);
                    double sum = 0;
                    for (int j = first; j <= last; j++) {
                        sum += v[j];
                    }
                    double expected = sum / (last - first + 1);
                    assertEquals(expected, o[i], 1e-6 * expected,
                            "causal=" + causal + " window=" + window + " query " + i);
                }
            }
        }
    }

    @Test
    void raggedSequencesDoNotSeeEachOther() {
        // Two sequences of lengths 2 and 3, q = 0, non-causal: each row is the mean of its own sequence.
        float[] v = {1f, 3f, 10f, 20f, 60f};
        AttentionSpec spec = new AttentionSpec(1, 1, 1, false, 0, 1f);
        try (Tensor q = ref.allocate(DType.F32, 5, 1); Tensor k = f32(new float[] {.1f, .2f, .3f, .4f, .5f}, 5, 1);
             Tensor tv = f32(v, 5, 1); Tensor out = ref.allocate(DType.F32, 5, 1)) {
            ref.attentionPrefill(q, k, tv, new int[] {0, 2, 5}, spec, out, null);
            assertArrayEquals(new float[] {2f, 2f, 30f, 30f, 30f}, ref.download(out), 1e-5f);
        }
    }

    @Test
    void gqaQueryHeadReadsKvHeadHDividedByGroup() {
        // One token: softmax over one key is 1, so out head h equals v head h / group exactly.
        int heads = 8;
        int kvHeads = 2;
        int d = 3;
        SplittableRandom rng = new SplittableRandom(7);
        float[] v = random(rng, kvHeads * d);
        AttentionSpec spec = AttentionSpec.of(heads, kvHeads, d, true);
        try (Tensor q = f32(random(rng, heads * d), 1, heads * d);
             Tensor k = f32(random(rng, kvHeads * d), 1, kvHeads * d);
             Tensor tv = f32(v, 1, kvHeads * d); Tensor out = ref.allocate(DType.F32, 1, heads * d)) {
            ref.attentionPrefill(q, k, tv, new int[] {0, 1}, spec, out, null);
            float[] o = ref.download(out);
            for (int h = 0; h < heads; h++) {
                int kvHead = h / (heads / kvHeads);
                for (int e = 0; e < d; e++) {
                    assertEquals(v[kvHead * d + e], o[h * d + e], 0f, "head " + h);
                }
            }
        }
    }

    @Test
    void decodeOverPagedCacheEqualsLastPrefillRow() {
        int length = 11;
        int blockSize = 4;
        AttentionSpec spec = new AttentionSpec(4, 2, 8, true, 5, 0.3f);
        SplittableRandom rng = new SplittableRandom(3);
        float[] q = random(rng, length * spec.qWidth());
        float[] k = random(rng, length * spec.kvWidth());
        float[] v = random(rng, length * spec.kvWidth());
        int[] table = {5, 0, 3}; // non-contiguous physical blocks
        int[] slots = new int[length];
        for (int t = 0; t < length; t++) {
            slots[t] = table[t / blockSize] * blockSize + t % blockSize;
        }
        try (Tensor tq = f32(q, length, spec.qWidth()); Tensor tk = f32(k, length, spec.kvWidth());
             Tensor tv = f32(v, length, spec.kvWidth()); Tensor out = ref.allocate(DType.F32, length, spec.qWidth());
             Tensor lse = ref.allocate(DType.F32, length, spec.numHeads());
             Tensor kc = ref.allocate(DType.F32, 6, blockSize, 2, 8);
             Tensor vc = ref.allocate(DType.F32, 6, blockSize, 2, 8);
             Tensor lastQ = f32(Arrays.copyOfRange(q, (length - 1) * spec.qWidth(), length * spec.qWidth()),
                     1, spec.qWidth());
             Tensor dOut = ref.allocate(DType.F32, 1, spec.qWidth());
             Tensor dLse = ref.allocate(DType.F32, 1, spec.numHeads())) {
            ref.attentionPrefill(tq, tk, tv, new int[] {0, length}, spec, out, lse);
            ref.kvAppend(kc, vc, tk, tv, slots);
            ref.attentionDecode(lastQ, kc, vc, table, 3, new int[] {length}, spec, dOut, dLse);
            float[] prefill = ref.download(out);
            float[] prefillLse = ref.download(lse);
            assertArrayEquals(Arrays.copyOfRange(prefill, (length - 1) * spec.qWidth(), length * spec.qWidth()),
                    ref.download(dOut), 0f);
            assertArrayEquals(Arrays.copyOfRange(prefillLse, (length - 1) * 4, length * 4), ref.download(dLse), 0f);
        }
    }

    @Test
    void emptyDecodeContextGivesZerosAndMinusInfinity() {
        AttentionSpec spec = AttentionSpec.of(2, 1, 4, true);
        try (Tensor q = f32(random(new SplittableRandom(2), 16), 2, 8);
             Tensor kc = f32(random(new SplittableRandom(5), 2 * 2 * 4), 2, 2, 1, 4);
             Tensor vc = f32(random(new SplittableRandom(6), 2 * 2 * 4), 2, 2, 1, 4);
             Tensor out = f32(random(new SplittableRandom(8), 16), 2, 8); Tensor lse = ref.allocate(DType.F32, 2, 2)) {
            ref.attentionDecode(q, kc, vc, new int[] {1, 0}, 1, new int[] {0, 1}, spec, out, lse);
            float[] o = ref.download(out);
            float[] l = ref.download(lse);
            for (int i = 0; i < 8; i++) {
                assertEquals(0f, o[i], "empty row element " + i);
            }
            assertEquals(Float.NEGATIVE_INFINITY, l[0]);
            assertEquals(Float.NEGATIVE_INFINITY, l[1]);
            // Sequence 1 has one key (block 0, offset 0): its output is that value row exactly, lse = score.
            float[] values = ref.download(vc);
            for (int e = 0; e < 4; e++) {
                assertEquals(values[e], o[8 + e], 0f);
            }
        }
    }

    // ---------------------------------------------------------------- kv cache

    @Test
    void kvAppendRoundsToTheCacheDtypeAndCopyBlocksReadsTheOldState() {
        SplittableRandom rng = new SplittableRandom(11);
        float[] k = random(rng, 3 * 4);
        float[] v = random(rng, 3 * 4);
        try (Tensor kc = ref.allocate(DType.F16, 3, 2, 2, 2); Tensor vc = ref.allocate(DType.F16, 3, 2, 2, 2);
             Tensor tk = f32(k, 3, 4); Tensor tv = f32(v, 3, 4)) {
            ref.kvAppend(kc, vc, tk, tv, new int[] {5, 0, 2});
            float[] keys = ref.download(kc);
            float[] values = ref.download(vc);
            int[] slots = {5, 0, 2};
            for (int n = 0; n < 3; n++) {
                for (int c = 0; c < 4; c++) {
                    assertEquals(HalfFloats.roundTo(DType.F16, k[n * 4 + c]), keys[slots[n] * 4 + c]);
                    assertEquals(HalfFloats.roundTo(DType.F16, v[n * 4 + c]), values[slots[n] * 4 + c]);
                }
            }
            // Block 0 -> 1 and block 1 -> 2 in one call: block 2 gets the OLD block 1.
            ref.copyBlocks(new Tensor[] {kc}, new int[] {0, 1}, new int[] {1, 2});
            float[] copied = ref.download(kc);
            assertArrayEquals(Arrays.copyOfRange(keys, 0, 8), Arrays.copyOfRange(copied, 0, 8), 0f);
            assertArrayEquals(Arrays.copyOfRange(keys, 0, 8), Arrays.copyOfRange(copied, 8, 16), 0f);
            assertArrayEquals(Arrays.copyOfRange(keys, 8, 16), Arrays.copyOfRange(copied, 16, 24), 0f);
        }
    }

    // ---------------------------------------------------------------- rope

    @Test
    void ropeRotatesPairsByPositionTimesThetaPower() {
        // d = 4, position 3, theta 100: pair 0 turns by 3 rad, pair 1 by 3·100^(-1/2) = 0.3 rad.
        float[] x = {1f, 2f, 3f, 4f};
        try (Tensor half = f32(x.clone(), 1, 4); Tensor inter = f32(x.clone(), 1, 4)) {
            ref.rope(half, new int[] {3}, 1, 4, new RopeSpec(100, RopeStyle.ROTATE_HALF));
            ref.rope(inter, new int[] {3}, 1, 4, new RopeSpec(100, RopeStyle.INTERLEAVED));
            float[] h = ref.download(half);
            // ROTATE_HALF pairs (0,2) and (1,3)
            assertEquals(1 * Math.cos(3) - 3 * Math.sin(3), h[0], 1e-6);
            assertEquals(1 * Math.sin(3) + 3 * Math.cos(3), h[2], 1e-6);
            assertEquals(2 * Math.cos(0.3) - 4 * Math.sin(0.3), h[1], 1e-6);
            assertEquals(2 * Math.sin(0.3) + 4 * Math.cos(0.3), h[3], 1e-6);
            float[] in = ref.download(inter);
            // INTERLEAVED pairs (0,1) and (2,3)
            assertEquals(1 * Math.cos(3) - 2 * Math.sin(3), in[0], 1e-6);
            assertEquals(1 * Math.sin(3) + 2 * Math.cos(3), in[1], 1e-6);
            assertEquals(3 * Math.cos(0.3) - 4 * Math.sin(0.3), in[2], 1e-6);
            assertEquals(3 * Math.sin(0.3) + 4 * Math.cos(0.3), in[3], 1e-6);
        }
    }

    @Test
    void ropeRotateHalfEqualsInterleavedAfterPermutingDimensions() {
        int heads = 3;
        int d = 80;
        int tokens = 4;
        SplittableRandom rng = new SplittableRandom(21);
        float[] x = random(rng, tokens * heads * d);
        // Dimension p of the rotate-half layout is 2p of the interleaved one, p + d/2 is 2p + 1.
        float[] permuted = new float[x.length];
        for (int row = 0; row < tokens * heads; row++) {
            for (int p = 0; p < d / 2; p++) {
                permuted[row * d + 2 * p] = x[row * d + p];
                permuted[row * d + 2 * p + 1] = x[row * d + p + d / 2];
            }
        }
        int[] positions = {0, 1, 517, 8191};
        try (Tensor half = f32(x, tokens, heads * d); Tensor inter = f32(permuted, tokens, heads * d)) {
            ref.rope(half, positions, heads, d, new RopeSpec(500000, RopeStyle.ROTATE_HALF));
            ref.rope(inter, positions, heads, d, new RopeSpec(500000, RopeStyle.INTERLEAVED));
            float[] h = ref.download(half);
            float[] in = ref.download(inter);
            for (int row = 0; row < tokens * heads; row++) {
                for (int p = 0; p < d / 2; p++) {
                    assertEquals(h[row * d + p], in[row * d + 2 * p], 0f);
                    assertEquals(h[row * d + p + d / 2], in[row * d + 2 * p + 1], 0f);
                }
            }
            // and it did rotate something: position 8191 moves the vector
            assertTrue(Math.abs(h[3 * heads * d] - x[3 * heads * d]) > 1e-3);
        }
    }

    @Test
    void ropeAtPositionZeroIsIdentity() {
        float[] x = random(new SplittableRandom(4), 2 * 64);
        for (RopeStyle style : RopeStyle.values()) {
            try (Tensor t = f32(x, 1, 128)) {
                ref.rope(t, new int[] {0}, 2, 64, new RopeSpec(10000, style));
                assertArrayEquals(x, ref.download(t), 0f, style.name());
            }
        }
    }

    // ---------------------------------------------------------------- norms, linear, elementwise

    @Test
    void rmsNormOfAConstantRowIsTheWeight() {
        // x = c everywhere: mean(x²) = c², so out = c / sqrt(c² + eps) · w.
        float c = -2.5f;
        float eps = 1e-5f;
        float[] w = random(new SplittableRandom(9), 7);
        float[] x = new float[14];
        Arrays.fill(x, c);
        try (Tensor tx = f32(x, 2, 7);
             Tensor tw = ref.upload(w, DType.BF16, 7);
             Tensor out = ref.allocate(DType.F32, 2, 7)) {
            ref.rmsNorm(tx, tw, eps, out);
            float[] o = ref.download(out);
            for (int i = 0; i < 14; i++) {
                double expected = c / Math.sqrt(c * c + eps) * HalfFloats.roundTo(DType.BF16, w[i % 7]);
                assertEquals(expected, o[i], 1e-7);
            }
            // in place (out may be x)
            ref.rmsNorm(tx, tw, eps, tx);
            assertArrayEquals(o, ref.download(tx), 0f);
        }
    }

    @Test
    void addRmsNormUpdatesTheResidualThenNormalizes() {
        float[] r = {1f, 2f, 3f};
        float[] d = {0.5f, -1f, 1f};
        float[] w = {1f, 2f, 0.5f};
        try (Tensor tr = f32(r, 1, 3);
             Tensor td = f32(d, 1, 3);
             Tensor tw = f32(w, 3);
             Tensor out = ref.allocate(DType.F32, 1, 3)) {
            ref.addRmsNorm(tr, td, tw, 0f, out);
            float[] sum = {1.5f, 1f, 4f};
            assertArrayEquals(sum, ref.download(tr), 0f);
            double rms = Math.sqrt((1.5 * 1.5 + 1 + 16) / 3);
            assertArrayEquals(new float[] {(float) (1.5 / rms), (float) (2 / rms), (float) (4 * 0.5 / rms)},
                    ref.download(out), 1e-6f);
        }
    }

    @Test
    void linearIsXTimesWeightTransposed() {
        float[] x = {1f, 2f, 3f, -1f, 0.5f, 2f};
        float[] w = {1f, 0f, -1f, 2f, 1f, 0.5f}; // [OUT=2, IN=3]
        try (Tensor tx = f32(x, 2, 3);
             Tensor tw = ref.upload(w, DType.F16, 2, 3);
             Tensor out = ref.allocate(DType.F32, 2, 2)) {
            ref.linear(tx, tw, out);
            assertArrayEquals(new float[] {1 - 3, 2 + 2 + 1.5f, -1 - 2, -2 + 0.5f + 1}, ref.download(out), 0f);
        }
    }

    @Test
    void gatherRowsPicksTableRows() {
        float[] table = {1f, 2f, 3f, 4f, 5f, 6f};
        try (Tensor t = ref.upload(table, DType.BF16, 3, 2); Tensor out = ref.allocate(DType.F32, 4, 2)) {
            ref.gatherRows(t, new int[] {2, 0, 2, 1}, out);
            assertArrayEquals(new float[] {5f, 6f, 1f, 2f, 5f, 6f, 3f, 4f}, ref.download(out), 0f);
        }
    }

    @Test
    void swigluAndAddFollowTheirFormulas() {
        float[] gate = {-80f, -1f, 0.5f, 80f, -1000f};
        float[] up = {2f, 3f, -1f, 0.25f, 1f};
        float[] gateUp = new float[20]; // two rows of [gate | up]; the second row's gates and ups are swapped
        for (int i = 0; i < 5; i++) {
            gateUp[i] = gate[i];
            gateUp[5 + i] = up[i];
            gateUp[10 + i] = up[i];
            gateUp[15 + i] = gate[i];
        }
        try (Tensor g = f32(gate, 1, 5); Tensor u = f32(up, 1, 5); Tensor gu = f32(gateUp, 2, 10);
             Tensor out = ref.allocate(DType.F32, 2, 5)) {
            ref.swiglu(gu, out);
            float[] o = ref.download(out);
            for (int i = 0; i < 5; i++) {
                double expected = gate[i] / (1 + Math.exp(-gate[i])) * up[i];
                assertTrue(Float.isFinite(o[i]), "silu(" + gate[i] + ") must stay finite");
                assertEquals(expected, o[i], Math.abs(expected) * 1e-6 + 1e-30);
                double second = up[i] / (1 + Math.exp(-up[i])) * gate[i];
                assertEquals(second, o[5 + i], Math.abs(second) * 1e-6 + 1e-30, "row 1 col " + i);
            }
            ref.add(g, u, g); // out may alias a
            assertArrayEquals(new float[] {-78f, 2f, -0.5f, 80.25f, -999f}, ref.download(g), 0f);
        }
    }

    // ---------------------------------------------------------------- sampling

    @Test
    void greedyAndTopKOneAreArgmaxWithTiesToTheLowestIndex() {
        SplittableRandom rng = new SplittableRandom(13);
        int rows = 6;
        int vocab = 50;
        float[] logits = random(rng, rows * vocab);
        // row 1: a tie for the maximum at 7 and 30; row 2: everything equal
        logits[vocab + 7] = 5f;
        logits[vocab + 30] = 5f;
        Arrays.fill(logits, 2 * vocab, 3 * vocab, 0.25f);
        int[] expected = new int[rows];
        for (int b = 0; b < rows; b++) {
            int best = 0;
            for (int i = 0; i < vocab; i++) {
                if (logits[b * vocab + i] > logits[b * vocab + best]) {
                    best = i;
                }
            }
            expected[b] = best;
        }
        assertEquals(7, expected[1]);
        assertEquals(0, expected[2]);
        try (Tensor t = f32(logits, rows, vocab)) {
            assertArrayEquals(expected, ref.argmax(t));
            SamplingParams[] greedy = new SamplingParams[rows];
            SamplingParams[] topOne = new SamplingParams[rows];
            double[] u = new double[rows];
            Arrays.fill(greedy, SamplingParams.GREEDY);
            Arrays.fill(topOne, new SamplingParams(1.3f, 1, 1f));
            for (int trial = 0; trial < 5; trial++) {
                for (int b = 0; b < rows; b++) {
                    u[b] = rng.nextDouble();
                }
                assertArrayEquals(expected, ref.sample(t, greedy, u));
                assertArrayEquals(expected, ref.sample(t, topOne, u));
            }
        }
    }

    @Test
    void sampledFrequenciesMatchSoftmaxProbabilities() {
        float[] logits = {1f, 2f, 0.5f, -1f, 1.5f, 0f};
        float temperature = 0.8f;
        double[] p = new double[logits.length];
        double total = 0;
        for (int i = 0; i < logits.length; i++) {
            p[i] = Math.exp(logits[i] / temperature);
            total += p[i];
        }
        int draws = 20000;
        SamplingParams[] params = new SamplingParams[draws];
        Arrays.fill(params, new SamplingParams(temperature, 0, 1f));
        double[] u = new double[draws];
        SplittableRandom rng = new SplittableRandom(17);
        for (int i = 0; i < draws; i++) {
            u[i] = rng.nextDouble();
        }
        float[] rows = new float[draws * logits.length];
        for (int i = 0; i < draws; i++) {
            System.arraycopy(logits, 0, rows, i * logits.length, logits.length);
        }
        int[] counts = new int[logits.length];
        try (Tensor t = f32(rows, draws, logits.length)) {
            for (int token : ref.sample(t, params, u)) {
                counts[token]++;
            }
        }
        for (int i = 0; i < logits.length; i++) {
            double prob = p[i] / total;
            double sigma = Math.sqrt(prob * (1 - prob) / draws);
            // 5 sigma: a false failure has probability ~1e-6 per token, and the seed is fixed anyway.
            assertEquals(prob, counts[i] / (double) draws, 5 * sigma, "token " + i);
        }
    }

    @Test
    void topPKeepsTheShortestPrefixReachingTheMass() {
        // p = 0.5, 0.3, 0.15, 0.05 (logits are their logs, temperature 1), given out of order.
        float[] logits = {(float) Math.log(0.15), (float) Math.log(0.5), (float) Math.log(0.05), (float) Math.log(0.3)};
        // topP 0.75: 0.5 < 0.75 ≤ 0.8, so tokens {1, 3} are kept with renormalized mass 0.5/0.8, 0.3/0.8.
        // topP 0.9 with topK 2: top-k leaves {1, 3} of mass 0.8, and 0.9·0.8 = 0.72 ≤ 0.8 keeps both.
        // topP 0.4: the first token alone reaches 0.4.
        checkTopP(logits, new SamplingParams(1f, 0, 0.75f), new int[] {1, 3}, 0.5 / 0.8);
        checkTopP(logits, new SamplingParams(1f, 2, 0.9f), new int[] {1, 3}, 0.5 / 0.8);
        checkTopP(logits, new SamplingParams(1f, 0, 0.4f), new int[] {1}, 1.0);
        checkTopP(logits, new SamplingParams(1f, 0, 0.97f), new int[] {1, 3, 0, 2}, 0.5);
    }

    private void checkTopP(float[] logits, SamplingParams params, int[] keptInOrder, double firstShare) {
        int grid = 1000;
        float[] rows = new float[grid * logits.length];
        double[] u = new double[grid];
        SamplingParams[] ps = new SamplingParams[grid];
        for (int i = 0; i < grid; i++) {
            System.arraycopy(logits, 0, rows, i * logits.length, logits.length);
            u[i] = (i + 0.5) / grid;
            ps[i] = params;
        }
        try (Tensor t = f32(rows, grid, logits.length)) {
            int[] tokens = ref.sample(t, ps, u);
            TreeSet<Integer> seen = new TreeSet<>();
            for (int token : tokens) {
                seen.add(token);
            }
            TreeSet<Integer> kept = new TreeSet<>();
            for (int token : keptInOrder) {
                kept.add(token);
            }
            assertEquals(kept, seen, "kept set for " + params);
            for (int i = 0; i < grid; i++) {
                // u below the first token's renormalized share picks it (boundary cells excluded)
                if (Math.abs(u[i] - firstShare) > 1.0 / grid) {
                    assertEquals(u[i] < firstShare, tokens[i] == keptInOrder[0], "u=" + u[i] + " " + params);
                }
            }
        }
    }

    // ---------------------------------------------------------------- half floats

    @Test
    void everyHalfAndBfloatPatternRoundTripsExactly() {
        for (int bits = 0; bits < 65536; bits++) {
            short s = (short) bits;
            boolean f16Nan = (bits & 0x7c00) == 0x7c00 && (bits & 0x3ff) != 0;
            float f = HalfFloats.f16ToFloat(s);
            if (f16Nan) {
                assertTrue(Float.isNaN(f) && Float.isNaN(HalfFloats.f16ToFloat(HalfFloats.floatToF16(f))),
                        "F16 NaN " + Integer.toHexString(bits));
            } else {
                assertEquals(bits, HalfFloats.floatToF16(f) & 0xffff, "F16 " + Integer.toHexString(bits));
            }
            boolean bf16Nan = (bits & 0x7f80) == 0x7f80 && (bits & 0x7f) != 0;
            float b = HalfFloats.bf16ToFloat(s);
            if (bf16Nan) {
                assertTrue(Float.isNaN(b) && Float.isNaN(HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(b))),
                        "BF16 NaN " + Integer.toHexString(bits));
            } else {
                assertEquals(bits, HalfFloats.floatToBf16(b) & 0xffff, "BF16 " + Integer.toHexString(bits));
            }
        }
    }

    @Test
    void floatToHalfRoundsToNearestEven() {
        // Normal range: ulp(1) = 2^-10 in F16. Halfway cases go to the even mantissa.
        assertF16(1f + 0x1p-11f, 1f);                    // tie, 1.0 is even
        assertF16(1f + 3 * 0x1p-11f, 1f + 0x1p-9f);      // tie, rounds up to the even 1 + 2·2^-10
        assertF16(1f + 0x1p-11f + 0x1p-20f, 1f + 0x1p-10f); // just above the tie
        assertF16(-(1f + 0x1p-11f), -1f);
        // Overflow edge: 65504 is the largest half; 65520 is the tie with 65536 (→ infinity).
        assertF16(65519.996f, 65504f);
        assertF16(65520f, Float.POSITIVE_INFINITY);
        // Subnormals: the smallest is 2^-24.
        assertF16(0x1p-25f, 0f);                         // tie with 0, 0 is even
        assertF16(3 * 0x1p-25f, 2 * 0x1p-24f);           // tie between 1 and 2 units → 2
        assertF16(0x1p-25f * 1.0001f, 0x1p-24f);
        assertF16(0x1p-14f - 0x1p-25f, 0x1p-14f);        // rounds up into the smallest normal
        // BF16: ulp(1) = 2^-7.
        assertBf16(1f + 0x1p-8f, 1f);
        assertBf16(1f + 3 * 0x1p-8f, 1f + 0x1p-6f);
        assertBf16(1f + 0x1p-8f + 0x1p-20f, 1f + 0x1p-7f);
        assertBf16(Float.intBitsToFloat(0x7f7f8000), Float.POSITIVE_INFINITY); // tie above the largest, odd → up
        assertBf16(Float.intBitsToFloat(0x7f7e8000), Float.intBitsToFloat(0x7f7e0000)); // tie, even → down
    }

    private static void assertF16(float in, float expected) {
        assertEquals(expected, HalfFloats.f16ToFloat(HalfFloats.floatToF16(in)), "F16 of " + in);
    }

    private static void assertBf16(float in, float expected) {
        assertEquals(expected, HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(in)), "BF16 of " + in);
    }

    // ---------------------------------------------------------------- argument checks

    @Test
    void badCallsAreRejectedWithMessagesNamingTheProblem() {
        try (Tensor x = f32(new float[6], 2, 3);
             Tensor w = f32(new float[8], 2, 4);
             Tensor out = ref.allocate(DType.F32, 2, 2);
             Tensor half = ref.allocate(DType.F16, 2, 3); Tensor norm = ref.allocate(DType.F32, 3)) {
            String shape = assertThrows(IllegalArgumentException.class, () -> ref.linear(x, w, out)).getMessage();
            assertTrue(shape.contains("linear: weight F32[2, 4]") && shape.contains("x F32[2, 3]"), shape);

            String dtype = assertThrows(IllegalArgumentException.class,
                    () -> ref.rmsNorm(half, norm, 1e-5f, half)).getMessage();
            assertEquals("rmsNorm: x F16[2, 3]@reference must be F32, the activation dtype of backend reference", dtype);

            AttentionSpec spec = AttentionSpec.of(1, 1, 3, true);
            String starts = assertThrows(IllegalArgumentException.class,
                    () -> ref.attentionPrefill(x, x, x, new int[] {0, 2, 1, 2}, spec, x, null)).getMessage();
            assertTrue(starts.contains("seqStarts must not decrease") && starts.contains("[0, 2, 1, 2]"), starts);
            String first = assertThrows(IllegalArgumentException.class,
                    () -> ref.attentionPrefill(x, x, x, new int[] {1, 2}, spec, x, null)).getMessage();
            assertTrue(first.contains("starting at 0"), first);
        }
        try (Tensor kc = ref.allocate(DType.BF16, 2, 2, 1, 3); Tensor vc = ref.allocate(DType.BF16, 2, 2, 1, 3);
             Tensor k = f32(new float[] {1, 2, 3, 4, 5, 6}, 2, 3); Tensor q = f32(new float[3], 1, 3);
             Tensor out = ref.allocate(DType.F32, 1, 3)) {
            String slot = assertThrows(IllegalArgumentException.class,
                    () -> ref.kvAppend(kc, vc, k, k, new int[] {1, 4})).getMessage();
            assertEquals("kvAppend: slot 4 of row 1 is outside the cache's 4 slots (-1 marks a padding row)", slot);
            // the good row 0 was not written either
            assertArrayEquals(new float[12], ref.download(kc), 0f);
            String below = assertThrows(IllegalArgumentException.class,
                    () -> ref.kvAppend(kc, vc, k, k, new int[] {0, -2})).getMessage();
            assertTrue(below.startsWith("kvAppend: slot -2 of row 1 is outside"), below);
            // -1 is a padding row: row 0 lands in slot 3, row 1 nowhere
            ref.kvAppend(kc, vc, k, k, new int[] {3, -1});
            assertArrayEquals(new float[] {0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3}, ref.download(kc), 0f);

            AttentionSpec spec = AttentionSpec.of(1, 1, 3, true);
            String block = assertThrows(IllegalArgumentException.class,
                    () -> ref.attentionDecode(q, kc, vc, new int[] {0, 2}, 2, new int[] {3}, spec, out, null))
                            .getMessage();
            assertEquals("attentionDecode: block id 2 of sequence 0 is outside the cache's 2 blocks", block);
            String table = assertThrows(IllegalArgumentException.class,
                    () -> ref.attentionDecode(q, kc, vc, new int[] {0}, 1, new int[] {3}, spec, out, null))
                            .getMessage();
            assertTrue(table.contains("context length 3 of sequence 0 needs 2 blocks"), table);
            String copy = assertThrows(IllegalArgumentException.class,
                    () -> ref.copyBlocks(new Tensor[] {kc}, new int[] {0}, new int[] {2})).getMessage();
            assertTrue(copy.contains("0 -> 2") && copy.contains("2 blocks"), copy);
        }
    }

    @Test
    void tensorsOfAnotherBackendAreRejected() {
        try (ReferenceBackend other = new ReferenceBackend(); Tensor foreign = other.allocate(DType.F32, 1, 2);
             Tensor mine = ref.allocate(DType.F32, 1, 2)) {
            String message = assertThrows(IllegalArgumentException.class, () -> ref.add(foreign, mine, mine))
                    .getMessage();
            assertTrue(message.contains("belongs to backend"), message);
        }
    }
}
