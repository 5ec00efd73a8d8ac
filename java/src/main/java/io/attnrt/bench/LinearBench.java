package io.attnrt.bench;

import io.attnrt.backend.Backend;
import io.attnrt.backend.Tensor;
import io.attnrt.tensor.DType;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.IntFunction;

/**
 * One projection {@code y = x·Wᵀ}, W [OUT, IN] in F32, against the token count N: the prefill GEMM's
 * GFLOP/s (2·N·OUT·IN) as a fraction of the FMA peak measured on the same number of threads in the same run,
 * and the GB/s of weights read. Each thread count is its own backend, built by the caller's factory, so the
 * one-core figure is one core's. The weights (at most 5.8 MB) stay in cache: whole-model decode is where the
 * GEMV meets memory bandwidth ({@link ModelBench}).
 */
public final class LinearBench {
    /** The benchmark config's projections (hidden 512, MLP 1408): fused gate|up, down, and q/o. */
    public static final List<int[]> SHAPES = List.of(new int[] {2816, 512}, new int[] {512, 1408},
            new int[] {512, 512});
    public static final int[] TOKENS = {1, 8, 16, 32, 64, 128, 512};

    private final IntFunction<Backend> backendOnThreads;

    /** @param backendOnThreads the backend under test built with that many threads (closed after use) */
    public LinearBench(IntFunction<Backend> backendOnThreads) {
        this.backendOnThreads = backendOnThreads;
    }

    /** Every {@link #TOKENS} count (those up to {@code maxTokens}) through one shape on {@code threads} threads. */
    public void run(int threads, double fmaPeakGflops, int out, int in, int maxTokens, BenchReport report) {
        try (Backend be = backendOnThreads.apply(threads)) {
            SplittableRandom rnd = new SplittableRandom(3);
            float[] wv = new float[out * in];
            for (int i = 0; i < wv.length; i++) {
                wv[i] = (float) (rnd.nextDouble() - 0.5) * 0.1f;
            }
            String who = be.name() + " " + threads + (threads == 1 ? " thread" : " threads");
            try (Tensor w = be.upload(wv, DType.F32, out, in)) {
                for (int n : TOKENS) {
                    if (n > maxTokens) {
                        continue;
                    }
                    float[] xv = new float[n * in];
                    for (int i = 0; i < xv.length; i++) {
                        xv[i] = (float) (rnd.nextDouble() * 2 - 1);
                    }
                    try (Tensor x = be.upload(xv, DType.F32, n, in); Tensor y = be.allocate(DType.F32, n, out)) {
                        double secs = Timer.median(() -> be.linear(x, w, y), 5, 0.3, 5, 400, 0.2);
                        double gflops = 2.0 * n * out * in / secs / 1e9;
                        double weightGBs = 4.0 * out * in / secs / 1e9;
                        String config = "F32 OUT=" + out + " IN=" + in + " N=" + n;
                        report.add(new BenchRow("linear", who, config, secs, gflops, weightGBs, Double.NaN,
                                Double.NaN, "of fma-peak " + threads + "t", gflops / fmaPeakGflops));
                    }
                }
            }
        }
    }
}
