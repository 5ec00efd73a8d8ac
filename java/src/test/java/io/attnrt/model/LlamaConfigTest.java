package io.attnrt.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.attnrt.backend.RopeScaling;
import io.attnrt.backend.RopeSpec;
import io.attnrt.backend.RopeStyle;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class LlamaConfigTest {
    static final Path TINY = Path.of("test-data", "tiny-llama");
    static final Path TINY_BF16 = Path.of("test-data", "tiny-llama-bf16-sharded");

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    /** A minimal valid config: only the required fields. */
    private static ObjectNode minimal() {
        ObjectNode n = JSON.createObjectNode();
        n.put("hidden_size", 64);
        n.put("intermediate_size", 176);
        n.put("num_attention_heads", 4);
        n.put("num_hidden_layers", 2);
        n.put("vocab_size", 256);
        n.put("rms_norm_eps", 1e-6);
        n.put("max_position_embeddings", 128);
        return n;
    }

    /** Writes {@code config} to a file, loads it, and expects an error naming the file and every fragment. */
    private void assertRejected(ObjectNode config, String... fragments) throws IOException {
        Path file = Files.writeString(dir.resolve("config.json"), config.toString());
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> LlamaConfig.load(file));
        assertTrue(e.getMessage().contains(file.toString()), () -> "should name the file: " + e.getMessage());
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), () -> "should contain '" + f + "': " + e.getMessage());
        }
    }

    @Test
    void tinyConfigsParse() {
        LlamaConfig c = LlamaConfig.load(TINY.resolve("config.json"));
        assertEquals(new LlamaConfig(64, 176, 4, 2, 2, 16, 1e-5, 10000.0, 256, 256, false), c);
        assertEquals(64, c.qWidth());
        assertEquals(32, c.kvWidth());
        assertEquals(RopeStyle.ROTATE_HALF, c.ropeSpec().style());
        assertEquals(2, c.attentionSpec().groupSize());
        assertTrue(c.attentionSpec().causal());

        LlamaConfig b = LlamaConfig.load(TINY_BF16.resolve("config.json"));
        assertTrue(b.tieWordEmbeddings());
        assertEquals(c.hiddenSize(), b.hiddenSize());
        assertEquals(c.parameterCount() - 256L * 64, b.parameterCount());
    }

    @Test
    void parameterCountMatchesTheTensorsInTheFile() {
        LlamaConfig c = LlamaConfig.load(TINY.resolve("config.json"));
        long inFile = 0;
        try (SafetensorsFile f = SafetensorsFile.open(TINY.resolve("model.safetensors"))) {
            for (String name : f.names()) {
                inFile += f.info(name).numel();
            }
        }
        assertEquals(inFile, c.parameterCount());
    }

    @Test
    void benchmarkConfig() {
        LlamaConfig c = LlamaConfig.benchmark();
        assertEquals(32000, c.vocabSize());
        assertEquals(512, c.hiddenSize());
        assertEquals(8, c.numHiddenLayers());
        assertEquals(8, c.numAttentionHeads());
        assertEquals(4, c.numKeyValueHeads());
        assertEquals(64, c.headDim());
        assertEquals(1408, c.intermediateSize());
        assertFalse(c.tieWordEmbeddings());
        long perLayer = 2 * 512 + 512 * 512 + 2 * 512 * 256 + 512 * 512 + 3 * 512 * 1408;
        assertEquals(2L * 32000 * 512 + 8 * perLayer + 512, c.parameterCount());
    }

    @Test
    void defaultsFollowHuggingFace() {
        LlamaConfig c = LlamaConfig.parse(minimal().toString(), "mem");
        assertEquals(4, c.numKeyValueHeads());
        assertEquals(16, c.headDim());
        assertEquals(10000.0, c.ropeTheta());
        assertFalse(c.tieWordEmbeddings());
        assertEquals(1e-6, c.rmsNormEps());

        ObjectNode nulls = minimal();
        nulls.putNull("num_key_value_heads");
        nulls.putNull("head_dim");
        nulls.putNull("rope_scaling");
        nulls.putNull("rope_theta");
        assertEquals(c, LlamaConfig.parse(nulls.toString(), "mem"));
    }

    @Test
    void builderHasTheSameDefaults() {
        LlamaConfig built = LlamaConfig.builder().hiddenSize(64).intermediateSize(176).numAttentionHeads(4)
                .numHiddenLayers(2).vocabSize(256).rmsNormEps(1e-6).maxPositionEmbeddings(128).build();
        assertEquals(LlamaConfig.parse(minimal().toString(), "mem"), built);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> LlamaConfig.builder().hiddenSize(64).intermediateSize(1).numAttentionHeads(4).numKeyValueHeads(3)
                        .numHiddenLayers(1).vocabSize(8).build());
        assertTrue(e.getMessage().contains("num_key_value_heads=3 does not divide num_attention_heads=4"), e.getMessage());
    }

    @Test
    void familiesAttnrtDoesNotImplementAreRefusedByName() throws IOException {
        ObjectNode n = minimal();
        for (String t : new String[] {"llama", "mistral", "qwen2", "qwen3"}) {
            n.put("model_type", t);
            LlamaConfig.parse(n.toString(), "mem");
        }
        n.put("model_type", "mixtral");
        assertRejected(n, "model_type", "mixtral", "not implemented");
        n.put("model_type", "llama");
        n.putArray("architectures").add("GemmaForCausalLM");
        assertRejected(n, "architecture", "GemmaForCausalLM", "not implemented");
    }

    @Test
    void unknownFieldsAreIgnored() {
        ObjectNode n = minimal();
        n.put("model_type", "llama");
        n.put("bos_token_id", 1);
        n.putObject("quantization_whatever").put("x", 1);
        n.put("hidden_act", "silu");
        n.put("attention_bias", false);
        assertEquals(LlamaConfig.parse(minimal().toString(), "a"), LlamaConfig.parse(n.toString(), "b"));
    }

    @Test
    void explicitFieldsOverrideDefaults() {
        ObjectNode n = minimal();
        n.put("num_key_value_heads", 1);
        n.put("head_dim", 32);
        n.put("rope_theta", 500000.0);
        n.put("tie_word_embeddings", true);
        LlamaConfig c = LlamaConfig.parse(n.toString(), "mem");
        assertEquals(1, c.numKeyValueHeads());
        assertEquals(32, c.headDim());
        assertEquals(128, c.qWidth());
        assertEquals(500000.0, c.ropeTheta());
        assertTrue(c.tieWordEmbeddings());
    }

    @ParameterizedTest
    @ValueSource(strings = {"hidden_size", "intermediate_size", "num_attention_heads", "num_hidden_layers",
            "vocab_size", "rms_norm_eps", "max_position_embeddings"})
    void missingRequiredField(String field) throws IOException {
        ObjectNode n = minimal();
        n.remove(field);
        assertRejected(n, "missing required field '" + field + "'");
    }

    @ParameterizedTest
    @ValueSource(strings = {"hidden_size", "intermediate_size", "num_attention_heads", "num_hidden_layers",
            "vocab_size", "max_position_embeddings", "num_key_value_heads", "head_dim"})
    void nonPositiveInteger(String field) throws IOException {
        ObjectNode n = minimal();
        n.put(field, field.equals("vocab_size") ? -5 : 0);
        assertRejected(n, field + " must be > 0", field.equals("vocab_size") ? "-5" : "0");
    }

    @Test
    void nonPositiveEpsAndTheta() throws IOException {
        ObjectNode eps = minimal();
        eps.put("rms_norm_eps", 0.0);
        assertRejected(eps, "rms_norm_eps", "> 0");
        ObjectNode theta = minimal();
        theta.put("rope_theta", -1.0);
        assertRejected(theta, "rope_theta", "> 1");
    }

    @Test
    void wrongJsonTypes() throws IOException {
        ObjectNode text = minimal();
        text.put("hidden_size", "64");
        assertRejected(text, "'hidden_size' must be an integer", "\"64\"");
        ObjectNode fraction = minimal();
        fraction.put("num_hidden_layers", 2.5);
        assertRejected(fraction, "'num_hidden_layers' must be an integer");
        ObjectNode huge = minimal();
        huge.put("vocab_size", 1L << 40);
        assertRejected(huge, "'vocab_size' must be an integer");
        ObjectNode eps = minimal();
        eps.put("rms_norm_eps", "small");
        assertRejected(eps, "'rms_norm_eps' must be a number");
        ObjectNode tie = minimal();
        tie.put("tie_word_embeddings", "yes");
        assertRejected(tie, "'tie_word_embeddings' must be true or false");
    }

    @Test
    void headsMustDivideHiddenWithoutHeadDim() throws IOException {
        ObjectNode n = minimal();
        n.put("num_attention_heads", 5);
        n.put("num_key_value_heads", 5);
        assertRejected(n, "num_attention_heads=5 does not divide hidden_size=64");
        n.put("head_dim", 16); // an explicit head_dim makes hidden_size independent of the heads
        assertEquals(80, LlamaConfig.parse(n.toString(), "mem").qWidth());
    }

    @Test
    void kvHeadsMustDivideHeads() throws IOException {
        ObjectNode n = minimal();
        n.put("num_key_value_heads", 3);
        assertRejected(n, "num_key_value_heads=3 does not divide num_attention_heads=4");
        n.put("num_key_value_heads", 8);
        assertRejected(n, "num_key_value_heads=8 does not divide num_attention_heads=4");
    }

    @Test
    void oddHeadDim() throws IOException {
        ObjectNode explicit = minimal();
        explicit.put("head_dim", 15);
        assertRejected(explicit, "head_dim=15 is odd");
        ObjectNode derived = minimal();
        derived.put("hidden_size", 60); // 60 / 4 = 15
        assertRejected(derived, "head_dim=15 is odd");
    }

    @Test
    void llama3AndLinearRopeScalingAreReadOthersRefused() throws IOException {
        ObjectNode n = minimal();
        // Llama-3.1-8B's block
        n.putObject("rope_scaling").put("rope_type", "llama3").put("factor", 8.0).put("low_freq_factor", 1.0)
                .put("high_freq_factor", 4.0).put("original_max_position_embeddings", 8192);
        assertEquals(RopeScaling.llama3(8, 1, 4, 8192), LlamaConfig.parse(n.toString(), "mem").ropeScaling());
        assertEquals(RopeScaling.llama3(8, 1, 4, 8192), LlamaConfig.parse(n.toString(), "mem").ropeSpec().scaling());
        n.putObject("rope_scaling").put("type", "linear").put("factor", 2.0);
        assertEquals(RopeScaling.linear(2), LlamaConfig.parse(n.toString(), "mem").ropeScaling());
        n.putObject("rope_scaling").put("rope_type", "default");
        assertEquals(RopeScaling.NONE, LlamaConfig.parse(n.toString(), "mem").ropeScaling());

        n.putObject("rope_scaling").put("rope_type", "yarn").put("factor", 4.0);
        assertRejected(n, "rope_scaling", "yarn", "not supported");
        n.putObject("rope_scaling").put("rope_type", "llama3").put("factor", 8.0);
        assertRejected(n, "rope_scaling", "low_freq_factor");
        n.putObject("rope_scaling").put("rope_type", "llama3").put("factor", 8.0).put("low_freq_factor", 4.0)
                .put("high_freq_factor", 1.0).put("original_max_position_embeddings", 8192);
        assertRejected(n, "rope_scaling", "low_freq_factor < high_freq_factor");
        n.put("rope_scaling", "llama3");
        assertRejected(n, "rope_scaling", "must be an object");
    }

    @Test
    void slidingWindowIsReadUnlessUseSlidingWindowSwitchesItOff() throws IOException {
        ObjectNode n = minimal();
        assertEquals(0, LlamaConfig.parse(n.toString(), "mem").attentionSpec().window());
        n.put("sliding_window", 4096);
        assertEquals(4096, LlamaConfig.parse(n.toString(), "mem").attentionSpec().window());
        n.put("use_sliding_window", false); // Qwen2
        assertEquals(0, LlamaConfig.parse(n.toString(), "mem").slidingWindow());
        n.remove("use_sliding_window");
        n.putNull("sliding_window"); // Mistral v0.2+
        assertEquals(0, LlamaConfig.parse(n.toString(), "mem").slidingWindow());
        n.put("sliding_window", -1);
        assertRejected(n, "sliding_window", "-1");
    }

    @Test
    void llama3ScalingKeepsHighFrequenciesDividesLowOnesAndBlendsBetween() {
        // Llama 3.1: theta 500000, d 128, factor 8, original context 8192: wavelengths below 2048 stay, above
        // 8192 are divided by 8, between blend.
        RopeSpec plain = new RopeSpec(500000, RopeStyle.ROTATE_HALF);
        RopeSpec scaled = new RopeSpec(500000, RopeStyle.ROTATE_HALF, RopeScaling.llama3(8, 1, 4, 8192));
        double[] f0 = plain.inverseFrequencies(128);
        double[] f = scaled.inverseFrequencies(128);
        int kept = 0, divided = 0, blended = 0;
        for (int p = 0; p < 64; p++) {
            double wavelength = 2 * Math.PI / f0[p];
            if (wavelength < 2048) {
                assertEquals(f0[p], f[p], 0, "pair " + p);
                kept++;
            } else if (wavelength > 8192) {
                assertEquals(f0[p] / 8, f[p], f0[p] * 1e-15, "pair " + p);
                divided++;
            } else {
                assertTrue(f[p] < f0[p] && f[p] > f0[p] / 8, "pair " + p + " blends: " + f[p] + " of " + f0[p]);
                blended++;
            }
        }
        assertTrue(kept > 0 && divided > 0 && blended > 0, kept + " kept, " + divided + " divided, " + blended);
        // the blend is continuous at both ends: s = 0 at wavelength 8192, s = 1 at 2048
        RopeScaling s = RopeScaling.llama3(8, 1, 4, 8192);
        assertEquals(2 * Math.PI / 8192 / 8, s.apply(2 * Math.PI / 8192), 1e-15);
        assertEquals(2 * Math.PI / 2048, s.apply(2 * Math.PI / 2048), 1e-15);
        assertEquals(0.25, RopeScaling.linear(4).apply(1.0), 0);
    }

    @ParameterizedTest
    @ValueSource(strings = {"gelu", "relu", "gelu_pytorch_tanh"})
    void activationOtherThanSilu(String act) throws IOException {
        ObjectNode n = minimal();
        n.put("hidden_act", act);
        assertRejected(n, "hidden_act", act, "silu");
    }

    @Test
    void attentionBiasesAreReadMlpBiasesRefused() throws IOException {
        ObjectNode n = minimal();
        LlamaConfig plain = LlamaConfig.parse(n.toString(), "mem");
        assertFalse(plain.qkvBias() || plain.outputBias());
        n.put("attention_bias", true); // Llama: q, k, v and o
        LlamaConfig llama = LlamaConfig.parse(n.toString(), "mem");
        assertTrue(llama.qkvBias() && llama.outputBias());
        assertEquals(plain.parameterCount() + 2L * (64 + 2 * 64 + 64), llama.parameterCount()); // 2 layers, 4 KV heads
        n.remove("attention_bias");
        n.put("model_type", "qwen2"); // Qwen2: q, k and v, without a field saying so
        LlamaConfig qwen = LlamaConfig.parse(n.toString(), "mem");
        assertTrue(qwen.qkvBias() && !qwen.outputBias() && !qwen.qkNorm());
        n.put("model_type", "qwen3"); // Qwen3: no biases, q_norm / k_norm
        LlamaConfig qwen3 = LlamaConfig.parse(n.toString(), "mem");
        assertTrue(qwen3.qkNorm() && !qwen3.qkvBias());
        assertEquals(plain.parameterCount() + 2L * 2 * 16, qwen3.parameterCount()); // 2 layers, head_dim 16
        n.put("mlp_bias", true);
        assertRejected(n, "mlp_bias=true", "not supported");
    }

    @Test
    void notJsonOrNotAnObject() throws IOException {
        Path file = Files.writeString(dir.resolve("config.json"), "{\"hidden_size\": ");
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> LlamaConfig.load(file));
        assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains("not valid JSON"), e.getMessage());
        ModelFormatException arr = assertThrows(ModelFormatException.class, () -> LlamaConfig.parse("[1]", "src.json"));
        assertTrue(arr.getMessage().startsWith("src.json: ") && arr.getMessage().contains("JSON object"));
        ModelFormatException empty = assertThrows(ModelFormatException.class, () -> LlamaConfig.parse("", "src.json"));
        assertTrue(empty.getMessage().contains("not valid JSON"), empty.getMessage());
    }

    @Test
    void missingFile() {
        Path file = dir.resolve("absent.json");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LlamaConfig.load(file));
        assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains("does not exist"));
    }

    @Test
    void constructorValidatesToo() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new LlamaConfig(64, 176, 4, 2, 2, 15, 1e-5, 10000, 256, 256, false));
        assertTrue(e.getMessage().contains("head_dim=15 is odd"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> new LlamaConfig(64, 0, 4, 2, 2, 16, 1e-5, 10000, 256, 256, false));
    }
}
