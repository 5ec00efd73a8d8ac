package io.attnrt.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.attnrt.backend.Backend;
import io.attnrt.backend.SamplingParams;
import io.attnrt.kv.PagedKvCache;
import io.attnrt.tensor.DType;
import io.attnrt.backend.Tensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The whole model against the independent float64 implementation in scripts/make_test_model.py, on every
 * CPU backend. Tolerance 1e-4 on logits of magnitude up to ~13: fp32 accumulation over hidden 64 /
 * intermediate 176 through 2 layers gives errors around 1e-6–1e-5; 1e-4 leaves room without hiding a bug
 * (a wrong mask, rope or GQA mapping moves logits by 1e-1 or more).
 */
class LlamaModelTest {
    static final double LOGIT_TOLERANCE = 1e-4;

    static Stream<Arguments> modelsAndBackends() {
        List<Arguments> args = new ArrayList<>();
        for (Path dir : List.of(TestModels.TINY, TestModels.TINY_BF16_SHARDED, TestModels.TINY_HD64,
                TestModels.TINY_LLAMA3_ROPE, TestModels.TINY_MISTRAL_WINDOW, TestModels.TINY_QWEN2,
                TestModels.TINY_QWEN3)) {
            for (Supplier<Backend> b : TestModels.backends()) {
                args.add(Arguments.of(dir, b));
            }
        }
        return args.stream();
    }

    /** Logits of every prompt position, through a prefill into a fresh paged cache. */
    static float[][] allLogits(TestModels.Loaded m, int[] prompt) {
        try (PagedKvCache cache = m.model().newCache(16, (prompt.length + 15) / 16, DType.F32)) {
            int seq = cache.newSequence();
            int[] slots = cache.prepareAppend(new int[] {seq}, new int[] {prompt.length}).slots();
            float[] flat = m.model().backend().download(m.model().prefill(new int[][] {prompt}, slots, cache, true));
            int v = m.config().vocabSize();
            float[][] rows = new float[prompt.length][];
            for (int i = 0; i < prompt.length; i++) {
                rows[i] = java.util.Arrays.copyOfRange(flat, i * v, (i + 1) * v);
            }
            return rows;
        }
    }

    static double maxAbsDiff(double[] expected, float[] actual) {
        assertEquals(expected.length, actual.length, "vocabulary size");
        double m = 0;
        for (int i = 0; i < expected.length; i++) {
            m = Math.max(m, Math.abs(expected[i] - actual[i]));
        }
        return m;
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("modelsAndBackends")
    void prefillLogitsOfEveryPositionMatchTheReference(Path dir, Supplier<Backend> backend) {
        try (Backend be = backend.get(); TestModels.Loaded m = TestModels.load(dir, be)) {
            for (TestModels.Case c : TestModels.cases(dir)) {
                float[][] got = allLogits(m, c.prompt());
                for (int pos = 0; pos < c.prompt().length; pos++) {
                    double err = maxAbsDiff(c.logits()[pos], got[pos]);
                    assertTrue(err <= LOGIT_TOLERANCE, be.description() + " prompt '" + c.text() + "' position "
                            + pos + ": max |logit error| " + err);
                }
            }
        }
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("modelsAndBackends")
    void greedyContinuationAndStepLogitsMatchTheReference(Path dir, Supplier<Backend> backend) {
        try (Backend be = backend.get(); TestModels.Loaded m = TestModels.load(dir, be)) {
            for (TestModels.Case c : TestModels.cases(dir)) {
                List<float[]> steps = new ArrayList<>();
                Generator gen = m.generator(4, 64);
                GenerationResult r = gen.generate(List.of(GenerationRequest.greedy(c.prompt(), c.greedy().length)),
                        (req, step, logits, token) -> steps.add(logits)).get(0);
                assertNull(r.error());
                assertArrayEquals(c.greedy(), r.generated(), be.description() + " greedy tokens of '" + c.text() + "'");
                for (int s = 0; s < steps.size(); s++) {
                    double err = maxAbsDiff(c.greedyStepLogits()[s], steps.get(s));
                    assertTrue(err <= LOGIT_TOLERANCE, be.description() + " '" + c.text() + "' decode step " + s
                            + ": max |logit error| " + err);
                }
            }
        }
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("modelsAndBackends")
    void prefillThenDecodeEqualsRecomputingTheWholeSequence(Path dir, Supplier<Backend> backend) {
        try (Backend be = backend.get(); TestModels.Loaded m = TestModels.load(dir, be)) {
            int[] prompt = TestModels.cases(dir).get(2).prompt();
            List<float[]> steps = new ArrayList<>();
            SamplingParams sampled = new SamplingParams(0.8f, 20, 0.95f);
            GenerationResult r = m.generator(8, 32).generate(
                    List.of(new GenerationRequest(prompt, 12, sampled, 1234, -1)),
                    (req, step, logits, token) -> steps.add(logits)).get(0);
            int[] full = concat(prompt, r.generated());
            float[][] recomputed = allLogits(m, full);
            for (int s = 0; s < steps.size(); s++) {
                float[] want = recomputed[prompt.length - 1 + s];
                double err = 0;
                for (int i = 0; i < want.length; i++) {
                    err = Math.max(err, Math.abs(want[i] - steps.get(s)[i]));
                }
                assertTrue(err <= LOGIT_TOLERANCE, be.description() + " step " + s + ": incremental vs recomputed logits differ by "
                        + err);
            }
        }
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("modelsAndBackends")
    void aBatchEqualsRunningItsSequencesOneByOne(Path dir, Supplier<Backend> backend) {
        try (Backend be = backend.get(); TestModels.Loaded m = TestModels.load(dir, be)) {
            List<GenerationRequest> requests = new ArrayList<>();
            for (TestModels.Case c : TestModels.cases(dir)) {
                requests.add(new GenerationRequest(c.prompt(), 9, new SamplingParams(1.0f, 0, 0.9f), c.prompt().length, -1));
            }
            float[][][] batchLast = new float[requests.size()][][];
            List<GenerationResult> batched = m.generator(4, 128).generate(requests,
                    (req, step, logits, token) -> record(batchLast, req, step, logits));
            for (int i = 0; i < requests.size(); i++) {
                float[][][] soloLast = new float[requests.size()][][];
                int idx = i;
                GenerationResult solo = m.generator(4, 128).generate(List.of(requests.get(i)),
                        (req, step, logits, token) -> record(soloLast, idx, step, logits)).get(0);
                assertArrayEquals(solo.generated(), batched.get(i).generated(), be.description() + " request " + i);
                for (int s = 0; s < soloLast[i].length; s++) {
                    double err = maxAbsDiff(toDouble(soloLast[i][s]), batchLast[i][s]);
                    assertTrue(err <= LOGIT_TOLERANCE, "request " + i + " step " + s + " batched vs solo logits differ by " + err);
                }
            }
        }
    }

    /**
     * The general step: prompts added in chunks after what is cached (as chat turns and chunked prefill do)
     * and, in the same steps, another sequence decoding — every last-token logit equal to the reference's.
     */
    /**
     * The step's buffers, logits included, are the model's: decode steps of one batch size return the same
     * tensor and allocate nothing; a caller that closes the logits only costs the next step a reallocation.
     */
    @org.junit.jupiter.api.Test
    void decodeStepsOfOneBatchSizeReuseTheirBuffers() {
        try (Backend be = new io.attnrt.backend.cpu.CpuBackend(1, true);
             TestModels.Loaded m = TestModels.load(TestModels.TINY, be);
             PagedKvCache cache = m.model().newCache(16, 4, DType.F32)) {
            int[] seqs = {cache.newSequence(), cache.newSequence()};
            int[][] prompts = {{1, 5, 9}, {2, 7}};
            m.model().extend(seqs, prompts, cache.prepareAppend(seqs, new int[] {3, 2}).slots(), cache);
            Tensor first = step(m, cache, seqs, 11);
            long held = be.bytesInUse();
            Tensor second = step(m, cache, seqs, 12);
            assertTrue(first == second, "the second decode step returned a new logits tensor");
            assertEquals(held, be.bytesInUse(), "a decode step of the same batch size allocated");
            second.close();
            Tensor third = step(m, cache, seqs, 13);
            assertTrue(!third.isFreed() && third.dim(0) == 2, "the step after a caller closed the logits");
            assertEquals(held, be.bytesInUse(), "the reallocated buffers differ in size");
        }
    }

    private static Tensor step(TestModels.Loaded m, PagedKvCache cache, int[] seqs, int token) {
        int[][] next = {{token}, {token + 1}};
        return m.model().extend(seqs, next, cache.prepareAppend(seqs, new int[] {1, 1}).slots(), cache);
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("modelsAndBackends")
    void chunksAfterACachedPrefixMixedWithDecodeMatchTheReference(Path dir, Supplier<Backend> backend) {
        try (Backend be = backend.get(); TestModels.Loaded m = TestModels.load(dir, be)) {
            checkChunksAfterACachedPrefix(m, dir, LOGIT_TOLERANCE);
        }
    }

    /** The body of the test above, for every backend (the cuda one runs it with its BF16 bound). */
    static void checkChunksAfterACachedPrefix(TestModels.Loaded m, Path dir, double tolerance) {
        try (PagedKvCache cache = m.model().newCache(4, 64, DType.F32)) {
            List<TestModels.Case> cases = TestModels.cases(dir);
            TestModels.Case a = cases.get(0);
            TestModels.Case b = cases.get(cases.size() - 1);
            int seqA = cache.newSequence();
            int seqB = cache.newSequence();
            // A: whole prompt first; B: its first token alone (cached prefix of length 1).
            int[][] first = {a.prompt(), java.util.Arrays.copyOf(b.prompt(), 1)};
            int[] ids = {seqA, seqB};
            expectRows(m, cache, ids, first, new double[][] {a.logits()[a.prompt().length - 1], b.logits()[0]}, "step 0",
                    tolerance);
            // Then A decodes its greedy tokens while B's prompt arrives in chunks of 1, 2, 3... tokens.
            int at = 1;
            for (int step = 0; step + 1 < a.greedyStepLogits().length && at < b.prompt().length; step++) {
                int n = Math.min(step + 1, b.prompt().length - at);
                int[][] chunk = {new int[] {a.greedy()[step]}, java.util.Arrays.copyOfRange(b.prompt(), at, at + n)};
                at += n;
                expectRows(m, cache, ids, chunk, new double[][] {a.greedyStepLogits()[step + 1], b.logits()[at - 1]},
                        "step " + (step + 1) + " (B +" + n + " tokens)", tolerance);
            }
            assertTrue(at > 3, "the chunks covered too little of '" + b.text() + "' to test anything");
        }
    }

    private static void expectRows(TestModels.Loaded m, PagedKvCache cache, int[] seqs, int[][] tokens,
                                   double[][] want, String what, double tolerance) {
        int[] counts = new int[seqs.length];
        for (int i = 0; i < seqs.length; i++) {
            counts[i] = tokens[i].length;
        }
        int[] slots = cache.prepareAppend(seqs, counts).slots();
        float[] flat = m.model().backend().download(m.model().extend(seqs, tokens, slots, cache));
        int v = m.config().vocabSize();
        for (int i = 0; i < seqs.length; i++) {
            double err = maxAbsDiff(want[i], java.util.Arrays.copyOfRange(flat, i * v, (i + 1) * v));
            assertTrue(err <= tolerance, m.model().backend().description() + " " + what + ", sequence "
                    + i + ": max |logit error| " + err);
        }
    }

    private static void record(float[][][] into, int req, int step, float[] logits) {
        if (into[req] == null) {
            into[req] = new float[9][];
        }
        into[req][step] = logits;
    }

    static int[] concat(int[] a, int[] b) {
        int[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    static double[] toDouble(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }
}
