package io.attnrt.backend.cpu;

import io.attnrt.backend.RopeSpec;

/**
 * cos/sin of every (position, pair) a model has used so far, for one RoPE spec and head dim: {@code
 * cs[(pos·half + p)·2]} = cos(pos·f[p]) and the next element its sin, each computed in double and rounded once
 * — the very floats the per-call computation gave, so tables change no result. Every layer of every step
 * reads the same table instead of evaluating headDim transcendental functions per token per layer; it grows
 * with the positions a model actually reaches and is bounded by {@link #MAX_ENTRIES} (positions past that
 * are computed per call).
 *
 * <p>Not thread-safe: the backend fills it under its lock, before the parallel part of the op reads it.
 */
final class RopeTable {
    /** At most this many (position, pair) entries (2 floats each): 128 MiB, position 262144 at head dim 128. */
    static final long MAX_ENTRIES = 1L << 24;

    private final double[] invFreq;
    private final int half;
    private float[] cs = new float[0];
    private int positions;

    RopeTable(RopeSpec spec, int headDim) {
        this.invFreq = spec.inverseFrequencies(headDim);
        this.half = headDim / 2;
    }

    /** The table covering positions [0, maxPosition], or null when that is past {@link #MAX_ENTRIES}. */
    float[] covering(int maxPosition) {
        if (maxPosition < positions) {
            return cs;
        }
        long needed = (long) maxPosition + 1;
        if (needed * half > MAX_ENTRIES) {
            return null;
        }
        // grow geometrically (amortised) but by at most 8192 positions beyond what is needed
        int grown = (int) Math.min(MAX_ENTRIES / half, Math.max(needed, Math.min(2L * positions, needed + 8192)));
        float[] t = java.util.Arrays.copyOf(cs, grown * half * 2);
        for (int pos = positions; pos < grown; pos++) {
            fill(pos, invFreq, t, pos * half * 2);
        }
        cs = t;
        positions = grown;
        return cs;
    }

    /** cos/sin of one position's pairs into {@code out[off, off + 2·half)}. */
    static void fill(int position, double[] invFreq, float[] out, int off) {
        for (int p = 0; p < invFreq.length; p++) {
            // angles in double: pos · freq in float would lose whole radians at long positions
            double angle = position * invFreq[p];
            out[off + 2 * p] = (float) Math.cos(angle);
            out[off + 2 * p + 1] = (float) Math.sin(angle);
        }
    }

    double[] inverseFrequencies() {
        return invFreq;
    }
}
