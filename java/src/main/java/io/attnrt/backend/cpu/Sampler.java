package io.attnrt.backend.cpu;

import io.attnrt.backend.SamplingParams;

/**
 * {@link SamplingParams}' procedure, bit for bit as the reference backend computes it, without sorting the
 * vocabulary. Top-k (k &lt; vocab) is a bounded min-heap over the float logits: one pass whose common case is
 * a vectorised compare against the heap's weakest logit, then exps of the k candidates only. Without top-k
 * every weight is needed for the kept sum (V exps); the order is then walked from the first {@value #WALK}
 * tokens of the order (selected the same way) and, only if the top-p cut or the draw lies beyond them, from
 * a max-heap of every positive-weight token, popped only as far as needed: O(V + m log V) for m tokens
 * walked.
 *
 * <p>Exactness: the weights are the same {@code Math.exp} of the same doubles; the kept sum adds the
 * positive weights in ascending index order (adding the zero weights the reference also adds changes no
 * bit); the running sums add the weights along the defined order (logit descending, index ascending), which
 * both heaps reproduce exactly since (logit, index) is a total order.
 *
 * <p>An instance keeps its scratch (one double and one int per vocabulary entry) and reuses it: no
 * allocation once it has seen the largest vocabulary. Not thread-safe: the backend calls it under its lock.
 */
final class Sampler {
    /** Without top-k, the tokens walked before the whole vocabulary is heaped. */
    static final int WALK = 64;

    private final Kernels kernels;
    /** Weight of a token, valid for the tokens whose weight the current call computed. */
    private double[] weight = new double[0];
    /** Token indices: the top-k heap, then the candidates (positive weight, index order), then the order heap. */
    private int[] cand = new int[0];

    Sampler(Kernels kernels) {
        this.kernels = kernels;
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

    int sample(float[] a, int off, int vocab, SamplingParams params, double u) {
        if (params.greedy()) {
            return argmax(a, off, vocab);
        }
        if (cand.length < vocab) {
            cand = new int[vocab];
            weight = new double[vocab];
        }
        int k = params.topK() > 0 ? Math.min(params.topK(), vocab) : vocab;
        int selected = k < vocab ? k : Math.min(WALK, vocab);
        float max = selectTop(a, off, vocab, selected);
        if (Float.isNaN(max) || Float.isInfinite(max)) {
            return 0; // a NaN, a +inf, or every logit -inf: no distribution (see SamplingParams)
        }
        double temperature = params.temperature();
        double shift = max / temperature;
        int[] c = cand;
        double[] w = weight;
        double keptSum = 0;
        int n = 0;
        if (k < vocab) {
            sortAscending(c, k);
            for (int j = 0; j < k; j++) {
                int i = c[j];
                double wi = Math.exp(a[off + i] / temperature - shift);
                if (wi > 0) {
                    w[i] = wi;
                    keptSum += wi;
                    c[n++] = i;
                }
            }
            // n >= 1: the largest logit has weight exp(0) = 1
            return walk(a, off, n, keptSum, params.topP(), u, true);
        }
        for (int i = 0; i < vocab; i++) {
            double wi = Math.exp(a[off + i] / temperature - shift);
            w[i] = wi;
            keptSum += wi;
        }
        if (selected < vocab) {
            int token = walk(a, off, selected, keptSum, params.topP(), u, false);
            if (token >= 0) {
                return token;
            }
        }
        for (int i = 0; i < vocab; i++) {
            if (w[i] > 0) {
                c[n++] = i;
            }
        }
        return walk(a, off, n, keptSum, params.topP(), u, true);
    }

    /**
     * Steps 4 and 5 along the order of the n tokens in cand, which are the first n of the order, or (when
     * complete) all kept tokens of positive weight: the zero-weight ones sit at the end of the order, where
     * they change no running sum and are never returned. Returns -1 if not complete and the tokens given
     * do not settle the cut and the draw.
     */
    private int walk(float[] a, int off, int n, double keptSum, float topP, double u, boolean complete) {
        int[] c = cand;
        double[] w = weight;
        for (int j = (n >>> 1) - 1; j >= 0; j--) {
            siftDown(a, off, c, j, n, true);
        }
        int size = n; // heap in c[0, size); popped tokens in c[size, n), in order from c[n - 1] down
        double cumulative = 0;
        if (topP < 1f) {
            double target = topP * keptSum;
            boolean reached = false;
            while (size > 0) {
                int token = pop(a, off, c, --size);
                cumulative += w[token];
                if (cumulative >= target) {
                    reached = true;
                    break;
                }
            }
            if (!reached && !complete) {
                return -1;
            }
            // kept: c[n - 1] down to c[size]; their sum is the running sum at the cut
            double threshold = u * cumulative;
            double running = 0;
            for (int j = n - 1; j >= size; j--) {
                running += w[c[j]];
                if (running > threshold) {
                    return c[j];
                }
            }
            return c[size]; // not reached: u < 1 keeps u · S below S
        }
        double threshold = u * keptSum;
        while (size > 0) {
            int token = pop(a, off, c, --size);
            cumulative += w[token];
            if (cumulative > threshold) {
                return token;
            }
        }
        // u · S rounded above the running sum: the last kept token with weight > 0
        return complete ? c[0] : -1;
    }

    /**
     * The first k tokens of the defined order into cand[0, k) (in no particular order); returns their
     * largest logit (the row's largest), or NaN as soon as a NaN logit is seen.
     */
    private float selectTop(float[] a, int off, int vocab, int k) {
        int[] c = cand;
        for (int i = 0; i < k; i++) {
            if (a[off + i] != a[off + i]) {
                return Float.NaN;
            }
            c[i] = i;
        }
        for (int j = (k >>> 1) - 1; j >= 0; j--) {
            siftDown(a, off, c, j, k, false);
        }
        // c[0] is the weakest kept token. A later token (higher index) displaces it only with a strictly
        // larger logit: on an equal logit the kept one has the lower index and comes first.
        float threshold = a[off + c[0]];
        int end = off + vocab;
        for (int i = kernels.firstAbove(a, off + k, end, threshold); i < end; i = kernels.firstAbove(a, i + 1, end,
                threshold)) {
            if (a[i] != a[i]) {
                return Float.NaN;
            }
            c[0] = i - off;
            siftDown(a, off, c, 0, k, false);
            threshold = a[off + c[0]];
        }
        float max = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < k; j++) {
            max = Math.max(max, a[off + c[j]]);
        }
        return max;
    }

    /** Token i comes after token j in the defined order (smaller logit, or equal and higher index). */
    private static boolean worse(float[] a, int off, int i, int j) {
        float x = a[off + i], y = a[off + j];
        return x < y || (x == y && i > j);
    }

    /**
     * Restores the heap h[0, size) below j. {@code firstOnTop}: a max-heap on the defined order (the root comes
     * first); otherwise a min-heap (the root is the token that comes last).
     */
    private static void siftDown(float[] a, int off, int[] h, int j, int size, boolean firstOnTop) {
        int item = h[j];
        while (true) {
            int child = 2 * j + 1;
            if (child >= size) {
                break;
            }
            if (child + 1 < size && higher(a, off, h[child + 1], h[child], firstOnTop)) {
                child++;
            }
            if (!higher(a, off, h[child], item, firstOnTop)) {
                break;
            }
            h[j] = h[child];
            j = child;
        }
        h[j] = item;
    }

    /** Whether token i belongs above token j in the heap. */
    private static boolean higher(float[] a, int off, int i, int j, boolean firstOnTop) {
        return firstOnTop ? worse(a, off, j, i) : worse(a, off, i, j);
    }

    /** Removes the root of the max-heap h[0, last] and leaves it at h[last]. */
    private static int pop(float[] a, int off, int[] h, int last) {
        int top = h[0];
        h[0] = h[last];
        h[last] = top;
        if (last > 0) {
            siftDown(a, off, h, 0, last, true);
        }
        return top;
    }

    /**
     * Sorts v[0, n) ascending in place: insertion sort when short, else heapsort. Not Arrays.sort, which
     * may allocate merge buffers past 4096 elements: a top-k that large would allocate on every call.
     */
    static void sortAscending(int[] v, int n) {
        if (n <= 48) {
            for (int i = 1; i < n; i++) {
                int x = v[i];
                int j = i - 1;
                while (j >= 0 && v[j] > x) {
                    v[j + 1] = v[j];
                    j--;
                }
                v[j + 1] = x;
            }
            return;
        }
        for (int j = (n >>> 1) - 1; j >= 0; j--) {
            siftDownInts(v, j, n);
        }
        for (int last = n - 1; last > 0; last--) {
            int t = v[0];
            v[0] = v[last];
            v[last] = t;
            siftDownInts(v, 0, last);
        }
    }

    private static void siftDownInts(int[] v, int j, int size) {
        int item = v[j];
        while (true) {
            int child = 2 * j + 1;
            if (child >= size) {
                break;
            }
            if (child + 1 < size && v[child + 1] > v[child]) {
                child++;
            }
            if (v[child] <= item) {
                break;
            }
            v[j] = v[child];
            j = child;
        }
        v[j] = item;
    }
}
