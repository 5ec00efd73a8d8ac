package io.attnrt.bench;

import io.attnrt.backend.AttentionSpec;
import io.attnrt.backend.Backend;
import io.attnrt.tensor.DType;
import io.attnrt.backend.Tensor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Paged decode attention: B sequences of context C each, one query token per sequence. Decode attention
 * is bound by memory: every cached K and V element is read once, so the figure that matters is GB/s —
 * bytes = B·C·kvHeads·d·2·sizeof(cache dtype) + q and out — against the machine's streaming bandwidth.
 */
public final class DecodeBench {
    public record Shape(int batch, int context, int headDim, int heads, int kvHeads, int blockSize) {
        public String describe() {
            return "B=" + batch + " ctx=" + context + " d=" + headDim + " h=" + heads + "/" + kvHeads + " blk=" + blockSize;
        }

        double bytes(DType cache) {
            double kv = 2.0 * batch * (double) context * kvHeads * headDim * cache.byteSize();
            return kv + 2.0 * batch * heads * headDim * 4;
        }
    }

    private final Backend backend;
    private final Backend reference;
    private final double bandwidthGBs;
    private final long referenceMaxWork;

    public DecodeBench(Backend backend, Backend reference, double bandwidthGBs, long referenceMaxWork) {
        this.backend = backend;
        this.reference = reference;
        this.bandwidthGBs = bandwidthGBs;
        this.referenceMaxWork = referenceMaxWork;
    }

    public void run(Shape s, BenchReport report) {
        AttentionSpec spec = AttentionSpec.of(s.heads(), s.kvHeads(), s.headDim(), true);
        int blocksPerSeq = (s.context() + s.blockSize() - 1) / s.blockSize();
        int numBlocks = blocksPerSeq * s.batch();
        SplittableRandom rnd = new SplittableRandom(s.context() * 17L + s.batch());
        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < numBlocks; i++) {
            ids.add(i);
        }
        Collections.shuffle(ids, new java.util.Random(7));
        int[] tables = ids.stream().mapToInt(Integer::intValue).toArray();
        int[] lens = new int[s.batch()];
        java.util.Arrays.fill(lens, s.context());
        int cacheElems = numBlocks * s.blockSize() * spec.kvWidth();
        float[] kc = AttentionBench.random(rnd, cacheElems);
        float[] vc = AttentionBench.random(rnd, cacheElems);
        float[] q = AttentionBench.random(rnd, s.batch() * spec.qWidth());

        double secs = time(backend, s, spec, kc, vc, q, tables, blocksPerSeq, lens, numBlocks, true);
        double gbs = s.bytes(DType.F32) / secs / 1e9;
        report.add(new BenchRow("decode-attention", backend.name(), s.describe(), secs, Double.NaN, gbs, Double.NaN,
                Double.NaN, Double.isNaN(bandwidthGBs) ? null : "of measured bandwidth",
                gbs / bandwidthGBs));
        long work = (long) s.batch() * s.context() * s.heads();
        if (reference != null && reference != backend && work <= referenceMaxWork) {
            double ref = time(reference, s, spec, kc, vc, q, tables, blocksPerSeq, lens, numBlocks, false);
            report.add(new BenchRow("decode-attention", "reference", s.describe(), ref, Double.NaN,
                    s.bytes(DType.F32) / ref / 1e9, Double.NaN, Double.NaN, null, Double.NaN));
            report.add(new BenchRow("decode-attention", backend.name() + "/reference", s.describe(), secs, Double.NaN,
                    Double.NaN, Double.NaN, Double.NaN, "faster than reference", ref / secs));
        }
    }

    private static double time(Backend be, Shape s, AttentionSpec spec, float[] kc, float[] vc, float[] q, int[] tables,
                               int blocksPerSeq, int[] lens, int numBlocks, boolean repeat) {
        int[] cacheShape = {numBlocks, s.blockSize(), s.kvHeads(), s.headDim()};
        try (Tensor k = be.upload(kc, DType.F32, cacheShape);
             Tensor v = be.upload(vc, DType.F32, cacheShape);
             Tensor tq = be.upload(q, be.activationDType(), s.batch(), spec.qWidth());
             Tensor out = be.allocate(be.activationDType(), s.batch(), spec.qWidth())) {
            Runnable body = () -> {
                be.attentionDecode(tq, k, v, tables, blocksPerSeq, lens, spec, out, null);
                be.synchronize();
            };
            // 2 s of warm-up: C2 needs about that long on 2 cores to compile the vectorised decode kernel
            return repeat ? Timer.median(body, 2, 2.0, 5, 200, 0.5) : Timer.median(body, 0, 1, 1, 0);
        }
    }
}
