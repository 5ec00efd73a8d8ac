package io.attnrt.backend;

/**
 * The shape and masking of one attention call.
 *
 * <p>Query head h reads KV head {@code h / (numHeads / numKvHeads)}: numKvHeads == numHeads is MHA,
 * 1 is MQA, anything between is GQA.
 *
 * <p>Visibility: key j is visible to query i (both positions within the same sequence) iff
 * {@code (!causal || j <= i) && (window == 0 || i - j < window)}. A window of W therefore shows the W
 * most recent keys including the query's own position. A query with no visible key (possible only in
 * decode with an empty context) produces an all-zero output row and a log-sum-exp of −∞.
 *
 * @param numHeads   query heads
 * @param numKvHeads key/value heads; must divide numHeads
 * @param headDim    dimension of each head
 * @param causal     hide keys after the query's position
 * @param window     sliding-window size in keys, 0 for unlimited
 * @param scale      multiplier of QKᵀ before softmax, normally 1/√headDim
 */
public record AttentionSpec(int numHeads, int numKvHeads, int headDim, boolean causal, int window, float scale) {
    public AttentionSpec {
        if (numHeads <= 0 || numKvHeads <= 0 || headDim <= 0) {
            throw new IllegalArgumentException("attention needs positive heads, kv heads and head dim, got "
                    + numHeads + "/" + numKvHeads + "/" + headDim);
        }
        if (numHeads % numKvHeads != 0) {
            throw new IllegalArgumentException("num_kv_heads " + numKvHeads + " does not divide num_heads " + numHeads);
        }
        if (window < 0) {
            throw new IllegalArgumentException("sliding window must be >= 0, got " + window);
        }
        if (!(scale > 0) || Float.isInfinite(scale)) {
            throw new IllegalArgumentException("attention scale must be finite and > 0, got " + scale);
        }
    }

    /** The usual spec: scale 1/√headDim, no window. */
    public static AttentionSpec of(int numHeads, int numKvHeads, int headDim, boolean causal) {
        return new AttentionSpec(numHeads, numKvHeads, headDim, causal, 0, (float) (1.0 / Math.sqrt(headDim)));
    }

    public AttentionSpec withWindow(int newWindow) {
        return new AttentionSpec(numHeads, numKvHeads, headDim, causal, newWindow, scale);
    }

    /** Query heads per KV head. */
    public int groupSize() {
        return numHeads / numKvHeads;
    }

    public int qWidth() {
        return numHeads * headDim;
    }

    public int kvWidth() {
        return numKvHeads * headDim;
    }

    /** Whether key position {@code j} is visible to query position {@code i}. */
    public boolean visible(int i, int j) {
        return (!causal || j <= i) && (window == 0 || i - j < window);
    }
}
