package io.attnrt.kv;

/**
 * A request needs more free KV-cache blocks than the pool has. Thrown before any state changes, so the
 * caller (the scheduler) can preempt or defer a sequence and retry.
 */
public class KvCacheExhaustedException extends RuntimeException {
    private final String requester;
    private final int blocksNeeded;
    private final int blocksFree;
    private final int blockSize;

    /**
     * @param requester    who asked, e.g. {@code "sequence 7"} or {@code "sequences [3, 5]"}
     * @param blocksNeeded blocks the request needs in all
     * @param blocksFree   blocks free when it was refused
     * @param blockSize    tokens per block, or 0 where the allocator does not know it
     */
    public KvCacheExhaustedException(String requester, int blocksNeeded, int blocksFree, int blockSize) {
        super(message(requester, blocksNeeded, blocksFree, blockSize));
        this.requester = requester;
        this.blocksNeeded = blocksNeeded;
        this.blocksFree = blocksFree;
        this.blockSize = blockSize;
    }

    private static String message(String requester, int needed, int free, int blockSize) {
        return "KV cache exhausted (" + requester + "): " + needed + (needed == 1 ? " block" : " blocks")
                + (blockSize > 0 ? " of " + blockSize + " tokens" : "") + " needed, only " + free + " free";
    }

    public String requester() {
        return requester;
    }

    public int blocksNeeded() {
        return blocksNeeded;
    }

    public int blocksFree() {
        return blocksFree;
    }

    /** Tokens per block; 0 when the thrower did not know it. */
    public int blockSize() {
        return blockSize;
    }
}
