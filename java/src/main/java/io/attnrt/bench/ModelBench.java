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
    private final double bandwidthGBs;

    public ModelBench(Backend backend, double bandwidthGBs) {
        this.backend = backend;
        this.bandwidthGBs = bandwidthGBs;
    }

    /** Bytes of weights one decode step reads per sequence. */
    static double weightBytesPerToken(LlamaConfig cfg, LlamaWeights w) {
        double embeddingTable = (double) cfg.vocabSize() * cfg.hiddenSize() * w.embedTokens().dtype().byteSize();
        double row = (double) cfg.hiddenSize() * w.embedTokens().dtype().byteSize();
        double total = w.bytes();
        // a tied LM head reads the embedding table in full anyway
        return cfg.tieWordEmbeddings() ? total : total - embeddingTable + row;
    }

    public void run(LlamaConfig cfg, int promptLength, int newTokens, int batch, DType weightDtype, BenchReport report) {
        try (LlamaWeights w = LlamaWeights.random(cfg, backend, weightDtype, 42);
             LlamaModel model = new LlamaModel(cfg, w, backend)) {
            int blockSize = 16;
            int blocks = batch * ((promptLength + newTokens + blockSize - 1) / blockSize);
            try (PagedKvCache cache = model.newCache(blockSize, blocks, DType.F32)) {
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
                // The same work once untimed, so the JIT has compiled every kernel; then the best of five runs,
                // as the bandwidth it is compared with is the best of several passes.
                gen.generate(requests);
                GenerationStats st = null;
                GenerationStats bestPrefill = null;
                for (int run = 0; run < 5; run++) {
                    gen.generate(requests);
                    GenerationStats r = gen.lastStats();
                    if (st == null || r.decodeNanos() < st.decodeNanos()) {
                        st = r;
                    }
                    if (bestPrefill == null || r.prefillNanos() < bestPrefill.prefillNanos()) {
                        bestPrefill = r;
                    }
                }
                String config = String.format("%.1fM params %s, prompt %d, batch %d", cfg.parameterCount() / 1e6,
                        weightDtype, promptLength, batch);
                double prefillS = bestPrefill.prefillNanos() / 1e9;
                // prefill FLOP ≈ 2·params·tokens for the matmuls (attention's share is small at this length)
                double prefillFlop = 2.0 * (cfg.parameterCount() - (double) cfg.vocabSize() * cfg.hiddenSize())
                        * bestPrefill.prefillTokens();
                report.add(new BenchRow("model-prefill", backend.name(), config, prefillS, prefillFlop / prefillS / 1e9,
                        Double.NaN, bestPrefill.prefillTokensPerSecond(), Double.NaN, null, Double.NaN));
                double perToken = weightBytesPerToken(cfg, w);
                double stepsPerS = st.decodeSteps() / (st.decodeNanos() / 1e9);
                double gbs = stepsPerS * perToken / 1e9;
                double limitTokens = bandwidthGBs * 1e9 / perToken * batch;
                report.add(new BenchRow("model-decode", backend.name(),
                        config + String.format(", %.0f MB weights/step", perToken / 1e6),
                        st.decodeNanos() / 1e9 / Math.max(1, st.decodeSteps()), Double.NaN, gbs,
                        st.decodeTokensPerSecond(), Double.NaN, "of bandwidth limit " + String.format("%.0f tok/s", limitTokens),
                        st.decodeTokensPerSecond() / limitTokens));
            }
        }
    }
}
