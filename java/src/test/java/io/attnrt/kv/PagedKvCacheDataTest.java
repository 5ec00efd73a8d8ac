package io.attnrt.kv;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.attnrt.backend.AttentionSpec;
import io.attnrt.backend.Backend;
import io.attnrt.backend.reference.ReferenceBackend;
import io.attnrt.tensor.DType;
import io.attnrt.tensor.HalfFloats;
import io.attnrt.backend.Tensor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The cache with real data on the reference backend: K/V rows written through the planned slots land where
 * the block tables say, and paged decode attention equals attention over the same rows laid out
 * contiguously (computed here in double precision).
 */
class PagedKvCacheDataTest {
    private static final int LAYERS = 2;
    private static final int HEADS = 4;
    private static final int KV_HEADS = 2;
    private static final int HEAD_DIM = 8;
    private static final int KV_WIDTH = KV_HEADS * HEAD_DIM;
    private static final AttentionSpec CAUSAL = AttentionSpec.of(HEADS, KV_HEADS, HEAD_DIM, true);
    /**
     * Inputs are O(1) and outputs are convex combinations of value rows, so fp32 accumulation over a few
     * hundred keys stays within ~1e-6; the K/V themselves are compared exactly (after rounding to the
     * cache dtype, which the expectation applies too).
     */
    private static final double TOLERANCE = 2e-5;

    private final Backend backend = new ReferenceBackend();
    private final Random rnd = new Random(20240611);
    private PagedKvCache cache;

    @AfterEach
    void tearDown() {
        if (cache != null) {
            cache.checkInvariants();
            cache.close();
        }
        backend.close();
    }

    /** The K/V rows a sequence should hold, per layer, as the cache stores them (rounded to its dtype). */
    private static final class Rows {
        final List<List<float[]>> keys = new ArrayList<>();
        final List<List<float[]>> values = new ArrayList<>();

        Rows() {
            for (int l = 0; l < LAYERS; l++) {
                keys.add(new ArrayList<>());
                values.add(new ArrayList<>());
            }
        }

        Rows copy() {
            Rows r = new Rows();
            for (int l = 0; l < LAYERS; l++) {
                r.keys.get(l).addAll(keys.get(l));
                r.values.get(l).addAll(values.get(l));
            }
            return r;
        }

        int length() {
            return keys.get(0).size();
        }
    }

    private float[] random(int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = rnd.nextFloat() * 2 - 1;
        }
        return a;
    }

    /** Reserves, then writes fresh random K/V rows for every layer exactly as a model would. */
    private AppendPlan append(int[] seqs, int[] counts, Rows[] rows) {
        AppendPlan plan = cache.prepareAppend(seqs, counts);
        int n = plan.numTokens();
        for (int l = 0; l < LAYERS; l++) {
            float[] k = random(n * KV_WIDTH);
            float[] v = random(n * KV_WIDTH);
            try (Tensor kt = backend.upload(k, DType.F32, n, KV_WIDTH);
                 Tensor vt = backend.upload(v, DType.F32, n, KV_WIDTH)) {
                backend.kvAppend(cache.keyCache(l), cache.valueCache(l), kt, vt, plan.slots());
            }
            int t = 0;
            for (int i = 0; i < seqs.length; i++) {
                for (int j = 0; j < counts[i]; j++, t++) {
                    rows[i].keys.get(l).add(rounded(k, t));
                    rows[i].values.get(l).add(rounded(v, t));
                }
            }
        }
        return plan;
    }

    private AppendPlan append(int seq, int count, Rows rows) {
        return append(new int[] {seq}, new int[] {count}, new Rows[] {rows});
    }

    private float[] rounded(float[] data, int row) {
        float[] r = new float[KV_WIDTH];
        for (int i = 0; i < KV_WIDTH; i++) {
            r[i] = HalfFloats.roundTo(cache.cacheDtype(), data[row * KV_WIDTH + i]);
        }
        return r;
    }

    /** (a) The downloaded pool holds each token's rows at the slot its block table gives. */
    private void assertContents(int seq, Rows rows) {
        int[] table = cache.blockTable(seq);
        int bs = cache.blockSize();
        assertEquals(rows.length(), cache.length(seq), "length of sequence " + seq);
        assertEquals((rows.length() + bs - 1) / bs, table.length, "blocks of sequence " + seq);
        for (int l = 0; l < LAYERS; l++) {
            float[] keys = backend.download(cache.keyCache(l));
            float[] values = backend.download(cache.valueCache(l));
            for (int pos = 0; pos < rows.length(); pos++) {
                int slot = table[pos / bs] * bs + pos % bs;
                float[] k = new float[KV_WIDTH];
                float[] v = new float[KV_WIDTH];
                System.arraycopy(keys, slot * KV_WIDTH, k, 0, KV_WIDTH);
                System.arraycopy(values, slot * KV_WIDTH, v, 0, KV_WIDTH);
                assertArrayEquals(rows.keys.get(l).get(pos), k, "key of token " + pos + " of sequence " + seq + ", layer " + l);
                assertArrayEquals(rows.values.get(l).get(pos), v, "value of token " + pos + " of sequence " + seq + ", layer " + l);
            }
        }
    }

    /** Paged decode of every layer for {@code seqs} with query {@code q}: [layer][B·qWidth], then lse. */
    private float[][] decode(int[] seqs, float[] q, AttentionSpec spec) {
        BlockTables bt = cache.decodeTables(seqs);
        int b = seqs.length;
        float[][] result = new float[2 * LAYERS][];
        try (Tensor qt = backend.upload(q, DType.F32, b, spec.qWidth());
             Tensor out = backend.allocate(DType.F32, b, spec.qWidth());
             Tensor lse = backend.allocate(DType.F32, b, spec.numHeads())) {
            for (int l = 0; l < LAYERS; l++) {
                backend.attentionDecode(qt, cache.keyCache(l), cache.valueCache(l), bt.blockTables(),
                        bt.maxBlocksPerSeq(), bt.contextLens(), spec, out, lse);
                result[2 * l] = backend.download(out);
                result[2 * l + 1] = backend.download(lse);
            }
        }
        return result;
    }

    /** (b) Paged decode equals attention of the last position over the contiguous rows. */
    private void assertDecodeMatchesContiguous(int[] seqs, Rows[] rows, AttentionSpec spec) {
        float[] q = random(seqs.length * spec.qWidth());
        float[][] got = decode(seqs, q, spec);
        for (int l = 0; l < LAYERS; l++) {
            for (int b = 0; b < seqs.length; b++) {
                double[][] expected = contiguousAttention(q, b, rows[b].keys.get(l), rows[b].values.get(l), spec);
                for (int h = 0; h < HEADS; h++) {
                    for (int d = 0; d < HEAD_DIM; d++) {
                        int i = b * spec.qWidth() + h * HEAD_DIM + d;
                        assertEquals(expected[h][d], got[2 * l][i], TOLERANCE, "output of sequence " + seqs[b]
                                + " (length " + rows[b].length() + "), head " + h + ", dim " + d + ", layer " + l);
                    }
                    float lse = got[2 * l + 1][b * HEADS + h];
                    if (Double.isInfinite(expected[h][HEAD_DIM])) {
                        assertEquals(Float.NEGATIVE_INFINITY, lse, "lse of an empty sequence");
                    } else {
                        assertEquals(expected[h][HEAD_DIM], lse, TOLERANCE, "lse of sequence " + seqs[b] + ", head " + h);
                    }
                }
            }
        }
    }

    /** Per head: the output row, then the log-sum-exp at index headDim. Plain double-precision attention. */
    private static double[][] contiguousAttention(float[] q, int b, List<float[]> keys, List<float[]> values,
                                                  AttentionSpec spec) {
        int n = keys.size();
        int i = n - 1;
        double[][] result = new double[HEADS][HEAD_DIM + 1];
        for (int h = 0; h < HEADS; h++) {
            int kvh = h / spec.groupSize();
            double[] scores = new double[n];
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < n; j++) {
                if (!spec.visible(i, j)) {
                    scores[j] = Double.NEGATIVE_INFINITY;
                    continue;
                }
                double dot = 0;
                for (int d = 0; d < HEAD_DIM; d++) {
                    dot += (double) q[b * spec.qWidth() + h * HEAD_DIM + d] * keys.get(j)[kvh * HEAD_DIM + d];
                }
                scores[j] = dot * spec.scale();
                max = Math.max(max, scores[j]);
            }
            if (max == Double.NEGATIVE_INFINITY) {
                result[h][HEAD_DIM] = Double.NEGATIVE_INFINITY;
                continue;
            }
            double sum = 0;
            for (int j = 0; j < n; j++) {
                if (scores[j] != Double.NEGATIVE_INFINITY) {
                    double w = Math.exp(scores[j] - max);
                    sum += w;
                    for (int d = 0; d < HEAD_DIM; d++) {
                        result[h][d] += w * values.get(j)[kvh * HEAD_DIM + d];
                    }
                }
            }
            for (int d = 0; d < HEAD_DIM; d++) {
                result[h][d] /= sum;
            }
            result[h][HEAD_DIM] = max + Math.log(sum);
        }
        return result;
    }

    // ---------------------------------------------------------------- tests

    @ParameterizedTest(name = "block size {0}, cache {1}")
    @CsvSource({"1, F32", "8, F32", "16, F32", "32, F32", "16, F16", "8, BF16"})
    void unevenAppendsAcrossBlockBoundariesLandAtTheirSlotsAndDecodeLikeContiguousAttention(int blockSize,
                                                                                           DType dtype) {
        int[] chunksA = {1, 7, 16, 17, 3, 32, 1, 1, 9};
        int[] chunksB = {5, 0, 16, 1, 33, 2, 15, 1, 0};
        int maxTokens = 90;
        cache = new PagedKvCache(backend, LAYERS, KV_HEADS, HEAD_DIM, blockSize,
                2 * ((maxTokens + blockSize - 1) / blockSize), dtype);
        int a = cache.newSequence();
        int b = cache.newSequence();
        int empty = cache.newSequence();
        Rows[] rows = {new Rows(), new Rows(), new Rows()};
        for (int step = 0; step < chunksA.length; step++) {
            append(new int[] {a, b}, new int[] {chunksA[step], chunksB[step]}, new Rows[] {rows[0], rows[1]});
            assertContents(a, rows[0]);
            assertContents(b, rows[1]);
            int[] batch = {b, empty, a};
            Rows[] batchRows = {rows[1], rows[2], rows[0]};
            assertDecodeMatchesContiguous(batch, batchRows, CAUSAL);
            assertDecodeMatchesContiguous(batch, batchRows, CAUSAL.withWindow(5));
            cache.checkInvariants();
        }
        assertEquals(87, cache.length(a));
        assertEquals(73, cache.length(b));
    }

    @ParameterizedTest(name = "parent length {0}")
    @ValueSource(ints = {20, 16})
    void forkedSequencesShareUntilWrittenAndNeverSeeEachOthersTokens(int parentLength) {
        int blockSize = 8;
        cache = new PagedKvCache(backend, LAYERS, KV_HEADS, HEAD_DIM, blockSize, 12, DType.F32);
        int parent = cache.newSequence();
        Rows parentRows = new Rows();
        append(parent, 3, parentRows);
        append(parent, parentLength - 3, parentRows);
        float[] qParent = random(CAUSAL.qWidth());
        float[][] parentBefore = decode(new int[] {parent}, qParent, CAUSAL);

        int child = cache.fork(parent);
        Rows childRows = parentRows.copy();
        for (int blk : cache.blockTable(parent)) {
            assertEquals(2, cache.refCount(blk), "block " + blk + " shared after the fork");
        }
        assertArrayEquals(decode(new int[] {parent}, qParent, CAUSAL)[0], decode(new int[] {child}, qParent, CAUSAL)[0],
                "a fresh fork decodes exactly like its parent");

        AppendPlan childPlan = append(child, 5, childRows);
        boolean partial = parentLength % blockSize != 0;
        assertEquals(partial ? 1 : 0, childPlan.copiedBlocks(), "only a partially filled shared block is copied");
        assertContents(parent, parentRows);
        assertContents(child, childRows);
        float[][] parentAfter = decode(new int[] {parent}, qParent, CAUSAL);
        for (int i = 0; i < parentBefore.length; i++) {
            assertArrayEquals(parentBefore[i], parentAfter[i], "the parent's decode changed after the child wrote");
        }
        assertDecodeMatchesContiguous(new int[] {child, parent}, new Rows[] {childRows, parentRows}, CAUSAL);

        float[] qChild = random(CAUSAL.qWidth());
        float[][] childBefore = decode(new int[] {child}, qChild, CAUSAL);
        AppendPlan parentPlan = append(parent, 3, parentRows);
        assertEquals(0, parentPlan.copiedBlocks(), "after the child's copy the parent holds its block alone");
        assertContents(child, childRows);
        assertContents(parent, parentRows);
        float[][] childAfter = decode(new int[] {child}, qChild, CAUSAL);
        for (int i = 0; i < childBefore.length; i++) {
            assertArrayEquals(childBefore[i], childAfter[i], "the child's decode changed after the parent wrote");
        }
        assertDecodeMatchesContiguous(new int[] {parent, child}, new Rows[] {parentRows, childRows}, CAUSAL);
    }

    @Test
    void aRefusedAppendLeavesEverySequencesDataAndTablesIntact() {
        cache = new PagedKvCache(backend, LAYERS, KV_HEADS, HEAD_DIM, 4, 6, DType.F32);
        int a = cache.newSequence();
        int b = cache.newSequence();
        Rows ra = new Rows();
        Rows rb = new Rows();
        append(new int[] {a, b}, new int[] {9, 6}, new Rows[] {ra, rb});
        int c = cache.fork(b);
        Rows rc = rb.copy();
        int[] all = {a, b, c};
        float[] q = random(3 * CAUSAL.qWidth());
        float[][] before = decode(all, q, CAUSAL);
        int[][] tables = {cache.blockTable(a), cache.blockTable(b), cache.blockTable(c)};
        assertEquals(1, cache.freeBlocks());

        KvCacheExhaustedException e = assertThrows(KvCacheExhaustedException.class,
                () -> cache.prepareAppend(new int[] {c, a}, new int[] {1, 4}));
        assertEquals(2, e.blocksNeeded());
        assertEquals(1, e.blocksFree());
        for (int i = 0; i < 3; i++) {
            assertArrayEquals(tables[i], cache.blockTable(all[i]));
        }
        assertContents(a, ra);
        assertContents(b, rb);
        assertContents(c, rc);
        float[][] after = decode(all, q, CAUSAL);
        for (int i = 0; i < before.length; i++) {
            assertArrayEquals(before[i], after[i]);
        }

        append(c, 1, rc);
        assertContents(b, rb);
        assertContents(c, rc);
        assertDecodeMatchesContiguous(all, new Rows[] {ra, rb, rc}, CAUSAL);
    }

    @Test
    void randomForksFreesAndAppendsKeepEverySequencesRows() {
        cache = new PagedKvCache(backend, LAYERS, KV_HEADS, HEAD_DIM, 4, 48, DType.F32);
        List<Integer> live = new ArrayList<>();
        List<Rows> liveRows = new ArrayList<>();
        for (int step = 0; step < 150; step++) {
            int op = rnd.nextInt(8);
            if (live.isEmpty() || op == 0) {
                live.add(cache.newSequence());
                liveRows.add(new Rows());
            } else if (op == 1) {
                int p = rnd.nextInt(live.size());
                live.add(cache.fork(live.get(p)));
                liveRows.add(liveRows.get(p).copy());
            } else if (op == 2) {
                int victim = rnd.nextInt(live.size());
                cache.free(live.remove(victim));
                liveRows.remove(victim);
            } else {
                List<Integer> order = new ArrayList<>();
                for (int i = 0; i < live.size(); i++) {
                    order.add(i);
                }
                Collections.shuffle(order, rnd);
                int n = 1 + rnd.nextInt(order.size());
                int[] seqs = new int[n];
                int[] counts = new int[n];
                Rows[] rows = new Rows[n];
                for (int i = 0; i < n; i++) {
                    seqs[i] = live.get(order.get(i));
                    rows[i] = liveRows.get(order.get(i));
                    counts[i] = rnd.nextInt(6);
                }
                if (cache.blocksNeeded(seqs, counts) > cache.freeBlocks()) {
                    assertThrows(KvCacheExhaustedException.class, () -> cache.prepareAppend(seqs, counts));
                    cache.free(live.remove(0));
                    liveRows.remove(0);
                } else {
                    append(seqs, counts, rows);
                }
            }
            cache.checkInvariants();
            for (int i = 0; i < live.size(); i++) {
                assertContents(live.get(i), liveRows.get(i));
            }
        }
        assertTrue(cache.freeBlocks() < cache.totalBlocks(), "the walk should leave some sequences holding blocks");
        int[] seqs = live.stream().mapToInt(Integer::intValue).toArray();
        assertDecodeMatchesContiguous(seqs, liveRows.toArray(new Rows[0]), CAUSAL);
    }
}
