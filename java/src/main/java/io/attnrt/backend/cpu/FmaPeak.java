package io.attnrt.backend.cpu;

import java.util.Arrays;

/**
 * The machine's measured F32 multiply-add peak as the CPU backend's kernels can reach it: every thread runs
 * independent FMA chains held in registers (no memory traffic) at the SIMD width in use. The denominator of
 * compute-efficiency figures (prefill GEMM), as {@link MemoryBandwidth} is of decode's.
 */
public final class FmaPeak {
    private static volatile float sink;

    private FmaPeak() {
    }

    /**
     * Median of five timed rounds (after two untimed ones, so C2 has compiled the loop) of about 0.1 s each,
     * on {@code threads} threads.
     *
     * @return GFLOP/s (10⁹ single-precision floating-point operations per second, an FMA counting 2)
     */
    public static double measureGflops(int threads) {
        Kernels k = CpuBackend.loadKernels(CpuBackend.simdByDefault());
        // size the rounds to ~0.1 s on this machine: double until one call takes 20 ms, then 5x that
        long rounds = 1;
        while (rounds < 1L << 40) {
            long t0 = System.nanoTime();
            sink += k.fmaRounds(rounds, 1f);
            if (System.nanoTime() - t0 > 20_000_000L) {
                break;
            }
            rounds *= 2;
        }
        long perTask = 5 * rounds;
        try (WorkerPool pool = new WorkerPool(threads)) {
            double[] seconds = new double[5];
            float[] out = new float[threads];
            for (int run = -2; run < seconds.length; run++) {
                long t0 = System.nanoTime();
                pool.parallelFor(threads, (task, worker) -> out[task] = k.fmaRounds(perTask, 1f + task));
                long t1 = System.nanoTime();
                sink += out[0];
                if (run >= 0) {
                    seconds[run] = (t1 - t0) * 1e-9;
                }
            }
            Arrays.sort(seconds);
            return (double) threads * perTask * 24 * k.lanes() / seconds[seconds.length / 2] / 1e9;
        }
    }
}
