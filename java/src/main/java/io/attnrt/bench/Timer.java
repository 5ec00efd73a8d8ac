package io.attnrt.bench;

import java.util.Arrays;

/** Runs a body a few times after a warm-up and reports the median wall time. */
final class Timer {
    private Timer() {
    }

    /** {@link #median(Runnable, int, double, int, int, double)} with a quarter second of warm-up. */
    static double median(Runnable body, int warmups, int minReps, int maxReps, double minSeconds) {
        return median(body, warmups, 0.25, minReps, maxReps, minSeconds);
    }

    /**
     * @param warmups        at least this many untimed runs first (0 = none) ...
     * @param warmupSeconds  ... lasting at least this long, so the JIT has compiled what is timed
     * @param minReps        at least this many timed runs
     * @param minSeconds     keep repeating (up to maxReps) until this much time was measured
     * @return median seconds per run
     */
    static double median(Runnable body, int warmups, double warmupSeconds, int minReps, int maxReps,
                         double minSeconds) {
        long warmEnd = System.nanoTime() + (long) (warmupSeconds * 1e9);
        for (int i = 0; i < warmups || (warmups > 0 && System.nanoTime() < warmEnd); i++) {
            body.run();
        }
        double[] t = new double[maxReps];
        int n = 0;
        double total = 0;
        while (n < maxReps && (n < minReps || total < minSeconds)) {
            long t0 = System.nanoTime();
            body.run();
            t[n] = (System.nanoTime() - t0) / 1e9;
            total += t[n++];
        }
        double[] s = Arrays.copyOf(t, n);
        Arrays.sort(s);
        return s[n / 2];
    }
}
