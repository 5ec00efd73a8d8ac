package io.attnrt.kv;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.attnrt.tensor.DType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Block tables, reference counts and all-or-nothing appends, on a backend that only copies blocks. */
class PagedKvCacheBookkeepingTest {
    private static final int LAYERS = 2;
    private static final int KV_HEADS = 2;
    private static final int HEAD_DIM = 3;

    private final CopyOnlyBackend backend = new CopyOnlyBackend();
    private PagedKvCache cache;

    @AfterEach
    void tearDown() {
        if (cache != null) {
            cache.checkInvariants();
            cache.close();
        }
        assertEquals(0, backend.bytesInUse(), "the cache must free its pool on close");
    }

    /** A cache whose pool holds distinct random values, so any copy or overwrite is visible. */
    private PagedKvCache newCache(int blockSize, int numBlocks) {
        cache = new PagedKvCache(backend, LAYERS, KV_HEADS, HEAD_DIM, blockSize, numBlocks, DType.F32);
        Random rnd = new Random(blockSize * 31L + numBlocks);
        for (int l = 0; l < LAYERS; l++) {
            backend.write(cache.keyCache(l), randomArray(rnd, cache.keyCache(l).numel()));
            backend.write(cache.valueCache(l), randomArray(rnd, cache.valueCache(l).numel()));
        }
        return cache;
    }

    private static float[] randomArray(Random rnd, long n) {
        float[] a = new float[(int) n];
        for (int i = 0; i < a.length; i++) {
            a[i] = rnd.nextFloat() * 2 - 1;
        }
        return a;
    }

    private AppendPlan append(int seq, int tokens) {
        return cache.prepareAppend(new int[] {seq}, new int[] {tokens});
    }

    /** Everything observable: tables, lengths, refcounts, free count and pool contents. */
    private record Snapshot(Map<Integer, List<Integer>> tables, Map<Integer, Integer> lengths, List<Integer> refCounts,
                            int free, List<List<Float>> pool) {
    }

    private Snapshot snapshot(int... seqs) {
        Map<Integer, List<Integer>> tables = new HashMap<>();
        Map<Integer, Integer> lengths = new HashMap<>();
        for (int s : seqs) {
            tables.put(s, boxed(cache.blockTable(s)));
            lengths.put(s, cache.length(s));
        }
        List<Integer> refs = new ArrayList<>();
        for (int b = 0; b < cache.totalBlocks(); b++) {
            refs.add(cache.refCount(b));
        }
        List<List<Float>> pool = new ArrayList<>();
        for (int l = 0; l < LAYERS; l++) {
            pool.add(boxed(backend.download(cache.keyCache(l))));
            pool.add(boxed(backend.download(cache.valueCache(l))));
        }
        return new Snapshot(tables, lengths, refs, cache.freeBlocks(), pool);
    }

    private static List<Integer> boxed(int[] a) {
        return Arrays.stream(a).boxed().toList();
    }

    private static List<Float> boxed(float[] a) {
        List<Float> l = new ArrayList<>(a.length);
        for (float f : a) {
            l.add(f);
        }
        return l;
    }

    private float[] block(int layer, boolean keys, int block) {
        float[] all = backend.download(keys ? cache.keyCache(layer) : cache.valueCache(layer));
        int per = cache.blockSize() * KV_HEADS * HEAD_DIM;
        return Arrays.copyOfRange(all, block * per, (block + 1) * per);
    }

    /** Every slot must be the physical position the block table gives its token. */
    private void assertSlotsFollowTables(int[] seqs, int[] lengthsBefore, int[] newTokens, AppendPlan plan) {
        int t = 0;
        for (int i = 0; i < seqs.length; i++) {
            int[] table = cache.blockTable(seqs[i]);
            for (int k = 0; k < newTokens[i]; k++, t++) {
                int pos = lengthsBefore[i] + k;
                assertEquals(table[pos / cache.blockSize()] * cache.blockSize() + pos % cache.blockSize(),
                        plan.slots()[t], "slot of token " + pos + " of sequence " + seqs[i]);
            }
        }
        assertEquals(t, plan.slots().length);
    }

    // ---------------------------------------------------------------- appending

    @Test
    void appendsFillBlocksInOrderAndSlotsFollowTheBlockTables() {
        newCache(4, 10);
        int s = cache.newSequence();
        int t = cache.newSequence();
        assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5}, append(s, 6).slots());
        assertArrayEquals(new int[] {0, 1}, cache.blockTable(s));
        assertArrayEquals(new int[] {8, 9, 10}, append(t, 3).slots());
        assertEquals(6, cache.length(s));
        assertEquals(3, cache.length(t));
        assertEquals(7, cache.freeBlocks());

        int[] seqs = {s, t};
        int[] counts = {3, 2};
        assertEquals(2, cache.blocksNeeded(seqs, counts));
        AppendPlan plan = cache.prepareAppend(seqs, counts);
        // s fills block 1 and opens block 3; t fills block 2 and opens block 4 (fresh blocks in batch order).
        assertArrayEquals(new int[] {6, 7, 12, 11, 16}, plan.slots());
        assertEquals(2, plan.newBlocks());
        assertEquals(0, plan.copiedBlocks());
        assertArrayEquals(new int[] {0, 1, 3}, cache.blockTable(s));
        assertArrayEquals(new int[] {2, 4}, cache.blockTable(t));
        assertEquals(9, cache.length(s));
        assertEquals(5, cache.length(t));
        assertTrue(backend.copies.isEmpty(), "private blocks are never copied");
        cache.checkInvariants();
    }

    @Test
    void zeroTokenAppendsChangeNothingAndEmptySequencesDecodeWithStrideOne() {
        newCache(4, 4);
        int s = cache.newSequence();
        AppendPlan plan = append(s, 0);
        assertEquals(0, plan.slots().length);
        assertEquals(0, cache.length(s));
        assertEquals(4, cache.freeBlocks());
        BlockTables bt = cache.decodeTables(new int[] {s});
        assertEquals(1, bt.maxBlocksPerSeq());
        assertArrayEquals(new int[] {0}, bt.contextLens());
        assertEquals(1, bt.blockTables().length);
        BlockTables none = cache.decodeTables(new int[0]);
        assertEquals(0, none.blockTables().length);
        assertEquals(1, none.maxBlocksPerSeq());
    }

    @Test
    void decodeTablesPadRowsToTheLongestSequence() {
        newCache(2, 16);
        int a = cache.newSequence();
        int b = cache.newSequence();
        int c = cache.newSequence();
        cache.prepareAppend(new int[] {a, b, c}, new int[] {5, 1, 2});
        BlockTables bt = cache.decodeTables(new int[] {b, a, c});
        assertEquals(3, bt.maxBlocksPerSeq());
        assertArrayEquals(new int[] {1, 5, 2}, bt.contextLens());
        int[] ta = cache.blockTable(a);
        int[] tb = cache.blockTable(b);
        int[] tc = cache.blockTable(c);
        assertEquals(3, ta.length);
        assertArrayEquals(tb, Arrays.copyOfRange(bt.blockTables(), 0, 1));
        assertArrayEquals(ta, Arrays.copyOfRange(bt.blockTables(), 3, 6));
        assertArrayEquals(tc, Arrays.copyOfRange(bt.blockTables(), 6, 7));
    }

    @Test
    void randomBatchesReserveExactlyWhatTheyNeed() {
        Random rnd = new Random(11);
        newCache(4, 200);
        List<Integer> live = new ArrayList<>();
        for (int step = 0; step < 300; step++) {
            int op = rnd.nextInt(10);
            if (live.isEmpty() || op == 0) {
                live.add(cache.newSequence());
            } else if (op == 1) {
                live.add(cache.fork(live.get(rnd.nextInt(live.size()))));
            } else if (op == 2 && live.size() > 1) {
                cache.free(live.remove(rnd.nextInt(live.size())));
            } else {
                List<Integer> pick = new ArrayList<>(live);
                java.util.Collections.shuffle(pick, rnd);
                int n = 1 + rnd.nextInt(pick.size());
                int[] seqs = pick.subList(0, n).stream().mapToInt(Integer::intValue).toArray();
                int[] counts = new int[n];
                int[] before = new int[n];
                for (int i = 0; i < n; i++) {
                    counts[i] = rnd.nextInt(7);
                    before[i] = cache.length(seqs[i]);
                }
                int need = cache.blocksNeeded(seqs, counts);
                int free = cache.freeBlocks();
                if (need > free) {
                    assertThrows(KvCacheExhaustedException.class, () -> cache.prepareAppend(seqs, counts));
                    assertEquals(free, cache.freeBlocks());
                    cache.free(live.remove(0));
                } else {
                    AppendPlan plan = cache.prepareAppend(seqs, counts);
                    assertEquals(free - need, cache.freeBlocks(), "blocksNeeded must match what prepareAppend took");
                    assertEquals(need, plan.newBlocks() + plan.copiedBlocks());
                    assertSlotsFollowTables(seqs, before, counts, plan);
                    for (int i = 0; i < n; i++) {
                        assertEquals(before[i] + counts[i], cache.length(seqs[i]));
                        // Every block a token was just written to must be private to its sequence.
                        int[] table = cache.blockTable(seqs[i]);
                        for (int k = 0; k < counts[i]; k++) {
                            int pos = before[i] + k;
                            assertEquals(1, cache.refCount(table[pos / 4]),
                                    "block written by sequence " + seqs[i] + " is still shared");
                        }
                    }
                }
            }
            cache.checkInvariants();
        }
    }

    // ---------------------------------------------------------------- fork and copy-on-write

    @Test
    void forkSharesBlocksAndTheFirstWriteCopiesThePartialBlock() {
        newCache(4, 8);
        int parent = cache.newSequence();
        append(parent, 6);
        int freeBefore = cache.freeBlocks();
        int child = cache.fork(parent);
        assertArrayEquals(cache.blockTable(parent), cache.blockTable(child));
        assertEquals(6, cache.length(child));
        assertEquals(2, cache.refCount(0));
        assertEquals(2, cache.refCount(1));
        assertEquals(freeBefore, cache.freeBlocks(), "a fork takes no block");
        cache.checkInvariants();

        float[][] sharedBefore = new float[2 * LAYERS][];
        for (int l = 0; l < LAYERS; l++) {
            sharedBefore[2 * l] = block(l, true, 1);
            sharedBefore[2 * l + 1] = block(l, false, 1);
        }
        AppendPlan plan = append(child, 1);
        assertEquals(1, plan.copiedBlocks());
        assertEquals(0, plan.newBlocks());
        int copy = cache.blockTable(child)[1];
        assertNotEquals(1, copy);
        assertArrayEquals(new int[] {0, 1}, cache.blockTable(parent), "the parent keeps its blocks");
        assertArrayEquals(new int[] {0, copy}, cache.blockTable(child));
        assertArrayEquals(new int[] {copy * 4 + 2}, plan.slots());
        assertEquals(2, cache.refCount(0), "the full shared block stays shared");
        assertEquals(1, cache.refCount(1));
        assertEquals(1, cache.refCount(copy));
        assertEquals(6, cache.length(parent));
        assertEquals(7, cache.length(child));

        assertEquals(2 * LAYERS, backend.copies.size(), "one copy per layer for keys and values");
        for (CopyOnlyBackend.Copy c : backend.copies) {
            assertArrayEquals(new int[] {1}, c.src());
            assertArrayEquals(new int[] {copy}, c.dst());
        }
        for (int l = 0; l < LAYERS; l++) {
            assertArrayEquals(sharedBefore[2 * l], block(l, true, copy), "key block copied, layer " + l);
            assertArrayEquals(sharedBefore[2 * l + 1], block(l, false, copy), "value block copied, layer " + l);
            assertArrayEquals(sharedBefore[2 * l], block(l, true, 1), "original untouched, layer " + l);
        }

        // The parent is now the sole holder of block 1 and writes in place.
        backend.copies.clear();
        AppendPlan parentPlan = append(parent, 2);
        assertEquals(0, parentPlan.copiedBlocks());
        assertArrayEquals(new int[] {1 * 4 + 2, 1 * 4 + 3}, parentPlan.slots());
        assertTrue(backend.copies.isEmpty());
    }

    @Test
    void forkAtABlockBoundaryNeedsNoCopy() {
        newCache(4, 8);
        int parent = cache.newSequence();
        append(parent, 8);
        int child = cache.fork(parent);
        assertEquals(1, cache.blocksNeeded(new int[] {child}, new int[] {3}));
        AppendPlan plan = append(child, 3);
        assertEquals(0, plan.copiedBlocks());
        assertEquals(1, plan.newBlocks());
        assertTrue(backend.copies.isEmpty());
        int[] table = cache.blockTable(child);
        assertArrayEquals(new int[] {0, 1, table[2]}, table);
        assertEquals(2, cache.refCount(0));
        assertEquals(2, cache.refCount(1));
        assertEquals(1, cache.refCount(table[2]));
    }

    @Test
    void holdersOfOneSharedBlockAppendingInOneBatchCopyOnlyWhileItIsStillShared() {
        newCache(4, 8);
        int parent = cache.newSequence();
        append(parent, 5);
        int child = cache.fork(parent);
        int[] seqs = {parent, child};
        int[] ones = {1, 1};
        assertEquals(1, cache.blocksNeeded(seqs, ones), "after the first copy the second holder is alone");
        AppendPlan plan = cache.prepareAppend(seqs, ones);
        assertEquals(1, plan.copiedBlocks());
        int parentLast = cache.blockTable(parent)[1];
        int childLast = cache.blockTable(child)[1];
        assertNotEquals(parentLast, childLast);
        assertEquals(1, childLast, "the last holder keeps the original");
        assertArrayEquals(new int[] {parentLast * 4 + 1, childLast * 4 + 1}, plan.slots());

        int a = cache.fork(child);
        int b = cache.fork(child);
        assertEquals(3, cache.refCount(1));
        int[] three = {a, child, b};
        assertEquals(2, cache.blocksNeeded(three, new int[] {1, 1, 1}));
        AppendPlan plan3 = cache.prepareAppend(three, new int[] {1, 1, 1});
        assertEquals(2, plan3.copiedBlocks());
        assertEquals(1, cache.blockTable(b)[1]);
        assertEquals(1, cache.refCount(1));
        cache.checkInvariants();
    }

    // ---------------------------------------------------------------- free and reuse

    @Test
    void freedBlocksReturnAndAreReused() {
        newCache(4, 6);
        int a = cache.newSequence();
        int b = cache.newSequence();
        append(a, 9);
        append(b, 4);
        assertEquals(2, cache.freeBlocks());
        int[] aBlocks = cache.blockTable(a);
        cache.free(a);
        assertEquals(5, cache.freeBlocks());
        for (int blk : aBlocks) {
            assertEquals(0, cache.refCount(blk));
        }
        assertFalse(cache.contains(a));
        int c = cache.newSequence();
        append(c, 12);
        int[] cBlocks = cache.blockTable(c);
        // LIFO: the last block a freed is reused first.
        assertEquals(aBlocks[2], cBlocks[0]);
        assertTrue(Arrays.stream(cBlocks).allMatch(x -> Arrays.stream(aBlocks).anyMatch(y -> y == x)),
                "the freed blocks are the ones reused");
        assertEquals(2, cache.freeBlocks());
    }

    @Test
    void refCountsStayRightWhetherParentOrChildIsFreedFirst() {
        for (boolean parentFirst : new boolean[] {true, false}) {
            newCache(4, 8);
            int parent = cache.newSequence();
            append(parent, 6);
            int child = cache.fork(parent);
            append(child, 4);
            int[] shared = {0};
            int[] childOnly = Arrays.stream(cache.blockTable(child)).filter(x -> x != 0).toArray();
            int[] parentOnly = {1};
            cache.free(parentFirst ? parent : child);
            cache.checkInvariants();
            assertEquals(1, cache.refCount(shared[0]));
            for (int blk : parentFirst ? parentOnly : childOnly) {
                assertEquals(0, cache.refCount(blk));
            }
            for (int blk : parentFirst ? childOnly : parentOnly) {
                assertEquals(1, cache.refCount(blk));
            }
            int survivor = parentFirst ? child : parent;
            assertEquals(parentFirst ? 10 : 6, cache.length(survivor));
            cache.free(survivor);
            assertEquals(8, cache.freeBlocks());
            cache.checkInvariants();
            cache.close();
            cache = null;
        }
    }

    // ---------------------------------------------------------------- exhaustion

    @Test
    void exhaustionChangesNothingAndASmallerRequestStillSucceeds() {
        newCache(4, 5);
        int a = cache.newSequence();
        int b = cache.newSequence();
        append(a, 7);
        append(b, 5);
        int c = cache.fork(b);
        assertEquals(1, cache.freeBlocks());
        Snapshot before = snapshot(a, b, c);

        KvCacheExhaustedException e = assertThrows(KvCacheExhaustedException.class, () -> append(a, 6));
        assertEquals(2, e.blocksNeeded());
        assertEquals(1, e.blocksFree());
        assertEquals(4, e.blockSize());
        assertTrue(e.getMessage().contains("(sequence " + a + " (+6 tokens: 2 new)): 2 blocks of 4 tokens needed, only 1 free"),
                e.getMessage());
        assertEquals(before, snapshot(a, b, c));

        // Each member fits on its own (a: one new block, c: one copy of its shared partial block); the
        // batch as a whole does not, so neither may change.
        int[] seqs = {a, c};
        int[] counts = {2, 1};
        assertEquals(1, cache.blocksNeeded(new int[] {a}, new int[] {2}));
        assertEquals(1, cache.blocksNeeded(new int[] {c}, new int[] {1}));
        KvCacheExhaustedException batch = assertThrows(KvCacheExhaustedException.class,
                () -> cache.prepareAppend(seqs, counts));
        assertEquals(2, batch.blocksNeeded());
        assertTrue(batch.getMessage().contains("sequences [" + a + " (+2 tokens: 1 new), " + c
                + " (+1 tokens: 0 new + 1 copy-on-write)]): 2 blocks of 4 tokens needed, only 1 free"),
                batch.getMessage());
        assertEquals(before, snapshot(a, b, c));
        assertTrue(backend.copies.isEmpty(), "no copy may run before the whole batch is covered");

        AppendPlan ok = append(a, 5);
        assertEquals(1, ok.newBlocks());
        assertEquals(12, cache.length(a));
        assertEquals(0, cache.freeBlocks());
        assertEquals(before.tables().get(b), boxed(cache.blockTable(b)));
        assertEquals(before.tables().get(c), boxed(cache.blockTable(c)));
    }

    @Test
    void aFailedCopyLeavesEveryStateAsItWas() {
        newCache(4, 6);
        int parent = cache.newSequence();
        append(parent, 6);
        int child = cache.fork(parent);
        Snapshot before = snapshot(parent, child);
        backend.failOnCall = 1;
        assertThrows(IllegalStateException.class, () -> append(child, 3));
        // The first layer's key copy ran; its destination was a free block, which nothing reads.
        Snapshot after = snapshot(parent, child);
        assertEquals(before.tables(), after.tables());
        assertEquals(before.lengths(), after.lengths());
        assertEquals(before.refCounts(), after.refCounts());
        assertEquals(before.free(), after.free());
        backend.failOnCall = -1;
        assertEquals(1, append(child, 3).copiedBlocks());
    }

    // ---------------------------------------------------------------- bad input

    @Test
    void badRequestsAreRejectedClearlyWithoutChangingState() {
        newCache(4, 8);
        int a = cache.newSequence();
        int b = cache.newSequence();
        append(a, 3);
        int freed = cache.newSequence();
        cache.free(freed);
        Snapshot before = snapshot(a, b);

        assertMessage(() -> cache.prepareAppend(new int[] {a, 99}, new int[] {1, 1}), "unknown sequence id 99");
        assertMessage(() -> cache.prepareAppend(new int[] {freed}, new int[] {1}),
                "unknown sequence id " + freed + " (it was freed)");
        assertMessage(() -> cache.prepareAppend(new int[] {a, b}, new int[] {2, -1}),
                "negative token count -1 for sequence " + b);
        assertMessage(() -> cache.prepareAppend(new int[] {a, b, a}, new int[] {1, 1, 1}),
                "sequence " + a + " appears twice in one batch, at 0 and 2");
        assertMessage(() -> cache.prepareAppend(new int[] {a, b}, new int[] {1}), "2 sequence ids but 1 token counts");
        assertMessage(() -> cache.prepareAppend(null, new int[0]), "must not be null");
        assertMessage(() -> cache.blocksNeeded(new int[] {a}, new int[] {-3}), "negative token count -3");
        assertMessage(() -> cache.decodeTables(new int[] {a, 42}), "unknown sequence id 42");
        assertMessage(() -> cache.decodeTables(new int[] {b, b}), "appears twice");
        assertMessage(() -> cache.fork(7), "fork: unknown sequence id 7");
        assertMessage(() -> cache.free(freed), "free: unknown sequence id " + freed);
        assertMessage(() -> cache.length(-1), "unknown sequence id -1");
        assertMessage(() -> cache.blockTable(5), "unknown sequence id 5");
        assertMessage(() -> cache.keyCache(LAYERS), "layer " + LAYERS + " is outside [0, " + LAYERS + ")");
        assertEquals(before, snapshot(a, b));
    }

    private static void assertMessage(org.junit.jupiter.api.function.Executable call, String expected) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(expected), "message '" + e.getMessage() + "' lacks '" + expected + "'");
    }

    // ---------------------------------------------------------------- lifecycle and sizing

    @Test
    void poolHasTheDocumentedShapeAndIsFreedOnClose() {
        PagedKvCache c = new PagedKvCache(backend, 3, 2, 8, 10, DType.BF16);
        assertEquals(PagedKvCache.DEFAULT_BLOCK_SIZE, c.blockSize());
        for (int l = 0; l < 3; l++) {
            assertArrayEquals(new int[] {10, 16, 2, 8}, c.keyCache(l).shape());
            assertArrayEquals(new int[] {10, 16, 2, 8}, c.valueCache(l).shape());
            assertEquals(DType.BF16, c.valueCache(l).dtype());
        }
        assertEquals(10 * PagedKvCache.bytesPerBlock(3, 2, 8, 16, DType.BF16), backend.bytesInUse());
        int s = c.newSequence();
        c.close();
        c.close();
        assertEquals(0, backend.bytesInUse());
        assertThrows(IllegalStateException.class, () -> c.length(s));
        assertThrows(IllegalStateException.class, () -> c.keyCache(0));
        assertThrows(IllegalStateException.class, c::newSequence);
    }

    @Test
    void numBlocksForBudgetFillsTheBudgetAndRejectsOneTooSmall() {
        long perBlock = PagedKvCache.bytesPerBlock(4, 8, 64, 16, DType.F16);
        assertEquals(2L * 4 * 16 * 8 * 64 * 2, perBlock);
        assertEquals(10, PagedKvCache.numBlocksForBudget(10 * perBlock + perBlock - 1, 4, 8, 64, 16, DType.F16));
        assertEquals(1, PagedKvCache.numBlocksForBudget(perBlock, 4, 8, 64, 16, DType.F16));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> PagedKvCache.numBlocksForBudget(perBlock - 1, 4, 8, 64, 16, DType.F16));
        assertTrue(e.getMessage().contains("holds no block"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> PagedKvCache.bytesPerBlock(0, 8, 64, 16, DType.F16));
    }

    @Test
    void constructorRejectsBadGeometry() {
        assertThrows(IllegalArgumentException.class, () -> new PagedKvCache(backend, 1, 1, 4, 0, 4, DType.F32));
        assertThrows(IllegalArgumentException.class, () -> new PagedKvCache(backend, 1, 1, 4, 16, 0, DType.F32));
        assertThrows(IllegalArgumentException.class, () -> new PagedKvCache(backend, 0, 1, 4, 16, 4, DType.F32));
        assertThrows(IllegalArgumentException.class, () -> new PagedKvCache(null, 1, 1, 4, 16, 4, DType.F32));
        assertThrows(IllegalArgumentException.class,
                () -> new PagedKvCache(backend, 1, 1, 4, 1 << 16, 1 << 16, DType.F32));
        assertEquals(0, backend.bytesInUse());
    }

    @Test
    void aSequenceTwiceInOneBatchIsRefusedNamingBothPositions() {
        newCache(4, 8);
        int a = cache.newSequence(), b = cache.newSequence();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> cache.prepareAppend(new int[] {a, b, a}, new int[] {1, 1, 1}));
        assertEquals("prepareAppend: sequence " + a + " appears twice in one batch, at 0 and 2", e.getMessage());
        assertEquals(8, cache.freeBlocks(), "nothing reserved");
        // the same ids in later, separate batches are fine: the duplicate check carries no state across calls
        append(a, 1);
        cache.prepareAppend(new int[] {b, a}, new int[] {2, 2});
        assertEquals(3, cache.decodeTables(new int[] {a}).contextLens()[0]);
    }

    @Test
    void aDecodeStepsBookkeepingAllocatesOnlyItsResult() {
        newCache(16, 128);
        int[] seqs = new int[8];
        for (int i = 0; i < seqs.length; i++) {
            seqs[i] = cache.newSequence();
        }
        int[] ones = new int[seqs.length];
        Arrays.fill(ones, 1);
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean)
                java.lang.management.ManagementFactory.getThreadMXBean();
        long tid = Thread.currentThread().getId();
        int steps = 100;
        for (int warm = 0; warm < 2; warm++) { // the first round grows the reused scratch
            long before = mx.getThreadAllocatedBytes(tid);
            for (int step = 0; step < steps; step++) {
                cache.prepareAppend(seqs, ones);
            }
            long perStep = (mx.getThreadAllocatedBytes(tid) - before) / steps;
            if (warm == 1) {
                // the slots (8 ints) and the plan record, and an occasional new block; hash maps cost ~300 B
                assertTrue(perStep < 160, perStep + " bytes per step");
            }
        }
    }
}
