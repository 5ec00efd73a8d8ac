package io.attnrt.backend.cuda;

/**
 * How {@code paged_attn_decode_*} (cuda/paged_attention.cu) is launched: the split-KV heuristic and the
 * launch facts the kernel's header defines (threads, dynamic shared memory). Decode is bandwidth bound, so
 * the only aim of splitting is to have enough CTAs streaming K/V at once: batch · numKvHeads CTAs are often
 * far fewer than the SMs (one sequence, 8 KV heads, 132 SMs), and then each sequence's context is cut into
 * splits whose partial results {@code paged_attn_reduce_*} combines.
 */
final class DecodeSplits {
    /** Keys per tile of the kernel; split sizes are multiples of it so no tile straddles two splits. */
    static final int KEY_TILE = 32;
    /** A split shorter than this costs more in its partial row and the reduce than it saves. */
    static final int MIN_KEYS_PER_SPLIT = 256;
    /** Upper bound on splits (partials workspace, reduce work per output row). */
    static final int MAX_SPLITS = 64;
    /** CTAs wanted in flight: about two waves over the SMs. */
    static final int WAVES = 2;
    /** Threads of the reduce kernel. */
    static final int REDUCE_THREADS = 128;

    private DecodeSplits() {
    }

    /**
     * Number of context splits: 1 when batch · numKvHeads CTAs already fill {@value #WAVES} waves of SMs or
     * the context is short; otherwise enough to reach that many CTAs, with each split at least
     * {@value #MIN_KEYS_PER_SPLIT} keys and at most {@value #MAX_SPLITS} splits. (blockSize does not matter:
     * the kernel resolves every key's block on its own.)
     */
    static int splits(int batch, int numKvHeads, int maxContext, int blockSize, int smCount) {
        long ctas = (long) batch * numKvHeads;
        long wanted = (long) WAVES * Math.max(1, smCount);
        if (ctas <= 0 || ctas >= wanted) {
            return 1;
        }
        long byLength = maxContext / MIN_KEYS_PER_SPLIT;
        long byOccupancy = (wanted + ctas - 1) / ctas;
        return (int) Math.max(1, Math.min(MAX_SPLITS, Math.min(byLength, byOccupancy)));
    }

    /**
     * Keys per split: ⌈maxContext / splits⌉ rounded up to the key tile (at least one tile). With rounding, the
     * last splits of a short sequence may hold no key; the kernel writes neutral partials for them.
     */
    static int splitSize(int maxContext, int splits, int blockSize) {
        long per = splits <= 0 ? maxContext : ((long) maxContext + splits - 1) / splits;
        long rounded = (per + KEY_TILE - 1) / KEY_TILE * KEY_TILE;
        return (int) Math.min(Integer.MAX_VALUE - KEY_TILE, Math.max(KEY_TILE, rounded));
    }

    /** Threads of a decode CTA: one warp per query head of the group, 1 to 8 warps. */
    static int threads(int groupSize) {
        return 32 * Math.max(1, Math.min(groupSize, 8));
    }

    /** Dynamic shared memory of a decode CTA, term by term as the kernel's header lays it out. */
    static int smemBytes(int headDim, int groupSize, int cacheElementBytes) {
        long pitch = (long) headDim * cacheElementBytes + 16;
        long bytes = 4L * KEY_TILE * pitch // K and V tiles, two stages each
                + 2L * KEY_TILE * 8 // row offsets of two tiles
                + 2L * groupSize * headDim * 4 // q (fp32, pre-scaled) and the output accumulator
                + round16(groupSize * (KEY_TILE + 1L) * 4) // scores / probabilities
                + round16(3L * groupSize * 4); // running max, sum, rescale factor per head
        return (int) Math.min(Integer.MAX_VALUE, bytes);
    }

    /** Dynamic shared memory of the reduce CTA: one weight per split. */
    static int reduceSmemBytes(int splits) {
        return 4 * splits;
    }

    private static long round16(long bytes) {
        return (bytes + 15) / 16 * 16;
    }
}
