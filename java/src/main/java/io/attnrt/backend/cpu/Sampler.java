package io.attnrt.backend.cpu;

import io.attnrt.backend.SamplingParams;

/** {@link SamplingParams}' procedure, step by step, in double precision. */
final class Sampler {
    private Sampler() {
    }

    /** Index of the largest of {@code a[off, off+n)}, the lowest among ties. */
    static int argmax(float[] a, int off, int n) {
        int best = 0;
        float bestValue = a[off];
        for (int i = 1; i < n; i++) {
            if (a[off + i] > bestValue) {
                bestValue = a[off + i];
                best = i;
            }
        }
        return best;
    }

    static int sample(float[] logits, int off, int vocab, SamplingParams params, double u) {
        if (params.greedy()) {
            return argmax(logits, off, vocab);
        }
        double temperature = params.temperature();
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) {
            max = Math.max(max, logits[off + i] / temperature);
        }
        double[] p = new double[vocab];
        double total = 0;
        for (int i = 0; i < vocab; i++) {
            p[i] = Math.exp(logits[off + i] / temperature - max);
            total += p[i];
        }
        for (int i = 0; i < vocab; i++) {
            p[i] /= total;
        }
        int[] order = orderByProbability(p);
        int kept = params.topK() > 0 ? Math.min(params.topK(), vocab) : vocab;
        if (params.topP() < 1f) {
            double keptSum = 0;
            for (int i = 0; i < kept; i++) {
                keptSum += p[order[i]];
            }
            double threshold = params.topP() * keptSum;
            double cumulative = 0;
            for (int i = 0; i < kept; i++) {
                cumulative += p[order[i]];
                if (cumulative >= threshold) {
                    kept = i + 1;
                    break;
                }
            }
        }
        double keptSum = 0;
        for (int i = 0; i < kept; i++) {
            keptSum += p[order[i]];
        }
        double target = u * keptSum;
        double cumulative = 0;
        int lastPositive = order[0];
        for (int i = 0; i < kept; i++) {
            int token = order[i];
            cumulative += p[token];
            if (p[token] > 0) {
                lastPositive = token;
            }
            if (cumulative > target) {
                return token;
            }
        }
        // reachable only when u · sum rounds up to the sum itself: the last kept token with any probability
        return lastPositive;
    }

    /** Indices by probability descending, lower index first among ties (a stable merge sort). */
    static int[] orderByProbability(double[] p) {
        int n = p.length;
        int[] a = new int[n];
        for (int i = 0; i < n; i++) {
            a[i] = i;
        }
        int[] b = new int[n];
        for (int width = 1; width < n; width *= 2) {
            for (int lo = 0; lo < n; lo += 2 * width) {
                int mid = Math.min(lo + width, n), hi = Math.min(lo + 2 * width, n);
                int i = lo, j = mid, o = lo;
                while (i < mid && j < hi) {
                    // take from the right run only when strictly more probable: keeps ties in index order
                    b[o++] = p[a[j]] > p[a[i]] ? a[j++] : a[i++];
                }
                while (i < mid) {
                    b[o++] = a[i++];
                }
                while (j < hi) {
                    b[o++] = a[j++];
                }
            }
            int[] t = a;
            a = b;
            b = t;
        }
        return a;
    }
}
