package io.attnrt.backend.cpu;

import static io.attnrt.backend.cpu.Compare.assertClose;
import static io.attnrt.backend.cpu.Compare.random;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.attnrt.backend.AttentionSpec;
import io.attnrt.backend.Backend;
import io.attnrt.backend.reference.ReferenceBackend;
import io.attnrt.tensor.DType;
import io.attnrt.backend.Tensor;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The cases the generic op sweep does not aim at: tile boundaries of the flash-attention kernel, split-KV
 * decode, SIMD vs scalar, unusual thread counts, and error handling that leaves outputs untouched.
 */
class CpuBackendTargetedTest {
    private static CpuBackend simd;
    private static CpuBackend scalar;
    private static ReferenceBackend ref;

    @BeforeAll
    static void start() {
        simd = new CpuBackend(2, true);
        scalar = new CpuBackend(2, false);
        ref = new ReferenceBackend();
    }

    @AfterAll
    static void stop() {
        simd.close();
        scalar.close();
        ref.close();
    }

    /** Prefill on the backend and on the reference; returns the backend's out and lse after checking them. */
    private static void checkPrefill(Backend b, int[] seqStarts, AttentionSpec spec, long seed, double amplitude) {
        checkPrefill(b, seqStarts, spec, seed, amplitude, 2e-5);
    }

    /** @param atol absolute tolerance of the outputs (values are in [-1, 1]) */
    private static void checkPrefill(Backend b, int[] seqStarts, AttentionSpec spec, long seed, double amplitude,
                                     double atol) {
        SplittableRandom rng = new SplittableRandom(seed);
        int t = seqStarts[seqStarts.length - 1];
        float[] q = random(rng, t * spec.qWidth(), amplitude);
        float[] k = random(rng, t * spec.kvWidth(), amplitude);
        float[] v = random(rng, t * spec.kvWidth(), 1);
        float[][] expected = prefill(ref, q, k, v, seqStarts, spec);
        float[][] actual = prefill(b, q, k, v, seqStarts, spec);
        String what = b.description() + " prefill " + spec + " seqs " + java.util.Arrays.toString(seqStarts);
        assertClose(expected[0], actual[0], 1e-4, atol, what + " out");
        assertClose(expected[1], actual[1], 1e-5, 1e-4, what + " lse");
    }

    static float[][] prefill(Backend b, float[] q, float[] k, float[] v, int[] seqStarts, AttentionSpec spec) {
        int t = seqStarts[seqStarts.length - 1];
        try (Tensor tq = b.upload(q, DType.F32, t, spec.qWidth());
             Tensor tk = b.upload(k, DType.F32, t, spec.kvWidth());
             Tensor tv = b.upload(v, DType.F32, t, spec.kvWidth());
             Tensor out = b.allocate(DType.F32, t, spec.qWidth());
             Tensor lse = b.allocate(DType.F32, t, spec.numHeads())) {
            b.attentionPrefill(tq, tk, tv, seqStarts, spec, out, lse);
            return new float[][] {b.download(out), b.download(lse)};
        }
    }

    @Test
    void prefillAtKeyAndQueryTileBoundaries() {
        for (CpuBackend b : new CpuBackend[] {simd, scalar}) {
            int keyTile = b.simd() ? new SimdKernels().keyTile() : new ScalarKernels().keyTile();
            for (int g : new int[] {1, 4}) {
                int queryTile = Math.max(1, 128 / g);
                for (int len : new int[] {keyTile - 1, keyTile, keyTile + 1, queryTile - 1, queryTile, queryTile + 1,
                        2 * queryTile + 1}) {
                    for (boolean causal : new boolean[] {true, false}) {
                        AttentionSpec spec = AttentionSpec.of(2 * g, 2, 16, causal);
                        checkPrefill(b, new int[] {0, len}, spec, 31L * len + g, 1.5);
                    }
                }
            }
        }
    }

    @Test
    void prefillWithSlidingWindowAcrossTiles() {
        for (CpuBackend b : new CpuBackend[] {simd, scalar}) {
            for (int window : new int[] {1, 17, 64, 65, 100}) {
                for (boolean causal : new boolean[] {true, false}) {
                    AttentionSpec spec = AttentionSpec.of(4, 2, 24, causal).withWindow(window);
                    checkPrefill(b, new int[] {0, 150, 151, 300}, spec, window, 1.0);
                }
            }
        }
    }

    @Test
    void hugeLogitsStayFinite() {
        // |q·k|·scale reaches ~1e4: without running-max guards exp overflows and outputs turn to NaN. A float
        // score near 1e4 carries ~1e-3 of rounding, which moves each softmax weight by ~1e-3 relative.
        AttentionSpec spec = new AttentionSpec(4, 2, 16, true, 0, 1f);
        for (CpuBackend b : new CpuBackend[] {simd, scalar}) {
            checkPrefill(b, new int[] {0, 70, 200}, spec, 7, 25.0, 3e-3);
        }
    }

    // ------------------------------------------------------------------------------------------ decode

    private static float[][] decode(Backend b, float[] q, float[] kc, float[] vc, DType dtype, int[] cacheShape,
                                    int[] tables, int maxBlocks, int[] lens, AttentionSpec spec) {
        int batch = lens.length;
        try (Tensor tq = b.upload(q, DType.F32, batch, spec.qWidth());
             Tensor tkc = b.upload(kc, dtype, cacheShape);
             Tensor tvc = b.upload(vc, dtype, cacheShape);
             Tensor out = b.allocate(DType.F32, batch, spec.qWidth());
             Tensor lse = b.allocate(DType.F32, batch, spec.numHeads())) {
            b.attentionDecode(tq, tkc, tvc, tables, maxBlocks, lens, spec, out, lse);
            return new float[][] {b.download(out), b.download(lse)};
        }
    }

    @Test
    void splitKvDecodeOnALongContextEqualsTheUnsplitResult() {
        // One sequence and one KV head on 2 threads forces the context split in chunks; a single-thread
        // backend never splits. Both must agree with each other and with the reference.
        int blockSize = 16, ctx = 3000, maxBlocks = (ctx + blockSize - 1) / blockSize;
        AttentionSpec spec = AttentionSpec.of(4, 1, 64, true);
        SplittableRandom rng = new SplittableRandom(5);
        int numBlocks = maxBlocks + 3;
        int[] cacheShape = {numBlocks, blockSize, 1, 64};
        float[] kc = random(rng, numBlocks * blockSize * 64, 1);
        float[] vc = random(rng, numBlocks * blockSize * 64, 1);
        float[] q = random(rng, spec.qWidth(), 2);
        int[] tables = new int[maxBlocks];
        for (int i = 0; i < maxBlocks; i++) {
            tables[i] = numBlocks - 1 - i; // reversed: pages are not in order
        }
        for (DType dtype : DType.elementTypes()) {
            float[][] expected = decode(ref, q, kc, vc, dtype, cacheShape, tables, maxBlocks, new int[] {ctx}, spec);
            try (CpuBackend one = new CpuBackend(1, true)) {
                float[][] unsplit = decode(one, q, kc, vc, dtype, cacheShape, tables, maxBlocks, new int[] {ctx}, spec);
                float[][] split = decode(simd, q, kc, vc, dtype, cacheShape, tables, maxBlocks, new int[] {ctx}, spec);
                assertClose(unsplit[0], split[0], 1e-4, 1e-5, dtype + " split vs unsplit out");
                assertClose(unsplit[1], split[1], 1e-5, 1e-5, dtype + " split vs unsplit lse");
                assertClose(expected[0], split[0], 1e-4, 1e-5, dtype + " split vs reference out");
                assertClose(expected[1], split[1], 1e-5, 1e-5, dtype + " split vs reference lse");
            }
        }
    }

    @Test
    void decodeWithEmptyAndWindowedContexts() {
        int blockSize = 8, maxBlocks = 40;
        AttentionSpec base = AttentionSpec.of(8, 2, 80, true);
        SplittableRandom rng = new SplittableRandom(11);
        int numBlocks = 3 * maxBlocks;
        int[] cacheShape = {numBlocks, blockSize, 2, 80};
        float[] kc = random(rng, numBlocks * blockSize * 160, 1);
        float[] vc = random(rng, numBlocks * blockSize * 160, 1);
        int[] lens = {0, 1, 300};
        float[] q = random(rng, lens.length * base.qWidth(), 1);
        int[] tables = new int[lens.length * maxBlocks];
        for (int i = 0; i < tables.length; i++) {
            tables[i] = (i * 7) % numBlocks;
        }
        for (AttentionSpec spec : new AttentionSpec[] {base, base.withWindow(33)}) {
            float[][] expected = decode(ref, q, kc, vc, DType.F32, cacheShape, tables, maxBlocks, lens, spec);
            for (CpuBackend b : new CpuBackend[] {simd, scalar}) {
                float[][] actual = decode(b, q, kc, vc, DType.F32, cacheShape, tables, maxBlocks, lens, spec);
                assertClose(expected[0], actual[0], 1e-4, 1e-5, b.description() + " out " + spec);
                assertClose(expected[1], actual[1], 1e-5, 1e-5, b.description() + " lse " + spec);
                for (int i = 0; i < base.qWidth(); i++) {
                    assertEquals(0f, actual[0][i], "empty context gives zeros");
                }
                assertEquals(Float.NEGATIVE_INFINITY, actual[1][0], "empty context gives lse -inf");
            }
        }
    }

    @Test
    void decodeAcrossKeyTileEdgesGqaRatiosAndCacheDtypes() {
        // One decode task covers all KV heads of a key chunk and scores 16 keys at a time (SIMD): contexts
        // around the key tile and the 16-key group, every GQA ratio, head dims with and without a vector tail.
        int blockSize = 16;
        for (CpuBackend b : new CpuBackend[] {simd, scalar}) {
            int tile = b.simd() ? new SimdKernels().keyTile() : new ScalarKernels().keyTile();
            int[] ctxs = {1, 15, 16, 17, tile - 1, tile, tile + 1, 3000};
            int maxCtx = 3000, maxBlocks = (maxCtx + blockSize - 1) / blockSize;
            int[][] heads = {{8, 8}, {8, 4}, {8, 2}, {8, 1}, {6, 3}};
            for (int[] h : heads) {
                for (int d : new int[] {64, 72}) {
                    AttentionSpec base = AttentionSpec.of(h[0], h[1], d, true);
                    SplittableRandom rng = new SplittableRandom(31L * h[0] + h[1] + d);
                    int numBlocks = ctxs.length * maxBlocks;
                    int[] cacheShape = {numBlocks, blockSize, h[1], d};
                    float[] kc = random(rng, numBlocks * blockSize * base.kvWidth(), 1);
                    float[] vc = random(rng, numBlocks * blockSize * base.kvWidth(), 1);
                    float[] q = random(rng, ctxs.length * base.qWidth(), 2);
                    int[] tables = new int[ctxs.length * maxBlocks];
                    for (int i = 0; i < tables.length; i++) {
                        tables[i] = (int) ((i * 7919L) % numBlocks); // a permutation: pages out of order
                    }
                    for (AttentionSpec spec : new AttentionSpec[] {base, base.withWindow(tile + 3)}) {
                        // the whole batch, and one long sequence alone (split into chunks on 2 threads)
                        for (int[] lens : new int[][] {ctxs, {maxCtx}}) {
                            for (DType dtype : DType.elementTypes()) {
                                float[] qb = java.util.Arrays.copyOf(q, lens.length * spec.qWidth());
                                float[][] expected = decode(ref, qb, kc, vc, dtype, cacheShape, tables, maxBlocks, lens,
                                        spec);
                                float[][] actual = decode(b, qb, kc, vc, dtype, cacheShape, tables, maxBlocks, lens,
                                        spec);
                                String what = b.description() + " " + dtype + " " + spec + " B=" + lens.length;
                                assertClose(expected[0], actual[0], 1e-4, 2e-5, what + " out");
                                assertClose(expected[1], actual[1], 1e-5, 2e-5, what + " lse");
                            }
                        }
                    }
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------------ linear

    private static float[] linear(Backend b, float[] x, float[] w, DType dtype, int n, int in, int out) {
        try (Tensor tx = b.upload(x, DType.F32, n, in); Tensor tw = b.upload(w, dtype, out, in);
             Tensor to = b.allocate(DType.F32, n, out)) {
            b.linear(tx, tw, to);
            return b.download(to);
        }
    }

    @Test
    void linearAcrossGemvAndGemmPathsAndDtypes() {
        SplittableRandom rng = new SplittableRandom(3);
        int[][] shapes = {{1, 37, 5}, {2, 300, 9}, {3, 64, 64}, {5, 129, 33}, {8, 1000, 70}, {9, 257, 67},
                {40, 513, 130}, {130, 70, 3}};
        for (int[] s : shapes) {
            int n = s[0], in = s[1], out = s[2];
            float[] x = random(rng, n * in, 1);
            float[] w = random(rng, out * in, 1);
            for (DType dtype : DType.elementTypes()) {
                float[] expected = linear(ref, x, w, dtype, n, in, out);
                for (CpuBackend b : new CpuBackend[] {simd, scalar}) {
                    float[] actual = linear(b, x, w, dtype, n, in, out);
                    // error grows like sqrt(in)·ulp of the partial sums (|terms| ≤ 1)
                    assertClose(expected, actual, 1e-5, 2e-6 * Math.sqrt(in) * 4,
                            b.description() + " linear " + java.util.Arrays.toString(s) + " " + dtype);
                }
            }
        }
    }

    @Test
    void halfAndBfloatWeightsWithSubnormalsAndSignedZerosConvertExactly() {
        // x = identity picks out weight element t for token t; every other term is an exact 0.
        float[] w = {0f, -0f, 5.96e-8f, -6.1e-5f, 3.05e-5f, 65504f, -65504f, 1f, -2.5f, 0.1f, 1e-6f, -1e-7f,
                1000.5f, 7f, 3f, 1e-38f, -3e38f};
        int in = w.length;
        float[] x = new float[in * in];
        for (int i = 0; i < in; i++) {
            x[i * in + i] = 1f;
        }
        for (DType dtype : new DType[] {DType.F16, DType.BF16}) {
            for (int tokens : new int[] {1, in, Linear.GEMV_MAX_TOKENS + 1}) { // GEMV, GEMV, GEMM
                float[] xt = java.util.Arrays.copyOf(x, tokens * in); // tokens past in: zero rows
                float[] expected = linear(ref, xt, w, dtype, tokens, in, 1);
                for (CpuBackend b : new CpuBackend[] {simd, scalar}) {
                    float[] actual = linear(b, xt, w, dtype, tokens, in, 1);
                    for (int i = 0; i < tokens; i++) {
                        assertEquals(expected[i], actual[i], 0f, b.description() + " " + dtype + " element " + i);
                    }
                }
            }
        }
    }

    @Test
    void halfWeightsWithInfinityTakeTheExactPathAndWritesAreNoticed() {
        // The GEMV widens halves with a cheaper formula once a weight is known to hold no Inf/NaN. A weight
        // that holds one, or gets one through write(), must still give the reference's infinite outputs.
        int in = 40, out = 6;
        SplittableRandom rng = new SplittableRandom(23);
        float[] x = random(rng, in, 1);
        for (int i = 0; i < in; i++) {
            x[i] = Math.abs(x[i]) + 0.1f; // positive, so +inf · x stays +inf and no inf - inf arises
        }
        float[] w = random(rng, out * in, 1);
        for (CpuBackend b : new CpuBackend[] {simd, scalar}) {
            try (Tensor tx = b.upload(x, DType.F32, 1, in); Tensor tw = b.upload(w, DType.F16, out, in);
                 Tensor to = b.allocate(DType.F32, 1, out)) {
                b.linear(tx, tw, to); // scans and remembers: finite
                assertClose(linear(ref, x, w, DType.F16, 1, in, out), b.download(to), 1e-5, 1e-4, "finite weights");
                float[] withInf = w.clone();
                withInf[2 * in + 7] = Float.POSITIVE_INFINITY;
                withInf[4 * in + 39] = 1e6f; // rounds to +inf in F16
                b.write(tw, withInf);
                b.linear(tx, tw, to);
                float[] actual = b.download(to);
                float[] expected = linear(ref, x, withInf, DType.F16, 1, in, out);
                assertEquals(Float.POSITIVE_INFINITY, expected[2]);
                assertEquals(Float.POSITIVE_INFINITY, expected[4]);
                assertClose(expected, actual, 1e-5, 1e-4, b.description() + " after writing infinities");
            }
        }
    }

    @Test
    void simdAndScalarAgree() {
        SplittableRandom rng = new SplittableRandom(99);
        AttentionSpec spec = AttentionSpec.of(8, 2, 128, true);
        int[] seqs = {0, 200, 333};
        float[] q = random(rng, 333 * spec.qWidth(), 1);
        float[] k = random(rng, 333 * spec.kvWidth(), 1);
        float[] v = random(rng, 333 * spec.kvWidth(), 1);
        float[][] a = prefill(simd, q, k, v, seqs, spec);
        float[][] b = prefill(scalar, q, k, v, seqs, spec);
        assertClose(b[0], a[0], 1e-4, 1e-5, "prefill out simd vs scalar");
        assertClose(b[1], a[1], 1e-5, 1e-5, "prefill lse simd vs scalar");
        float[] x = random(rng, 3 * 777, 1);
        float[] w = random(rng, 50 * 777, 1);
        for (DType dtype : DType.elementTypes()) {
            assertClose(linear(scalar, x, w, dtype, 3, 777, 50), linear(simd, x, w, dtype, 3, 777, 50), 1e-5, 1e-4,
                    "linear " + dtype + " simd vs scalar");
        }
    }

    @Test
    void oneAndThreeThreadsGiveTheReferenceResults() {
        AttentionSpec spec = AttentionSpec.of(4, 1, 64, true);
        SplittableRandom rng = new SplittableRandom(17);
        float[] x = random(rng, 20 * 300, 1);
        float[] w = random(rng, 101 * 300, 1);
        float[] expectedLinear = linear(ref, x, w, DType.BF16, 20, 300, 101);
        for (int threads : new int[] {1, 3}) {
            try (CpuBackend b = new CpuBackend(threads, true)) {
                assertEquals(threads, b.threads());
                checkPrefill(b, new int[] {0, 90, 91, 400}, spec, threads, 1);
                assertClose(expectedLinear, linear(b, x, w, DType.BF16, 20, 300, 101), 1e-5, 1e-4,
                        threads + " threads linear");
                float[] xs = random(rng, 2 * 300, 1);
                assertClose(linear(ref, xs, w, DType.F32, 2, 300, 101), linear(b, xs, w, DType.F32, 2, 300, 101),
                        1e-5, 1e-4, threads + " threads gemv");
            }
        }
    }

    // ------------------------------------------------------------------------------------------ errors

    @Test
    void aBadArgumentThrowsAndLeavesTheOutputUntouched() {
        float[] sentinel = new float[6 * 8];
        java.util.Arrays.fill(sentinel, 42f);
        try (Tensor x = simd.upload(new float[6 * 4], DType.F32, 6, 4);
             Tensor w = simd.upload(new float[8 * 5], DType.F32, 8, 5);
             Tensor out = simd.upload(sentinel, DType.F32, 6, 8)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> simd.linear(x, w, out));
            assertTrue(e.getMessage().contains("input features"), e.getMessage());
            assertArrayEquals(sentinel, simd.download(out));
        }
        AttentionSpec spec = AttentionSpec.of(2, 1, 8, true);
        float[] outSentinel = new float[4 * 16];
        java.util.Arrays.fill(outSentinel, -7f);
        try (Tensor q = simd.upload(new float[4 * 16], DType.F32, 4, 16);
             Tensor k = simd.upload(new float[4 * 8], DType.F32, 4, 8);
             Tensor v = simd.upload(new float[4 * 8], DType.F32, 4, 8);
             Tensor out = simd.upload(outSentinel, DType.F32, 4, 16);
             Tensor foreign = ref.allocate(DType.F32, 4, 2)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> simd.attentionPrefill(q, k, v, new int[] {0, 3, 2, 4}, spec, out, null));
            assertTrue(e.getMessage().contains("seqStarts"), e.getMessage());
            // an lse tensor of another backend is rejected before anything is written
            e = assertThrows(IllegalArgumentException.class,
                    () -> simd.attentionPrefill(q, k, v, new int[] {0, 4}, spec, out, foreign));
            assertTrue(e.getMessage().contains("reference"), e.getMessage());
            assertArrayEquals(outSentinel, simd.download(out));
        }
    }

    @Test
    void closedBackendRefusesOps() {
        CpuBackend b = new CpuBackend(2, true);
        Tensor a = b.upload(new float[] {1, 2}, DType.F32, 1, 2);
        b.close();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> b.add(a, a, a));
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
    }
}
