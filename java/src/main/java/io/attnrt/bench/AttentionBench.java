package io.attnrt.bench;

import io.attnrt.backend.AttentionSpec;
import io.attnrt.backend.Backend;
import io.attnrt.tensor.DType;
import io.attnrt.backend.Tensor;
import java.util.SplittableRandom;

/**
 * Prefill attention of one sequence of length L: the backend under test against the reference backend
 * and the naive L×L attention where those are affordable, measured side by side in one run.
 */
public final class AttentionBench {
    /** One shape of the sweep. */
    public record Shape(int length, int headDim, int heads, int kvHeads, boolean causal) {
        AttentionSpec spec() {
            return AttentionSpec.of(heads, kvHeads, headDim, causal);
        }

        /** 4·L²·d·heads, halved when causal. */
        double flop() {
            double f = 4.0 * length * (double) length * headDim * heads;
            return causal ? f / 2 : f;
        }

        public String describe() {
            return "L=" + length + " d=" + headDim + " h=" + heads + "/" + kvHeads + (causal ? " causal" : "");
        }
    }

    private final Backend backend;
    private final Backend reference;
    private final int referenceMaxLength;
    private final int naiveMaxLength;

    public AttentionBench(Backend backend, Backend reference, int referenceMaxLength, int naiveMaxLength) {
        this.backend = backend;
        this.reference = reference;
        this.referenceMaxLength = referenceMaxLength;
        this.naiveMaxLength = naiveMaxLength;
    }

    public void run(Shape s, BenchReport report) {
        SplittableRandom rnd = new SplittableRandom(s.length() * 31L + s.headDim());
        AttentionSpec spec = s.spec();
        int l = s.length();
        float[] q = random(rnd, l * spec.qWidth());
        float[] k = random(rnd, l * spec.kvWidth());
        float[] v = random(rnd, l * spec.kvWidth());
        int[] seqStarts = {0, l};

        Measured mine = measure(backend, spec, q, k, v, seqStarts, l, Timer::median);
        report.add(new BenchRow("prefill-attention", backend.name(), s.describe(), mine.seconds,
                s.flop() / mine.seconds / 1e9, Double.NaN, Double.NaN, mine.peakMib, null, Double.NaN));

        if (l <= referenceMaxLength && reference != null && reference != backend) {
            Measured ref = measure(reference, spec, q, k, v, seqStarts, l, (body, w, a, b, c) -> Timer.median(body, 0, 1, 1, 0));
            report.add(new BenchRow("prefill-attention", "reference", s.describe(), ref.seconds,
                    s.flop() / ref.seconds / 1e9, Double.NaN, Double.NaN, ref.peakMib, null, Double.NaN));
            report.add(new BenchRow("prefill-attention", backend.name() + "/reference", s.describe(), mine.seconds,
                    Double.NaN, Double.NaN, Double.NaN, Double.NaN, "faster than reference", ref.seconds / mine.seconds));
        }
        if (l <= naiveMaxLength) {
            long before = HeapProbe.allocatedBytes();
            long t0 = System.nanoTime();
            NaiveAttention.run(q, k, v, l, spec);
            double secs = (System.nanoTime() - t0) / 1e9;
            double inputs = 4.0 * (q.length * 2L + k.length + v.length);
            double peak = (inputs + (HeapProbe.allocatedBytes() - before)) / (1 << 20);
            report.add(new BenchRow("prefill-attention", "naive-LxL", s.describe(), secs, s.flop() / secs / 1e9,
                    Double.NaN, Double.NaN, peak, null, Double.NaN));
            report.add(new BenchRow("prefill-attention", backend.name() + "/naive", s.describe(), mine.seconds,
                    Double.NaN, Double.NaN, Double.NaN, Double.NaN, "faster than naive-LxL", secs / mine.seconds));
        } else {
            // Too slow to run here; its memory is still certain: inputs, output and one L×L score matrix.
            double bytes = 4.0 * (q.length * 2L + k.length + v.length) + 4.0 * l * (double) l;
            report.add(new BenchRow("prefill-attention", "naive-LxL(est)", s.describe() + " not run", Double.NaN,
                    Double.NaN, Double.NaN, Double.NaN, bytes / (1 << 20), null, Double.NaN));
        }
    }

    interface TimerFn {
        double time(Runnable body, int warmups, int minReps, int maxReps, double minSeconds);
    }

    private record Measured(double seconds, double peakMib) {
    }

    private static Measured measure(Backend be, AttentionSpec spec, float[] q, float[] k, float[] v, int[] seqStarts,
                                    int l, TimerFn timer) {
        try (Tensor tq = be.upload(q, be.activationDType(), l, spec.qWidth());
             Tensor tk = be.upload(k, be.activationDType(), l, spec.kvWidth());
             Tensor tv = be.upload(v, be.activationDType(), l, spec.kvWidth());
             Tensor out = be.allocate(be.activationDType(), l, spec.qWidth())) {
            Runnable body = () -> {
                be.attentionPrefill(tq, tk, tv, seqStarts, spec, out, null);
                be.synchronize();
            };
            double secs = timer.time(body, 1, 3, 20, 1.0);
            long live = be.bytesInUse();
            long before = HeapProbe.allocatedBytes();
            body.run();
            long transient_ = HeapProbe.allocatedBytes() - before;
            return new Measured(secs, (live + transient_) / (double) (1 << 20));
        }
    }

    static float[] random(SplittableRandom rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (rnd.nextDouble() * 2 - 1);
        }
        return a;
    }
}
