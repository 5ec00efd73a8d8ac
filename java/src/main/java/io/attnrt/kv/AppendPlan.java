package io.attnrt.kv;

/**
 * What {@link PagedKvCache#prepareAppend} reserved for one batch. The arrays belong to the caller; the cache
 * keeps no reference to them.
 *
 * @param slots         for every new token, in batch order (all tokens of the first sequence, then the
 *                      next...), its physical slot {@code block · blockSize + offset} — the {@code slots}
 *                      argument of {@link io.attnrt.backend.Backend#kvAppend} for every layer
 * @param newBlocks     blocks allocated past the sequences' ends
 * @param copiedBlocks  shared blocks copied because this batch writes into them (copy-on-write)
 */
public record AppendPlan(int[] slots, int newBlocks, int copiedBlocks) {
    /** Tokens the plan places. */
    public int numTokens() {
        return slots.length;
    }
}
