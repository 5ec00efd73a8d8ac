package io.attnrt.verify;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.attnrt.backend.AttentionSpec;
import io.attnrt.backend.RopeSpec;
import io.attnrt.backend.RopeStyle;
import io.attnrt.backend.reference.ReferenceBackend;
import io.attnrt.backend.Tensor;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class OpSuiteTest {

    /** Every op of the Backend interface, by reflection, so a new op without cases fails this test. */
    private static Set<String> backendOps() {
        Set<String> ops = new TreeSet<>();
        Set<String> notOps = Set.of("name", "description", "activationDType", "weightDType", "allocate", "upload",
                "uploadRaw", "download", "write", "free", "bytesInUse", "synchronize", "close");
        for (Method m : io.attnrt.backend.Backend.class.getDeclaredMethods()) {
            if (!notOps.contains(m.getName()) && !m.isSynthetic()) {
                ops.add(m.getName());
            }
        }
        return ops;
    }

    @Test
    void standardSuitePassesWithZeroErrorAgainstASecondReference() {
        try (ReferenceBackend candidate = new ReferenceBackend(); ReferenceBackend reference = new ReferenceBackend()) {
            List<OpCase> cases = OpSuite.standard();
            List<OpResult> seen = new ArrayList<>();
            List<OpResult> results = OpSuite.runAll(cases, candidate, reference, seen::add);
            assertEquals(cases.size(), results.size());
            assertEquals(results, seen, "progress sees every result in order");
            for (OpResult r : results) {
                assertTrue(r.passed(), r.summary());
                assertEquals(0.0, r.maxAbsError(), r.summary());
                assertEquals(0.0, r.maxRelError(), r.summary());
            }
            assertEquals(backendOps(),
                    results.stream().map(OpResult::op).collect(Collectors.toCollection(TreeSet::new)),
                    "every op of Backend has cases");
            assertEquals(0, candidate.bytesInUse(), "candidate tensors leaked");
            assertEquals(0, reference.bytesInUse(), "reference tensors leaked");
        }
    }

    /** The reference's own arithmetic, storing every activation in a 16-bit dtype (each write rounds). */
    static ReferenceBackend sixteenBit(io.attnrt.tensor.DType dtype, float attentionScaleError) {
        return new ReferenceBackend() {
            @Override
            public io.attnrt.tensor.DType activationDType() {
                return dtype;
            }

            @Override
            public void attentionPrefill(Tensor q, Tensor k, Tensor v, int[] seqStarts, AttentionSpec spec, Tensor out,
                                         Tensor lse) {
                AttentionSpec s = new AttentionSpec(spec.numHeads(), spec.numKvHeads(), spec.headDim(), spec.causal(),
                        spec.window(), spec.scale() * (1 + attentionScaleError));
                super.attentionPrefill(q, k, v, seqStarts, s, out, lse);
            }
        };
    }

    /**
     * With BF16 or F16 activations the suite rounds the inputs for both sides, compares 16-bit outputs with
     * the reference rounded alike and allows one step of the dtype's spacing: honest 16-bit storage passes,
     * and a 1% error in the attention scale — smaller than any real bug — still fails.
     */
    @ParameterizedTest
    @EnumSource(value = io.attnrt.tensor.DType.class, names = {"BF16", "F16"})
    void sixteenBitActivationsHaveTolerancesThatPassHonestRoundingAndCatchErrors(io.attnrt.tensor.DType dtype) {
        try (ReferenceBackend candidate = sixteenBit(dtype, 0); ReferenceBackend reference = new ReferenceBackend()) {
            List<OpResult> results = OpSuite.runAll(OpSuite.quick(), candidate, reference, null);
            for (OpResult r : results) {
                assertTrue(r.passed(), r.summary());
            }
        }
        try (ReferenceBackend broken = sixteenBit(dtype, 0.01f); ReferenceBackend reference = new ReferenceBackend()) {
            List<OpResult> results = OpSuite.runAll(OpSuite.quick(), broken, reference, null);
            assertTrue(results.stream().filter(r -> r.op().equals("attentionPrefill")).anyMatch(r -> !r.passed()),
                    "a 1% attention scale error must fail a case");
        }
    }

    /**
     * The tolerances are loose enough for honest fp32 arithmetic (serial fp32 sums, online softmax, fp32
     * rope angles): a correct fast backend is not failed by its precision.
     */
    @Test
    void standardSuiteAdmitsAnHonestFp32Backend() {
        try (Fp32Backend candidate = new Fp32Backend(); ReferenceBackend reference = new ReferenceBackend()) {
            List<OpResult> results = OpSuite.runAll(OpSuite.standard(), candidate, reference, null);
            for (OpResult r : results) {
                assertTrue(r.passed(), r.summary());
            }
            // and it really differs from the reference: the comparison is not vacuous
            assertTrue(results.stream().anyMatch(r -> r.op().equals("attentionPrefill") && r.maxAbsError() > 0));
            assertTrue(results.stream().anyMatch(r -> r.op().equals("linear") && r.maxAbsError() > 0));
            assertTrue(results.stream().anyMatch(r -> r.op().equals("rope") && r.maxAbsError() > 0));
        }
    }

    @Test
    void quickIsAUniquelyNamedSubsetOfStandardCoveringEveryOp() {
        List<OpCase> standard = OpSuite.standard();
        List<OpCase> quick = OpSuite.quick();
        Set<String> standardNames = new HashSet<>();
        for (OpCase c : standard) {
            assertTrue(standardNames.add(c.op() + " " + c.shape()), "duplicate case " + c.op() + " " + c.shape());
        }
        for (OpCase c : quick) {
            assertTrue(standardNames.contains(c.op() + " " + c.shape()), "quick case not in standard: " + c.shape());
        }
        assertTrue(quick.size() >= 30 && quick.size() <= 50, "quick has " + quick.size() + " cases");
        assertEquals(backendOps(), quick.stream().map(OpCase::op).collect(Collectors.toCollection(TreeSet::new)));
    }

    // ---------------------------------------------------------------- the harness catches bugs

    enum Bug {
        WRONG_SCALE(Set.of("attentionPrefill", "attentionDecode")),
        CAUSAL_OFF_BY_ONE(Set.of("attentionPrefill")),
        GQA_MODULO(Set.of("attentionPrefill", "attentionDecode")),
        DECODE_SKIPS_EMPTY_CONTEXT(Set.of("attentionDecode")),
        ROPE_STYLE_SWAPPED(Set.of("rope", "ropeQK")),
        ARGMAX_LAST_TIE(Set.of("argmax")),
        KV_APPEND_OFF_BY_ONE_SLOT(Set.of("kvAppend"));

        final Set<String> ops;

        Bug(Set<String> ops) {
            this.ops = ops;
        }
    }

    /**
     * A reference with exactly one deliberate bug: the quick suite must fail some case of the buggy op
     * and pass every case of every other op (the failure is the bug's, not harness noise).
     */
    @ParameterizedTest
    @EnumSource(Bug.class)
    void harnessCatchesABrokenOp(Bug bug) {
        try (BrokenBackend candidate = new BrokenBackend(bug); ReferenceBackend reference = new ReferenceBackend()) {
            List<OpResult> results = OpSuite.runAll(OpSuite.quick(), candidate, reference, null);
            List<OpResult> failed = results.stream().filter(r -> !r.passed()).toList();
            assertFalse(failed.isEmpty(), bug + " went unnoticed");
            for (OpResult r : failed) {
                assertTrue(bug.ops.contains(r.op()), bug + " made an unrelated case fail: " + r.summary());
            }
            assertEquals(0, candidate.bytesInUse());
            assertEquals(0, reference.bytesInUse());
            if (bug == Bug.ROPE_STYLE_SWAPPED || bug == Bug.WRONG_SCALE) {
                // These corrupt every case of their op (each rope case has non-zero positions; each
                // attention case has a row with 2+ visible keys or an lse output).
                for (OpResult r : results) {
                    if (bug.ops.contains(r.op())) {
                        assertFalse(r.passed(), bug + " passed " + r.summary());
                    }
                }
            }
            if (bug == Bug.DECODE_SKIPS_EMPTY_CONTEXT) {
                // The unwritten rows are NaN (outputs start NaN-filled), reported as an error.
                assertTrue(failed.stream().allMatch(r -> r.error() != null && r.error().contains("NaN")),
                        failed.toString());
            }
        }
    }

    @Test
    void aThrowingBackendFailsWithTheExceptionTextAndLeaksNothing() {
        ReferenceBackend throwing = new ReferenceBackend() {
            @Override
            public void linear(Tensor x, Tensor weight, Tensor out, boolean accumulate) {
                throw new IllegalStateException("linear kernel exploded on " + weight.describe());
            }
        };
        try (throwing; ReferenceBackend reference = new ReferenceBackend()) {
            List<OpResult> results = OpSuite.runAll(OpSuite.quick(), throwing, reference, null);
            for (OpResult r : results) {
                if (r.op().equals("linear")) {
                    assertFalse(r.passed());
                    assertNotNull(r.error());
                    assertTrue(r.error().startsWith("IllegalStateException: linear kernel exploded on "), r.error());
                    assertTrue(Double.isNaN(r.maxAbsError()));
                } else {
                    assertTrue(r.passed(), r.summary());
                }
            }
            assertEquals(0, throwing.bytesInUse(), "inputs of the failed runs were freed");
            assertEquals(0, reference.bytesInUse());
        }
    }

    @Test
    void nanFromTheCandidateIsAnErrorNotJustALargeDifference() {
        // silu as e^x/(1+e^x)·x in float: ∞/∞ = NaN for gates above 88.7.
        ReferenceBackend naive = new ReferenceBackend() {
            @Override
            public void swiglu(Tensor gateUp, Tensor out) {
                float[] gu = download(gateUp);
                int f = out.dim(1);
                float[] o = new float[(int) out.numel()];
                for (int i = 0; i < o.length; i++) {
                    float g = gu[i / f * 2 * f + i % f];
                    float e = (float) Math.exp(g);
                    o[i] = g * (e / (1f + e)) * gu[i / f * 2 * f + f + i % f];
                }
                write(out, o);
            }
        };
        try (naive; ReferenceBackend reference = new ReferenceBackend()) {
            List<OpResult> swiglu = OpSuite.runAll(
                    OpSuite.quick().stream().filter(c -> c.op().equals("swiglu")).toList(),
                    naive, reference, null);
            List<OpResult> large = swiglu.stream().filter(r -> r.shape().contains("|gate|<=100")).toList();
            assertEquals(1, large.size());
            assertFalse(large.get(0).passed());
            assertTrue(large.get(0).error().contains("candidate returned NaN"), large.get(0).error());
            // with moderate gates the naive form is accurate enough: only the overflow is caught
            assertTrue(swiglu.stream().filter(r -> !r.shape().contains("|gate|<=100")).allMatch(OpResult::passed),
                    swiglu.toString());
        }
    }

    // ---------------------------------------------------------------- broken backends

    /** The reference with one bug injected; attention bugs use a small double-precision re-implementation. */
    static final class BrokenBackend extends ReferenceBackend {
        private final Bug bug;

        BrokenBackend(Bug bug) {
            this.bug = bug;
        }

        private static AttentionSpec scaled(AttentionSpec s) {
            return new AttentionSpec(s.numHeads(), s.numKvHeads(), s.headDim(), s.causal(), s.window(),
                    s.scale() * 1.05f);
        }

        private int kvHead(AttentionSpec spec, int h) {
            return bug == Bug.GQA_MODULO ? h % spec.numKvHeads() : h / spec.groupSize();
        }

        private boolean visible(AttentionSpec spec, int i, int j) {
            if (bug == Bug.CAUSAL_OFF_BY_ONE) {
                return (!spec.causal() || j <= i + 1) && (spec.window() == 0 || i - j < spec.window());
            }
            return spec.visible(i, j);
        }

        @Override
        public void attentionPrefill(Tensor q, Tensor k, Tensor v, int[] seqStarts, AttentionSpec spec, Tensor out,
                                     Tensor lse) {
            switch (bug) {
                case WRONG_SCALE -> super.attentionPrefill(q, k, v, seqStarts, scaled(spec), out, lse);
                case CAUSAL_OFF_BY_ONE, GQA_MODULO -> {
                    float[] qs = download(q);
                    float[] ks = download(k);
                    float[] vs = download(v);
                    float[] o = new float[qs.length];
                    float[] l = new float[seqStarts[seqStarts.length - 1] * spec.numHeads()];
                    for (int s = 0; s + 1 < seqStarts.length; s++) {
                        int start = seqStarts[s];
                        int length = seqStarts[s + 1] - start;
                        for (int i = 0; i < length; i++) {
                            for (int h = 0; h < spec.numHeads(); h++) {
                                int[] rows = new int[length];
                                boolean[] vis = new boolean[length];
                                for (int j = 0; j < length; j++) {
                                    rows[j] = start + j;
                                    vis[j] = visible(spec, i, j);
                                }
                                attend(spec, qs, (start + i) * spec.qWidth() + h * spec.headDim(), ks, vs, rows,
                                        vis, kvHead(spec, h), o, l, (start + i) * spec.numHeads() + h);
                            }
                        }
                    }
                    write(out, o);
                    if (lse != null) {
                        write(lse, l);
                    }
                }
                default -> super.attentionPrefill(q, k, v, seqStarts, spec, out, lse);
            }
        }

        @Override
        public void attentionDecode(Tensor q, Tensor keyCache, Tensor valueCache, int[] blockTables,
                                    int maxBlocksPerSeq, int[] contextLens, AttentionSpec spec, Tensor out,
                                    Tensor lse) {
            switch (bug) {
                case WRONG_SCALE -> super.attentionDecode(q, keyCache, valueCache, blockTables, maxBlocksPerSeq,
                        contextLens, scaled(spec), out, lse);
                case GQA_MODULO -> {
                    float[] qs = download(q);
                    float[] ks = download(keyCache);
                    float[] vs = download(valueCache);
                    int blockSize = keyCache.dim(1);
                    float[] o = new float[qs.length];
                    float[] l = new float[contextLens.length * spec.numHeads()];
                    for (int b = 0; b < contextLens.length; b++) {
                        int length = contextLens[b];
                        int[] rows = new int[length];
                        boolean[] vis = new boolean[length];
                        for (int t = 0; t < length; t++) {
                            rows[t] = blockTables[b * maxBlocksPerSeq + t / blockSize] * blockSize + t % blockSize;
                            vis[t] = spec.visible(length - 1, t);
                        }
                        for (int h = 0; h < spec.numHeads(); h++) {
                            attend(spec, qs, b * spec.qWidth() + h * spec.headDim(), ks, vs, rows, vis,
                                    kvHead(spec, h), o, l, b * spec.numHeads() + h);
                        }
                    }
                    write(out, o);
                    if (lse != null) {
                        write(lse, l);
                    }
                }
                case DECODE_SKIPS_EMPTY_CONTEXT -> {
                    // Rows of empty sequences keep whatever the output held before.
                    float[] before = download(out);
                    super.attentionDecode(q, keyCache, valueCache, blockTables, maxBlocksPerSeq, contextLens, spec,
                            out, lse);
                    float[] after = download(out);
                    for (int b = 0; b < contextLens.length; b++) {
                        if (contextLens[b] == 0) {
                            System.arraycopy(before, b * spec.qWidth(), after, b * spec.qWidth(), spec.qWidth());
                        }
                    }
                    write(out, after);
                }
                default -> super.attentionDecode(q, keyCache, valueCache, blockTables, maxBlocksPerSeq, contextLens,
                        spec, out, lse);
            }
        }

        /** Softmax attention of one query head over the given K/V rows (row-major [rows, kvWidth]). */
        private static void attend(AttentionSpec spec, float[] q, int qOffset, float[] k, float[] v, int[] rows,
                                   boolean[] visible, int kvHead, float[] out, float[] lse, int lseIndex) {
            int d = spec.headDim();
            double[] scores = new double[rows.length];
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < rows.length; j++) {
                double dot = 0;
                for (int e = 0; e < d; e++) {
                    dot += (double) q[qOffset + e] * k[rows[j] * spec.kvWidth() + kvHead * d + e];
                }
                scores[j] = visible[j] ? dot * spec.scale() : Double.NEGATIVE_INFINITY;
                max = Math.max(max, scores[j]);
            }
            double sum = 0;
            double[] acc = new double[d];
            for (int j = 0; j < rows.length; j++) {
                if (visible[j]) {
                    double w = Math.exp(scores[j] - max);
                    sum += w;
                    for (int e = 0; e < d; e++) {
                        acc[e] += w * v[rows[j] * spec.kvWidth() + kvHead * d + e];
                    }
                }
            }
            for (int e = 0; e < d; e++) {
                out[qOffset + e] = sum == 0 ? 0f : (float) (acc[e] / sum);
            }
            lse[lseIndex] = sum == 0 ? Float.NEGATIVE_INFINITY : (float) (max + Math.log(sum));
        }

        @Override
        public void rope(Tensor x, int[] positions, int numHeads, int headDim, RopeSpec rope) {
            if (bug == Bug.ROPE_STYLE_SWAPPED) {
                RopeStyle other = rope.style() == RopeStyle.ROTATE_HALF ? RopeStyle.INTERLEAVED : RopeStyle.ROTATE_HALF;
                super.rope(x, positions, numHeads, headDim, new RopeSpec(rope.theta(), other));
            } else {
                super.rope(x, positions, numHeads, headDim, rope);
            }
        }

        @Override
        public int[] argmax(Tensor logits) {
            if (bug != Bug.ARGMAX_LAST_TIE) {
                return super.argmax(logits);
            }
            float[] l = download(logits);
            int vocab = logits.dim(1);
            int[] result = new int[logits.dim(0)];
            for (int b = 0; b < result.length; b++) {
                int best = 0;
                for (int i = 1; i < vocab; i++) {
                    if (l[b * vocab + i] >= l[b * vocab + best]) {
                        best = i;
                    }
                }
                result[b] = best;
            }
            return result;
        }

        @Override
        public void kvAppend(Tensor keyCache, Tensor valueCache, Tensor k, Tensor v, int[] slots) {
            if (bug != Bug.KV_APPEND_OFF_BY_ONE_SLOT) {
                super.kvAppend(keyCache, valueCache, k, v, slots);
                return;
            }
            int capacity = keyCache.dim(0) * keyCache.dim(1);
            int[] shifted = new int[slots.length];
            for (int i = 0; i < slots.length; i++) {
                shifted[i] = (slots[i] + 1) % capacity;
            }
            super.kvAppend(keyCache, valueCache, k, v, shifted);
        }
    }
}
