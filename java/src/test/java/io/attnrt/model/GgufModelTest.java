package io.attnrt.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.attnrt.backend.Backend;
import io.attnrt.backend.RopeStyle;
import io.attnrt.tensor.DType;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * GGUF models of every quantized type (test-data/gguf, written by scripts/make_test_gguf.py) against the
 * float64 forward pass of their dequantized weights. Every backend decodes the weights exactly and keeps
 * activations in F32 (no activation quantization), so the only error is fp32 arithmetic, as for the
 * safetensors models: the same {@link LlamaModelTest#LOGIT_TOLERANCE} of 1e-4 holds.
 */
class GgufModelTest {
    static final Path DIR = Path.of("test-data", "gguf");
    static final List<String> MODELS = List.of("tiny-q8_0", "tiny-q4_0", "tiny-q4_k", "tiny-q5_k", "tiny-q6_k",
            "tiny-q4_k_m", "tiny-q8_0-tied");

    static Stream<Arguments> modelsAndBackends() {
        List<Arguments> args = new ArrayList<>();
        for (String m : MODELS) {
            for (Supplier<Backend> b : TestModels.backends()) {
                args.add(Arguments.of(m, b));
            }
        }
        return args.stream();
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("modelsAndBackends")
    void prefillLogitsAndGreedyDecodeMatchTheFloat64Reference(String name, Supplier<Backend> backend) {
        Path file = DIR.resolve(name + ".gguf");
        try (Backend be = backend.get(); TestModels.Loaded m = TestModels.loadGguf(file, be)) {
            assertEquals(RopeStyle.INTERLEAVED, m.config().ropeStyle(), "llama GGUF files pair RoPE dims adjacently");
            for (TestModels.Case c : TestModels.casesOf(DIR.resolve(name + ".reference.json"))) {
                float[][] got = LlamaModelTest.allLogits(m, c.prompt());
                for (int pos = 0; pos < c.prompt().length; pos++) {
                    double err = LlamaModelTest.maxAbsDiff(c.logits()[pos], got[pos]);
                    assertTrue(err <= LlamaModelTest.LOGIT_TOLERANCE, be.description() + " " + name + " '" + c.text()
                            + "' position " + pos + ": max |logit error| " + err);
                }
                List<float[]> steps = new ArrayList<>();
                GenerationResult r = m.generator(16, 16).generate(
                        List.of(GenerationRequest.greedy(c.prompt(), c.greedy().length)),
                        (req, step, logits, token) -> steps.add(logits)).get(0);
                assertNull(r.error());
                assertArrayEquals(c.greedy(), r.generated(), be.description() + " " + name + " greedy of '" + c.text() + "'");
                for (int s = 0; s < steps.size(); s++) {
                    double err = LlamaModelTest.maxAbsDiff(c.greedyStepLogits()[s], steps.get(s));
                    assertTrue(err <= LlamaModelTest.LOGIT_TOLERANCE, name + " decode step " + s + ": " + err);
                }
            }
        }
    }

    @Test
    void theWeightsStayInTheirQuantizedTypes() {
        try (io.attnrt.model.gguf.GgufModel g = io.attnrt.model.gguf.GgufModel.open(DIR.resolve("tiny-q4_k_m.gguf"));
             Backend be = new io.attnrt.backend.cpu.CpuBackend(2, true);
             LlamaWeights w = LlamaWeights.load(g, g.config(), be)) {
            assertEquals(DType.Q6_K, w.lmHead().dtype());
            assertEquals(DType.Q4_K, w.embedTokens().dtype());
            assertEquals(DType.Q4_K, w.layer(0).wq().dtype());
            assertEquals(DType.Q6_K, w.layer(1).wDown().dtype(), "Q4_K_M's more-bits rule picks layer 1's ffn_down");
            assertEquals(DType.F32, w.layer(0).attnNorm().dtype());
            // 2 layers of 256-wide Q4_K/Q6_K weights: well under a fifth of the F32 size
            long f32Bytes = 4L * g.config().parameterCount();
            assertTrue(w.bytes() < f32Bytes / 5, w.bytes() + " bytes of " + f32Bytes + " in F32");
        }
    }

    /**
     * qwen2 (q/k/v biases) and qwen3 (per-head q/k norms, head_dim ≠ hidden/heads) GGUF copies of the BF16
     * test models, with NeoX rotate-half RoPE as llama.cpp runs those architectures: the same reference.json
     * within the same 1e-4.
     */
    @Test
    void qwen2AndQwen3GgufFilesMatchTheirSafetensorsReferences() {
        for (String family : List.of("qwen2", "qwen3")) {
            Path dir = Path.of("test-data", "tiny-" + family);
            for (Supplier<Backend> backend : TestModels.backends()) {
                try (Backend be = backend.get();
                     TestModels.Loaded m = TestModels.loadGguf(DIR.resolve("tiny-" + family + "-bf16.gguf"), be)) {
                    assertEquals(RopeStyle.ROTATE_HALF, m.config().ropeStyle(), family);
                    assertEquals(family.equals("qwen2"), m.config().qkvBias(), family + " biases");
                    assertEquals(family.equals("qwen3"), m.config().qkNorm(), family + " q/k norms");
                    assertEquals(DType.BF16, m.weights().layer(0).wq().dtype());
                    for (TestModels.Case c : TestModels.cases(dir)) {
                        float[][] got = LlamaModelTest.allLogits(m, c.prompt());
                        for (int pos = 0; pos < got.length; pos++) {
                            double err = LlamaModelTest.maxAbsDiff(c.logits()[pos], got[pos]);
                            assertTrue(err <= LlamaModelTest.LOGIT_TOLERANCE, be.description() + " " + family + " '"
                                    + c.text() + "' position " + pos + ": " + err);
                        }
                    }
                }
            }
        }
    }

    /** The same weights as safetensors and as GGUF (q/k permuted, adjacent-pair RoPE) give the same logits. */
    @Test
    void ggufAndSafetensorsCopiesOfTheSameWeightsGiveTheSameLogits() {
        for (Supplier<Backend> backend : TestModels.backends()) {
            try (Backend be = backend.get();
                 TestModels.Loaded st = TestModels.load(TestModels.TINY, be);
                 TestModels.Loaded gg = TestModels.loadGguf(DIR.resolve("tiny-llama-f32.gguf"), be)) {
                assertEquals(st.config().vocabSize(), gg.config().vocabSize());
                for (TestModels.Case c : TestModels.cases(TestModels.TINY)) {
                    float[][] a = LlamaModelTest.allLogits(st, c.prompt());
                    float[][] b = LlamaModelTest.allLogits(gg, c.prompt());
                    for (int pos = 0; pos < a.length; pos++) {
                        double err = LlamaModelTest.maxAbsDiff(LlamaModelTest.toDouble(a[pos]), b[pos]);
                        // only the order of the RoPE pairs' arithmetic differs: a few fp32 ulps of the logits
                        assertTrue(err <= 1e-5, be.description() + " '" + c.text() + "' position " + pos + ": " + err);
                    }
                }
            }
        }
    }
}
