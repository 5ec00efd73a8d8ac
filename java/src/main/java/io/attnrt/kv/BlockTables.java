package io.attnrt.kv;

/**
 * Block tables of a decode batch, exactly as {@link io.attnrt.backend.Backend#attentionDecode} takes them.
 *
 * @param blockTables     row-major [B, maxBlocksPerSeq]: row b lists sequence b's physical blocks in
 *                        logical order; entries past its last block are 0 (a valid id, never read)
 * @param maxBlocksPerSeq row stride: the most blocks any of the sequences holds, at least 1
 * @param contextLens     B cached lengths
 */
public record BlockTables(int[] blockTables, int maxBlocksPerSeq, int[] contextLens) {
    public int batchSize() {
        return contextLens.length;
    }

    /**
     * The tables of a step in which sequence b adds its last {@code newTokens[b]} cached tokens: one row per
     * new token, in batch order, each with its sequence's blocks and a context that ends at that token —
     * causal attention by absolute position over the cached prefix plus the tokens before it in the chunk.
     * Decode is the case of one token per sequence (the tables are then these).
     */
    public BlockTables perToken(int[] newTokens) {
        if (newTokens.length != contextLens.length) {
            throw new IllegalArgumentException(newTokens.length + " token counts for " + contextLens.length
                    + " sequences");
        }
        int rows = 0;
        for (int b = 0; b < newTokens.length; b++) {
            if (newTokens[b] < 1 || newTokens[b] > contextLens[b]) {
                throw new IllegalArgumentException("sequence at batch position " + b + " of length " + contextLens[b]
                        + " cannot end with " + newTokens[b] + " new tokens");
            }
            rows = Math.addExact(rows, newTokens[b]);
        }
        int[] tables = new int[Math.multiplyExact(rows, maxBlocksPerSeq)];
        int[] lens = new int[rows];
        for (int b = 0, r = 0; b < newTokens.length; b++) {
            for (int i = 0; i < newTokens[b]; i++, r++) {
                System.arraycopy(blockTables, b * maxBlocksPerSeq, tables, r * maxBlocksPerSeq, maxBlocksPerSeq);
                lens[r] = contextLens[b] - newTokens[b] + 1 + i;
            }
        }
        return new BlockTables(tables, maxBlocksPerSeq, lens);
    }
}
