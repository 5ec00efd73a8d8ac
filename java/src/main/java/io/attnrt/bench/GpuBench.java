package io.attnrt.bench;

import io.attnrt.backend.AttentionSpec;
import io.attnrt.backend.Tensor;
import io.attnrt.backend.cuda.CudaBackend;
import io.attnrt.model.LlamaConfig;
import io.attnrt.tensor.DType;
import java.util.List;

/**
 * The cuda backend's figures, each with its formula and the device limit measured in the same run:
 * <ul>
 *   <li>prefill attention TFLOP/s, FLOP = 4·L²·d·heads per sequence (halved when causal), with as many
 *       sequences of length L as make 16k tokens (FlashAttention-2's benchmark convention);</li>
 *   <li>decode attention GB/s of K/V read (B·ctx·kvHeads·d·2 tensors·2 bytes) ÷ the device-to-device copy
 *       bandwidth (read + write) measured alongside;</li>
 *   <li>GEMV GB/s of weights read (OUT·IN·2 bytes) ÷ the same bandwidth;</li>
 *   <li>whole-model decode tokens/s on random BF16 weights against the roofline bandwidth ÷ weight bytes
 *       per step, and prefill tokens/s ({@link ModelBench}).</li>
 * </ul>
 * On the emulated device every figure is meaningless (it runs on the CPU); the rows say so.
 */
public final class GpuBench {
    /** Llama-3.2-1B: vocab 128256, hidden 2048, 16 layers, 32/8 heads of 64, intermediate 8192, tied. */
    public static LlamaConfig llama32OneB() {
        return LlamaConfig.builder().vocabSize(128256).hiddenSize(2048).numHiddenLayers(16).numAttentionHeads(32)
                .numKeyValueHeads(8).headDim(64).intermediateSize(8192).ropeTheta(500000).tieWordEmbeddings(true)
                .maxPositionEmbeddings(131072).build();
    }

    /** Llama-3.1-8B: vocab 128256, hidden 4096, 32 layers, 32/8 heads of 128, intermediate 14336, untied. */
    public static LlamaConfig llama31EightB() {
        return LlamaConfig.builder().vocabSize(128256).hiddenSize(4096).numHiddenLayers(32).numAttentionHeads(32)
                .numKeyValueHeads(8).headDim(128).intermediateSize(14336).ropeTheta(500000)
                .maxPositionEmbeddings(131072).build();
    }

    private final CudaBackend cuda;
    private final double copyGBs;
    private final String note;

    public GpuBench(CudaBackend cuda, BenchReport report) {
        this.cuda = cuda;
        this.copyGBs = cuda.measureCopyGBs(cuda.emulated() ? 1L << 20 : 1L << 30, cuda.emulated() ? 3 : 9);
        this.note = cuda.emulated() ? " [EMULATED device: timings mean nothing]" : "";
        report.add(new BenchRow("bandwidth", "cuda-d2d-copy", "cuMemcpyDtoD, read+write, median" + note, Double.NaN,
                Double.NaN, copyGBs, Double.NaN, Double.NaN, null, Double.NaN));
    }

    public double copyGBs() {
        return copyGBs;
    }

    /** Prefill attention over {@code batch} sequences of length L, BF16, no LSE. */
    public void prefill(int length, int headDim, int heads, int kvHeads, boolean causal, int tokens, BenchReport report) {
        int batch = Math.max(1, tokens / length);
        AttentionSpec spec = AttentionSpec.of(heads, kvHeads, headDim, causal);
        int t = batch * length;
        int[] starts = new int[batch + 1];
        for (int s = 1; s <= batch; s++) {
            starts[s] = s * length;
        }
        DType act = cuda.activationDType();
        try (Tensor q = cuda.allocate(act, t, spec.qWidth()); Tensor k = cuda.allocate(act, t, spec.kvWidth());
             Tensor v = cuda.allocate(act, t, spec.kvWidth()); Tensor out = cuda.allocate(act, t, spec.qWidth())) {
            cuda.fillBellShaped(q, 1, 0, 1);
            cuda.fillBellShaped(k, 2, 0, 1);
            cuda.fillBellShaped(v, 3, 0, 1);
            double secs = time(() -> cuda.attentionPrefill(q, k, v, starts, spec, out, null));
            double flop = 4.0 * length * (double) length * headDim * heads * batch / (causal ? 2 : 1);
            report.add(new BenchRow("prefill-attention", "cuda", "L=" + length + " d=" + headDim + " h=" + heads + "/"
                    + kvHeads + (causal ? " causal" : "") + " x" + batch + " seqs" + note, secs, flop / secs / 1e9,
                    Double.NaN, Double.NaN, Double.NaN, null, Double.NaN));
        }
    }

    /** Paged decode attention, 32/8 heads of 128, BF16 cache, block 16. */
    public void decode(int batch, int context, BenchReport report) {
        int heads = 32;
        int kvHeads = 8;
        int d = 128;
        int blockSize = 16;
        AttentionSpec spec = AttentionSpec.of(heads, kvHeads, d, true);
        int blocksPerSeq = (context + blockSize - 1) / blockSize;
        int numBlocks = batch * blocksPerSeq;
        int[] tables = new int[numBlocks];
        for (int i = 0; i < numBlocks; i++) {
            tables[i] = (int) ((i * 7919L) % numBlocks); // scattered, as a real pool is
        }
        int[] lens = new int[batch];
        java.util.Arrays.fill(lens, context);
        DType act = cuda.activationDType();
        try (Tensor kc = cuda.allocate(DType.BF16, numBlocks, blockSize, kvHeads, d);
             Tensor vc = cuda.allocate(DType.BF16, numBlocks, blockSize, kvHeads, d);
             Tensor q = cuda.allocate(act, batch, spec.qWidth()); Tensor out = cuda.allocate(act, batch, spec.qWidth())) {
            cuda.fillBellShaped(kc, 4, 0, 1);
            cuda.fillBellShaped(vc, 5, 0, 1);
            cuda.fillBellShaped(q, 6, 0, 1);
            double secs = time(() -> cuda.attentionDecode(q, kc, vc, tables, blocksPerSeq, lens, spec, out, null));
            double bytes = (double) batch * context * kvHeads * d * 2 * 2;
            double gbs = bytes / secs / 1e9;
            report.add(new BenchRow("decode-attention", "cuda", "B=" + batch + " ctx=" + context + " h=32/8 d=128 bf16"
                    + note, secs, Double.NaN, gbs, Double.NaN, Double.NaN, "of d2d copy bandwidth", gbs / copyGBs));
        }
    }

    /** One token through a BF16 weight [OUT, IN]. */
    public void gemv(int out, int in, int tokens, BenchReport report) {
        DType act = cuda.activationDType();
        try (Tensor w = cuda.allocate(DType.BF16, out, in); Tensor x = cuda.allocate(act, tokens, in);
             Tensor y = cuda.allocate(act, tokens, out)) {
            cuda.fillBellShaped(w, 7, 0, 0.02);
            cuda.fillBellShaped(x, 8, 0, 1);
            double secs = time(() -> cuda.linear(x, w, y));
            double gbs = 2.0 * out * in / secs / 1e9;
            report.add(new BenchRow("gemv", "cuda", "N=" + tokens + " OUT=" + out + " IN=" + in + " bf16" + note, secs,
                    2.0 * tokens * out * in / secs / 1e9, gbs, Double.NaN, Double.NaN, "of d2d copy bandwidth",
                    gbs / copyGBs));
        }
    }

    /** Whole-model prefill and decode through {@link ModelBench}, the roofline taken from the copy bandwidth. */
    public void model(LlamaConfig cfg, int prompt, int steps, int batch, BenchReport report) {
        new ModelBench(cuda, () -> copyGBs).run(cfg, prompt, steps, batch, DType.BF16, report);
    }

    /** Median seconds of a synchronised call after two warm-up calls, at least 5 runs or 0.3 s. */
    private double time(Runnable op) {
        return Timer.median(() -> {
            op.run();
            cuda.synchronize();
        }, 2, 0.0, cuda.emulated() ? 1 : 5, cuda.emulated() ? 1 : 200, cuda.emulated() ? 0 : 0.3);
    }

    /** The shapes the command runs: quick keeps the whole run within a few minutes on an H100/H200. */
    public static List<int[]> decodeShapes(boolean quick) {
        return quick ? List.of(new int[] {1, 4096}, new int[] {1, 16384}, new int[] {8, 4096}, new int[] {32, 2048})
                : List.of(new int[] {1, 4096}, new int[] {1, 16384}, new int[] {1, 65536}, new int[] {8, 4096},
                        new int[] {32, 2048}, new int[] {32, 8192});
    }
}
