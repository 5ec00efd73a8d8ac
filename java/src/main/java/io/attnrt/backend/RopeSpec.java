package io.attnrt.backend;

/**
 * Rotary position embedding parameters.
 *
 * @param theta   base of the frequencies (10000 for Llama 2, 500000 for Llama 3)
 * @param style   which dimensions form a rotating pair
 * @param scaling how the checkpoint stretches the frequencies ({@link RopeScaling#NONE} for plain RoPE)
 */
public record RopeSpec(double theta, RopeStyle style, RopeScaling scaling) {
    public RopeSpec {
        if (!(theta > 1.0) || Double.isInfinite(theta)) {
            throw new IllegalArgumentException("rope theta must be a finite number > 1, got " + theta);
        }
        if (style == null) {
            throw new IllegalArgumentException("rope style is required");
        }
        if (scaling == null) {
            throw new IllegalArgumentException("rope scaling is required (RopeScaling.NONE for plain RoPE)");
        }
    }

    public RopeSpec(double theta, RopeStyle style) {
        this(theta, style, RopeScaling.NONE);
    }

    /**
     * The headDim / 2 inverse frequencies, pair p rotating by position · f[p]: θ^(−2p/d), then scaled. In
     * double; backends round them to their own precision once.
     */
    public double[] inverseFrequencies(int headDim) {
        double[] f = new double[headDim / 2];
        for (int p = 0; p < f.length; p++) {
            f[p] = scaling.apply(Math.pow(theta, -2.0 * p / headDim));
        }
        return f;
    }
}
