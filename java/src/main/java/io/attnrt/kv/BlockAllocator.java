package io.attnrt.kv;

import java.util.Arrays;

/**
 * Reference-counted physical blocks of a paged KV cache.
 *
 * <p>The free list is LIFO: the most recently released block is handed out next, since it is the one most
 * likely still warm in caches. A fresh allocator hands out blocks 0, 1, 2, ... in order.
 *
 * <p>A block is free exactly when its reference count is 0. {@link #allocate} returns a block with count 1;
 * {@link #retain} adds a sharer (a forked sequence); {@link #release} drops one and puts the block back on
 * the free list when none is left.
 *
 * <p>Not thread-safe: {@link PagedKvCache} guards it with its own lock.
 */
public final class BlockAllocator {
    private final int blockSize;
    private final int[] refCounts;
    /** Free block ids; the top of the stack is {@code freeStack[freeCount - 1]}. */
    private final int[] freeStack;
    private int freeCount;

    /** An allocator whose blocks have no known token size (exception messages leave it out). */
    public BlockAllocator(int numBlocks) {
        this(numBlocks, 0);
    }

    /**
     * @param numBlocks physical blocks, ≥ 1
     * @param blockSize tokens per block, used only in exception messages (0 if unknown)
     */
    public BlockAllocator(int numBlocks, int blockSize) {
        if (numBlocks < 1) {
            throw new IllegalArgumentException("a block allocator needs at least 1 block, got " + numBlocks);
        }
        if (blockSize < 0) {
            throw new IllegalArgumentException("block size must be >= 0, got " + blockSize);
        }
        this.blockSize = blockSize;
        this.refCounts = new int[numBlocks];
        this.freeStack = new int[numBlocks];
        // Reversed so that the first allocations come out as 0, 1, 2, ...
        for (int i = 0; i < numBlocks; i++) {
            freeStack[i] = numBlocks - 1 - i;
        }
        this.freeCount = numBlocks;
    }

    /**
     * Takes a free block and gives it reference count 1.
     *
     * @throws KvCacheExhaustedException when no block is free
     */
    public int allocate() {
        if (freeCount == 0) {
            throw new KvCacheExhaustedException("block allocator", 1, 0, blockSize);
        }
        int block = freeStack[--freeCount];
        refCounts[block] = 1;
        return block;
    }

    /** Adds a reference to an allocated block. */
    public void retain(int block) {
        checkAllocated(block, "retain");
        refCounts[block]++;
    }

    /** Drops a reference; at 0 the block goes back on the free list. */
    public void release(int block) {
        checkAllocated(block, "release");
        if (--refCounts[block] == 0) {
            freeStack[freeCount++] = block;
        }
    }

    /** References held on {@code block}; 0 when it is free. */
    public int refCount(int block) {
        checkRange(block, "refCount");
        return refCounts[block];
    }

    public int freeBlocks() {
        return freeCount;
    }

    public int totalBlocks() {
        return refCounts.length;
    }

    /**
     * Checks that the free list holds each block with count 0 exactly once and nothing else.
     *
     * @throws IllegalStateException describing the first inconsistency
     */
    void checkInvariants() {
        boolean[] onFreeList = new boolean[refCounts.length];
        for (int i = 0; i < freeCount; i++) {
            int b = freeStack[i];
            if (b < 0 || b >= refCounts.length) {
                throw new IllegalStateException("free list holds out-of-range block " + b);
            }
            if (onFreeList[b]) {
                throw new IllegalStateException("block " + b + " is on the free list twice");
            }
            onFreeList[b] = true;
        }
        for (int b = 0; b < refCounts.length; b++) {
            if (refCounts[b] < 0) {
                throw new IllegalStateException("block " + b + " has negative reference count " + refCounts[b]);
            }
            if (onFreeList[b] != (refCounts[b] == 0)) {
                throw new IllegalStateException("block " + b + " has reference count " + refCounts[b]
                        + (onFreeList[b] ? " but is on the free list" : " but is not on the free list"));
            }
        }
    }

    /** Reference counts of every block (a copy), for invariant checks. */
    int[] refCountsSnapshot() {
        return Arrays.copyOf(refCounts, refCounts.length);
    }

    private void checkAllocated(int block, String op) {
        checkRange(block, op);
        if (refCounts[block] == 0) {
            throw new IllegalStateException(op + ": block " + block + " is free (reference count 0)");
        }
    }

    private void checkRange(int block, String op) {
        if (block < 0 || block >= refCounts.length) {
            throw new IllegalArgumentException(op + ": block " + block + " is outside [0, " + refCounts.length + ")");
        }
    }
}
