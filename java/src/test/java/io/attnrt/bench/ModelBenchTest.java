package io.attnrt.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.attnrt.model.LlamaConfig;
import org.junit.jupiter.api.Test;

class ModelBenchTest {

    /**
     * The benchmark config (hidden 512, 8 layers, 8/4 heads of 64, intermediate 1408, vocab 32000), by hand:
     * projections per layer 2·512·512 (q, o) + 2·512·256 (k, v) + 3·512·1408 (gate, up, down) = 2,949,120
     * weights, ×8 layers = 23,592,960; a 128-token prompt: 2·23,592,960·128 = 6,039,797,760, the LM head for
     * the last token 2·32000·512 = 32,768,000, causal attention 2·128²·64·8·8 = 134,217,728.
     */
    @Test
    void prefillFlopCountsWhatThePrefillComputes() {
        LlamaConfig cfg = LlamaConfig.builder().vocabSize(32000).hiddenSize(512).numHiddenLayers(8)
                .numAttentionHeads(8).numKeyValueHeads(4).intermediateSize(1408).build();
        assertEquals(6_039_797_760.0 + 32_768_000.0 + 134_217_728.0, ModelBench.prefillFlop(cfg, 128, 1), 1.0);
        assertEquals(3 * (6_039_797_760.0 + 32_768_000.0 + 134_217_728.0), ModelBench.prefillFlop(cfg, 128, 3), 1.0);
    }
}
