package io.attnrt.backend;

/**
 * A backend that can fill a tensor with synthetic values where it lives (a GPU filling 16 GB of benchmark
 * weights in device memory instead of drawing them on the host and copying them up).
 */
public interface RandomFill {
    /**
     * Fills {@code t} with values of mean {@code mean} and standard deviation {@code std}, bell-shaped
     * (a sum of uniforms), drawn deterministically from {@code seed}.
     */
    void fillBellShaped(Tensor t, long seed, double mean, double std);
}
