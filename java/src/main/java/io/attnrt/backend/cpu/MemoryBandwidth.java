package io.attnrt.backend.cpu;

import java.util.Arrays;

/**
 * Streaming-read bandwidth of this machine as the CPU backend sees it: every thread sums its own contiguous
 * part of one large float array with the same kernels (SIMD when available), loads and per-thread
 * contiguous chunks that the decode GEMV uses. This is the denominator of decode-efficiency figures.
 */
public final class MemoryBandwidth {
    private static volatile double sink;

    private MemoryBandwidth() {
    }

    /**
     * Median of seven timed passes (after one warm-up pass) over a float array of at least {@code bytes}
     * bytes (at least 256 MiB, rounded to whole vectors), read by {@code threads} threads. The median, not
     * the best: on a shared machine single passes now and then run far above what can be sustained.
     *
     * @return gigabytes (10⁹ bytes) per second
     */
    public static double measureReadGBs(int threads, long bytes) {
        return measureReadGBs(threads, bytes, CpuBackend.simdByDefault());
    }

    /** As {@link #measureReadGBs(int, long)} with the kernels chosen explicitly. */
    public static double measureReadGBs(int threads, long bytes, boolean simd) {
        long minBytes = 256L << 20;
        long want = Math.max(bytes, minBytes);
        if (want / 4 > Integer.MAX_VALUE - 64) {
            throw new IllegalArgumentException("bandwidth probe of " + want + " bytes exceeds one Java array");
        }
        int n = (int) (want / 4) & ~63;
        float[] data = new float[n];
        Arrays.fill(data, 1f); // touch every page so the timed passes read committed memory
        Kernels k = CpuBackend.loadKernels(simd);
        try (WorkerPool pool = new WorkerPool(threads)) {
            int chunk = ((n + threads - 1) / threads + 63) & ~63;
            double[] partial = new double[threads];
            double[] seconds = new double[7];
            for (int run = 0; run <= seconds.length; run++) {
                long t0 = System.nanoTime();
                pool.parallelFor(threads, (task, worker) -> {
                    int from = Math.min(n, task * chunk);
                    partial[task] = k.sum(data, from, Math.min(n, from + chunk));
                });
                long t1 = System.nanoTime();
                sink += partial[0];
                if (run > 0) {
                    seconds[run - 1] = (t1 - t0) * 1e-9;
                }
            }
            Arrays.sort(seconds);
            return (double) n * 4 / seconds[seconds.length / 2] / 1e9;
        }
    }
}
