package io.attnrt.kv;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.attnrt.tensor.DType;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Shortening sequences: blocks past the new end come back, shared ones stay with their other holders. */
class PagedKvCacheTruncateTest {
    private static final int LAYERS = 2;
    private static final int KV_HEADS = 2;
    private static final int HEAD_DIM = 3;
    private static final int BLOCK = 4;

    private final CopyOnlyBackend backend = new CopyOnlyBackend();
    private PagedKvCache cache;

    @AfterEach
    void tearDown() {
        if (cache != null) {
            cache.checkInvariants();
            cache.close();
        }
        assertEquals(0, backend.bytesInUse());
    }

    private void newCache(int numBlocks) {
        cache = new PagedKvCache(backend, LAYERS, KV_HEADS, HEAD_DIM, BLOCK, numBlocks, DType.F32);
        Random rnd = new Random(numBlocks);
        for (int l = 0; l < LAYERS; l++) {
            for (var t : new io.attnrt.backend.Tensor[] {cache.keyCache(l), cache.valueCache(l)}) {
                float[] a = new float[(int) t.numel()];
                for (int i = 0; i < a.length; i++) {
                    a[i] = rnd.nextFloat();
                }
                backend.write(t, a);
            }
        }
    }

    private AppendPlan append(int seq, int tokens) {
        AppendPlan p = cache.prepareAppend(new int[] {seq}, new int[] {tokens});
        cache.checkInvariants();
        return p;
    }

    private void truncate(int seq, int newLength) {
        cache.truncate(seq, newLength);
        cache.checkInvariants();
        assertEquals(newLength, cache.length(seq));
    }

    private float[] block(int layer, boolean keys, int block) {
        float[] all = backend.download(keys ? cache.keyCache(layer) : cache.valueCache(layer));
        int per = BLOCK * KV_HEADS * HEAD_DIM;
        return Arrays.copyOfRange(all, block * per, (block + 1) * per);
    }

    @Test
    void blocksPastTheNewEndAreFreedAndTheFreeCountComesBack() {
        newCache(8);
        int a = cache.newSequence();
        append(a, 10);
        int[] table = cache.blockTable(a);
        assertEquals(5, cache.freeBlocks());

        truncate(a, 9); // still inside the third block
        assertArrayEquals(table, cache.blockTable(a));
        assertEquals(5, cache.freeBlocks());
        truncate(a, 8); // exactly two blocks: the third goes back
        assertArrayEquals(Arrays.copyOf(table, 2), cache.blockTable(a));
        assertEquals(6, cache.freeBlocks());
        assertEquals(0, cache.refCount(table[2]));
        truncate(a, 8); // to its own length: nothing changes
        assertEquals(6, cache.freeBlocks());
        truncate(a, 3);
        assertEquals(7, cache.freeBlocks());
        truncate(a, 0);
        assertEquals(8, cache.freeBlocks(), "every block comes back");
        assertEquals(0, cache.blockTable(a).length);
        assertTrue(cache.contains(a), "an empty sequence is still a sequence");

        AppendPlan again = append(a, 6);
        assertEquals(2, again.newBlocks());
        int[] now = cache.blockTable(a);
        assertEquals(now[1] * BLOCK + 1, again.slots()[5]);
        assertEquals(6, cache.freeBlocks());
    }

    @Test
    void aSoleHolderWritesInPlaceAfterTheNewEnd() {
        newCache(8);
        int a = cache.newSequence();
        append(a, 7);
        int[] table = cache.blockTable(a);
        truncate(a, 5);
        AppendPlan p = append(a, 2);
        assertEquals(0, p.copiedBlocks());
        assertEquals(0, p.newBlocks());
        assertArrayEquals(new int[] {table[1] * BLOCK + 1, table[1] * BLOCK + 2}, p.slots());
        assertTrue(backend.copies.isEmpty());
    }

    @Test
    void truncatingAForkKeepsSharedBlocksForTheOtherHolderAndTheNextWriteCopies() {
        newCache(8);
        int parent = cache.newSequence();
        append(parent, 10); // blocks 0, 1 full, 2 with two tokens
        int child = cache.fork(parent);
        int free = cache.freeBlocks();

        truncate(child, 6); // the child ends inside block 1, which the parent still needs whole
        assertArrayEquals(new int[] {0, 1}, cache.blockTable(child));
        assertArrayEquals(new int[] {0, 1, 2}, cache.blockTable(parent));
        assertEquals(1, cache.refCount(2), "the parent alone holds its last block now");
        assertEquals(2, cache.refCount(1));
        assertEquals(free, cache.freeBlocks(), "no block is free while the parent holds it");

        float[][] before = new float[LAYERS][];
        for (int l = 0; l < LAYERS; l++) {
            before[l] = block(l, true, 1);
        }
        assertEquals(1, cache.blocksNeeded(new int[] {child}, new int[] {1}), "one copy-on-write copy");
        AppendPlan p = append(child, 1);
        assertEquals(1, p.copiedBlocks());
        int copy = cache.blockTable(child)[1];
        assertNotEquals(1, copy);
        assertArrayEquals(new int[] {copy * BLOCK + 2}, p.slots(), "token 6 goes into the child's own copy");
        assertArrayEquals(new int[] {0, 1, 2}, cache.blockTable(parent));
        assertEquals(1, cache.refCount(1));
        for (int l = 0; l < LAYERS; l++) {
            assertArrayEquals(before[l], block(l, true, copy), "the copy holds the shared rows, layer " + l);
            assertArrayEquals(before[l], block(l, true, 1), "the parent's block is untouched, layer " + l);
        }

        // Truncating the parent inside a block still shared with the child (block 0) copies on its next write.
        backend.copies.clear();
        truncate(parent, 2);
        assertEquals(2, cache.refCount(0));
        assertEquals(0, cache.refCount(1), "block 1 had only the parent left");
        assertEquals(0, cache.refCount(2));
        assertEquals(1, append(parent, 1).copiedBlocks());
        assertEquals(1, cache.refCount(0));

        cache.free(parent);
        cache.free(child);
        cache.checkInvariants();
        assertEquals(8, cache.freeBlocks());
    }

    @Test
    void lengthsOutsideTheSequenceAreRefusedNamingItAndChangeNothing() {
        newCache(4);
        int a = cache.newSequence();
        append(a, 5);
        int[] table = cache.blockTable(a);
        for (int bad : new int[] {-1, 6}) {
            var e = assertThrows(IllegalArgumentException.class, () -> cache.truncate(a, bad));
            assertTrue(e.getMessage().contains("sequence " + a + " has length 5")
                    && e.getMessage().contains("new length " + bad), e.getMessage());
        }
        var unknown = assertThrows(IllegalArgumentException.class, () -> cache.truncate(77, 0));
        assertTrue(unknown.getMessage().contains("truncate: unknown sequence id 77"), unknown.getMessage());
        assertEquals(5, cache.length(a));
        assertArrayEquals(table, cache.blockTable(a));
        assertEquals(2, cache.freeBlocks());
    }
}
