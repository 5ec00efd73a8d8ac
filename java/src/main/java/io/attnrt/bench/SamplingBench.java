package io.attnrt.bench;

import io.attnrt.backend.Backend;
import io.attnrt.backend.SamplingParams;
import io.attnrt.backend.Tensor;
import io.attnrt.tensor.DType;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Per-token time of {@code Backend.sample} for one row of logits: the backend under test and the reference
 * backend side by side on the same logits and draws. The logits look like a language model's: N(0, 2²)
 * with a dozen spikes 12 to 20 above the mean (a few tokens hold nearly all the probability).
 */
public final class SamplingBench {
    /** Llama 2's and Llama 3's vocabularies. */
    public static final List<Integer> VOCABS = List.of(32000, 128256);

    private static final List<SamplingParams> MODES = List.of(new SamplingParams(0.8f, 40, 0.95f),
            SamplingParams.GREEDY, new SamplingParams(0.8f, 0, 0.95f));

    private final Backend backend;
    private final Backend reference;

    public SamplingBench(Backend backend, Backend reference) {
        this.backend = backend;
        this.reference = reference;
    }

    public void run(int vocab, BenchReport report) {
        float[] logits = logits(vocab, new SplittableRandom(vocab));
        for (SamplingParams p : MODES) {
            String config = "V=" + vocab + " " + (p.greedy() ? "greedy"
                    : "top-k " + (p.topK() > 0 ? p.topK() : "off") + " top-p " + p.topP() + " T " + p.temperature());
            Measured mine = measure(backend, logits, vocab, p);
            report.add(new BenchRow("sampling", backend.name(), config, mine.seconds, Double.NaN, Double.NaN,
                    1 / mine.seconds, mine.peakMib, null, Double.NaN));
            if (reference != null && reference != backend) {
                Measured ref = measure(reference, logits, vocab, p);
                report.add(new BenchRow("sampling", "reference", config, ref.seconds, Double.NaN, Double.NaN,
                        1 / ref.seconds, ref.peakMib, null, Double.NaN));
                report.add(new BenchRow("sampling", backend.name() + "/reference", config, mine.seconds, Double.NaN,
                        Double.NaN, Double.NaN, Double.NaN, "faster than reference", ref.seconds / mine.seconds));
            }
        }
    }

    static float[] logits(int vocab, SplittableRandom rnd) {
        float[] l = new float[vocab];
        for (int i = 0; i < vocab; i++) {
            l[i] = (float) (2 * rnd.nextGaussian());
        }
        for (int s = 0; s < 12; s++) {
            l[rnd.nextInt(vocab)] = (float) (12 + 8 * rnd.nextDouble());
        }
        return l;
    }

    private record Measured(double seconds, double peakMib) {
    }

    /** Median seconds per token (calls batched so each timed run lasts a few ms), and the peak memory bound. */
    private static Measured measure(Backend be, float[] logits, int vocab, SamplingParams p) {
        SamplingParams[] params = {p};
        double[][] draws = new double[64][];
        SplittableRandom rnd = new SplittableRandom(42);
        for (int i = 0; i < draws.length; i++) {
            draws[i] = new double[] {rnd.nextDouble()};
        }
        try (Tensor t = be.upload(logits, DType.F32, 1, vocab)) {
            long t0 = System.nanoTime();
            int warm = 0;
            while (warm < 1000 && (warm < 3 || System.nanoTime() - t0 < 300_000_000L)) { // JIT warm-up
                be.sample(t, params, draws[warm++ % draws.length]);
            }
            double once = Math.max((System.nanoTime() - t0) / 1e9 / warm, 1e-7);
            int calls = (int) Math.max(1, Math.min(draws.length, 5e-3 / once));
            int[] next = {0};
            Runnable body = () -> {
                for (int c = 0; c < calls; c++) {
                    be.sample(t, params, draws[next[0]++ % draws.length]);
                }
            };
            double secs = Timer.median(body, 1, 0.2, 5, 200, 1.0) / calls;
            long live = be.bytesInUse();
            long before = HeapProbe.allocatedBytes();
            be.sample(t, params, draws[0]);
            long transient_ = HeapProbe.allocatedBytes() - before;
            return new Measured(secs, (live + transient_) / (double) (1 << 20));
        }
    }
}
