package io.attnrt.serve;

/**
 * Limits of the scheduler.
 *
 * @param maxNumSeqs       sequences (choices) running at once
 * @param maxBatchedTokens tokens one forward step may carry: decode tokens first, then prompt chunks
 * @param maxWaiting       requests queued before new ones are refused (HTTP 429)
 * @param prefixCaching    reuse full KV blocks of earlier prompts with the same prefix
 */
public record EngineConfig(int maxNumSeqs, int maxBatchedTokens, int maxWaiting, boolean prefixCaching) {
    public EngineConfig {
        if (maxNumSeqs < 1) {
            throw new IllegalArgumentException("max-num-seqs must be >= 1, got " + maxNumSeqs);
        }
        if (maxBatchedTokens < 1) {
            throw new IllegalArgumentException("max-batched-tokens must be >= 1, got " + maxBatchedTokens);
        }
        if (maxWaiting < 0) {
            throw new IllegalArgumentException("max-waiting must be >= 0, got " + maxWaiting);
        }
    }
}
