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
}
