package io.attnrt.backend;

/**
 * Rotary position embedding parameters.
 *
 * @param theta base of the frequencies (10000 for Llama 2, 500000 for Llama 3)
 * @param style which dimensions form a rotating pair
 */
public record RopeSpec(double theta, RopeStyle style) {
    public RopeSpec {
        if (!(theta > 1.0) || Double.isInfinite(theta)) {
            throw new IllegalArgumentException("rope theta must be a finite number > 1, got " + theta);
        }
        if (style == null) {
            throw new IllegalArgumentException("rope style is required");
        }
    }
}
