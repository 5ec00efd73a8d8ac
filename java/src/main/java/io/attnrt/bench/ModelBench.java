package io.attnrt.bench;

import io.attnrt.backend.Backend;
import io.attnrt.backend.SamplingParams;
import io.attnrt.kv.PagedKvCache;
import io.attnrt.model.GenerationRequest;
import io.attnrt.model.GenerationStats;
import io.attnrt.model.Generator;
import io.attnrt.model.LlamaConfig;
import io.attnrt.model.LlamaModel;
import io.attnrt.model.LlamaWeights;
import io.attnrt.tensor.DType;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Whole-model prefill and decode on random weights. Decode of one token must read every weight once
 * (all but the embedding table, of which one row), so the machine's ceiling is
 * tokens/s ≤ streaming bandwidth ÷ bytes of weights read per token; the ratio to that ceiling is the
 * figure of merit for a memory-bound decoder.
 */
public final class ModelBench {
    private final Backend backend;
    private final java.util.function.DoubleSupplier bandwidthGBs;
    private final double peakGflops;

    /** @param bandwidthGBs measures the machine's streaming bandwidth now, in GB/s */
    public ModelBench(Backend backend, java.util.function.DoubleSupplier bandwidthGBs) {
        this(backend, bandwidthGBs, Double.NaN);
    }

    /** @param peakGflops the measured FMA peak prefill's GFLOP/s are compared with (NaN: no ratio) */
    public ModelBench(Backend backend, java.util.function.DoubleSupplier bandwidthGBs, double peakGflops) {
        this.backend = backend;
        this.bandwidthGBs = bandwidthGBs;
        this.peakGflops = peakGflops;
    }

    /** Bytes of weights one decode step reads per sequence. */
    static double weightBytesPerToken(LlamaConfig cfg, LlamaWeights w) {
        DType embed = w.embedTokens().dtype();
        double embeddingTable = (double) embed.bytesFor((long) cfg.vocabSize() * cfg.hiddenSize());
        double row = (double) embed.bytesFor(cfg.hiddenSize());
        double total = w.bytes();
        // a tied LM head reads the embedding table in full anyway
        return cfg.tieWordEmbeddings() ? total : total - embeddingTable + row;
    }

    public void run(LlamaConfig cfg, int promptLength, int newTokens, int batch, DType weightDtype, BenchReport report) {
        try (LlamaWeights w = LlamaWeights.random(cfg, backend, weightDtype, 42);
             LlamaModel model = new LlamaModel(cfg, w, backend)) {
            int blockSize = 16;
            int blocks = batch * ((promptLength + newTokens + blockSize - 1) / blockSize);
            try (PagedKvCache cache = model.newCache(blockSize, blocks, backend.activationDType())) {
                Generator gen = new Generator(model, cache);
                SplittableRandom rnd = new SplittableRandom(1);
                List<GenerationRequest> requests = new ArrayList<>();
                for (int b = 0; b < batch; b++) {
                    int[] prompt = new int[promptLength];
                    for (int i = 0; i < promptLength; i++) {
                        prompt[i] = rnd.nextInt(cfg.vocabSize());
                    }
                    requests.add(new GenerationRequest(prompt, newTokens, SamplingParams.GREEDY, b, -1));
                }
                // The same work once untimed, then ten untimed prefills, so the JIT has compiled every kernel
                // (on two cores C2 competes with the compute threads, and one warm-up run left the prefill
                // still 1.5-2x slower for several more). Then five timed runs, each right after its own
                // bandwidth probe: a shared machine's bandwidth drifts over seconds, so a decode run is
                // compared with the bandwidth of the same moment. Reported: the median run.
                gen.generate(requests);
                List<GenerationRequest> prefillOnly = new ArrayList<>();
                for (GenerationRequest r : requests) {
                    prefillOnly.add(new GenerationRequest(r.prompt(), 1, r.sampling(), r.seed(), r.stopTokens()));
                }
                for (int i = 0; i < 10; i++) {
                    gen.generate(prefillOnly);
                }
                double perToken = weightBytesPerToken(cfg, w);
                List<double[]> runs = new ArrayList<>(); // {ratio, bandwidth, decode ns, steps, tokens/s, prefill ns, prefill tokens}
                for (int run = 0; run < 5; run++) {
                    double bw = bandwidthGBs.getAsDouble();
                    gen.generate(requests);
                    GenerationStats r = gen.lastStats();
                    double gbs = r.decodeSteps() * perToken / (r.decodeNanos() / 1e9) / 1e9;
                    runs.add(new double[] {gbs / bw, bw, r.decodeNanos(), r.decodeSteps(), r.decodeTokensPerSecond(),
                        r.prefillNanos(), r.prefillTokens()});
                }
                runs.sort(java.util.Comparator.comparingDouble(r -> r[5]));
                double[] prefill = runs.get(runs.size() / 2);
                runs.sort(java.util.Comparator.comparingDouble(r -> r[0]));
                double[] median = runs.get(runs.size() / 2);
                String config = String.format("%.1fM params %s, prompt %d, batch %d", cfg.parameterCount() / 1e6,
                        weightDtype, promptLength, batch);
                double prefillS = prefill[5] / 1e9;
                double prefillFlop = prefillFlop(cfg, promptLength, batch);
                double gflops = prefillFlop / prefillS / 1e9;
                report.add(new BenchRow("model-prefill", backend.name(), config, prefillS, gflops,
                        Double.NaN, prefill[6] / prefillS, Double.NaN,
                        Double.isNaN(peakGflops) ? null : String.format("of the FMA peak %.0f GFLOP/s", peakGflops),
                        gflops / peakGflops));
                double limitTokens = median[1] * 1e9 / perToken * batch;
                report.add(new BenchRow("model-decode", backend.name(),
                        config + String.format(", %.0f MB weights/step", perToken / 1e6),
                        median[2] / 1e9 / Math.max(1, median[3]), Double.NaN, median[0] * median[1], median[4],
                        Double.NaN, String.format("of bandwidth limit %.0f tok/s (%.1f GB/s measured alongside)",
                                limitTokens, median[1]), median[0]));
            }
        }
    }

    /**
     * The FLOP a prefill of {@code batch} prompts of {@code length} tokens does: 2 per weight of every layer's
     * projections per token, the LM head for each prompt's last token only (the logits computed), and causal
     * attention's 2·L²·d per head (4·L²·d halved) in every layer. Norms, RoPE and SwiGLU are not counted.
     */
    static double prefillFlop(LlamaConfig cfg, int length, int batch) {
        long h = cfg.hiddenSize();
        double projections = (double) cfg.numHiddenLayers()
                * (2.0 * h * cfg.qWidth() + 2.0 * h * cfg.kvWidth() + 3.0 * h * cfg.intermediateSize());
        double lmHead = (double) cfg.vocabSize() * h;
        double attention = 2.0 * length * length * cfg.headDim() * cfg.numAttentionHeads() * cfg.numHiddenLayers();
        return batch * (2.0 * projections * length + 2.0 * lmHead + attention);
    }
}
