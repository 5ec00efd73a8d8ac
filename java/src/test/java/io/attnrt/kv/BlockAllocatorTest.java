package io.attnrt.kv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class BlockAllocatorTest {

    @Test
    void freshAllocatorHandsOutBlocksInOrderUntilExhausted() {
        BlockAllocator a = new BlockAllocator(4, 16);
        assertEquals(4, a.totalBlocks());
        for (int i = 0; i < 4; i++) {
            assertEquals(4 - i, a.freeBlocks());
            assertEquals(i, a.allocate());
            assertEquals(1, a.refCount(i));
        }
        assertEquals(0, a.freeBlocks());
        KvCacheExhaustedException e = assertThrows(KvCacheExhaustedException.class, a::allocate);
        assertEquals(1, e.blocksNeeded());
        assertEquals(0, e.blocksFree());
        assertEquals(16, e.blockSize());
        assertTrue(e.getMessage().contains("(block allocator): 1 block of 16 tokens needed, only 0 free"), e.getMessage());
        a.checkInvariants();
    }

    @Test
    void freeListIsLifo() {
        BlockAllocator a = new BlockAllocator(5);
        for (int i = 0; i < 5; i++) {
            a.allocate();
        }
        a.release(3);
        a.release(1);
        assertEquals(2, a.freeBlocks());
        assertEquals(1, a.allocate());
        assertEquals(3, a.allocate());
        a.checkInvariants();
    }

    @Test
    void blockReturnsToFreeListOnlyWhenLastReferenceIsReleased() {
        BlockAllocator a = new BlockAllocator(3);
        int b = a.allocate();
        a.retain(b);
        a.retain(b);
        assertEquals(3, a.refCount(b));
        a.release(b);
        a.release(b);
        assertEquals(1, a.refCount(b));
        assertEquals(2, a.freeBlocks());
        a.release(b);
        assertEquals(0, a.refCount(b));
        assertEquals(3, a.freeBlocks());
        a.checkInvariants();
    }

    @Test
    void misuseIsRejectedWithoutChangingState() {
        BlockAllocator a = new BlockAllocator(3);
        int b = a.allocate();
        IllegalStateException releaseFree = assertThrows(IllegalStateException.class, () -> a.release(2));
        assertTrue(releaseFree.getMessage().contains("block 2 is free"), releaseFree.getMessage());
        assertThrows(IllegalStateException.class, () -> a.retain(1));
        IllegalArgumentException range = assertThrows(IllegalArgumentException.class, () -> a.release(3));
        assertTrue(range.getMessage().contains("block 3 is outside [0, 3)"), range.getMessage());
        assertThrows(IllegalArgumentException.class, () -> a.refCount(-1));
        a.release(b);
        assertThrows(IllegalStateException.class, () -> a.release(b));
        assertEquals(3, a.freeBlocks());
        a.checkInvariants();
        assertThrows(IllegalArgumentException.class, () -> new BlockAllocator(0));
    }

    @Test
    void randomOperationsMatchASimpleModel() {
        Random rnd = new Random(7);
        int n = 37;
        BlockAllocator a = new BlockAllocator(n);
        int[] model = new int[n];
        List<Integer> held = new ArrayList<>();
        for (int step = 0; step < 5000; step++) {
            int op = rnd.nextInt(3);
            if (op == 0) {
                int free = count(model, 0);
                if (free == 0) {
                    assertThrows(KvCacheExhaustedException.class, a::allocate);
                } else {
                    int b = a.allocate();
                    assertEquals(0, model[b], "allocated block " + b + " was in use");
                    model[b] = 1;
                    held.add(b);
                }
            } else if (!held.isEmpty()) {
                int b = held.get(rnd.nextInt(held.size()));
                if (op == 1) {
                    a.retain(b);
                    model[b]++;
                    held.add(b);
                } else {
                    a.release(b);
                    model[b]--;
                    held.remove(Integer.valueOf(b));
                }
            }
            assertEquals(count(model, 0), a.freeBlocks());
            for (int b = 0; b < n; b++) {
                assertEquals(model[b], a.refCount(b));
            }
            a.checkInvariants();
        }
    }

    private static int count(int[] values, int wanted) {
        int c = 0;
        for (int v : values) {
            if (v == wanted) {
                c++;
            }
        }
        return c;
    }
}
