package io.attnrt.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.attnrt.backend.Backend;
import io.attnrt.backend.cpu.CpuBackend;
import io.attnrt.backend.reference.ReferenceBackend;
import io.attnrt.tensor.DType;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/** The committed test models and their float64 reference outputs (test-data/README.md). */
final class TestModels {
    static final Path TINY = Path.of("test-data", "tiny-llama");
    static final Path TINY_BF16_SHARDED = Path.of("test-data", "tiny-llama-bf16-sharded");
    /** Head dim 64: the test model a GPU backend (no kernels for head dim 16) runs end to end. */
    static final Path TINY_HD64 = Path.of("test-data", "tiny-llama-hd64");
    /** The hd64 shape with llama3 rope_scaling. */
    static final Path TINY_LLAMA3_ROPE = Path.of("test-data", "tiny-llama3-rope");
    /** Mistral: a sliding window of 8 keys. */
    static final Path TINY_MISTRAL_WINDOW = Path.of("test-data", "tiny-mistral-window");
    /** Qwen2: q/k/v biases, head dim 64. */
    static final Path TINY_QWEN2 = Path.of("test-data", "tiny-qwen2");
    /** Qwen3: per-head q/k RMSNorm, head dim 64. */
    static final Path TINY_QWEN3 = Path.of("test-data", "tiny-qwen3");

    private TestModels() {
    }

    /** Backends the model tests run on, each a fresh instance. */
    static List<Supplier<Backend>> backends() {
        return List.of(ReferenceBackend::new, () -> new CpuBackend(2, CpuBackend.vectorModulePresent()),
                () -> new CpuBackend(2, false));
    }

    record Case(String text, int[] prompt, double[][] logits, int[] greedy, double[][] greedyStepLogits) {
    }

    static List<Case> cases(Path dir) {
        return casesOf(dir.resolve("reference.json"));
    }

    /** The cases of a reference file (reference.json, or a GGUF model's NAME.reference.json). */
    static List<Case> casesOf(Path referenceJson) {
        try {
            JsonNode root = new ObjectMapper().readTree(referenceJson.toFile());
            List<Case> out = new ArrayList<>();
            for (JsonNode c : root.get("cases")) {
                out.add(new Case(c.get("text").asText(), ints(c.get("prompt")), matrix(c.get("logits")),
                        ints(c.get("greedy").get("tokens")), matrix(c.get("greedy").get("step_logits"))));
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A model loaded on a backend; closing frees everything. */
    record Loaded(LlamaConfig config, LlamaWeights weights, LlamaModel model) implements AutoCloseable {
        @Override
        public void close() {
            model.close();
            weights.close();
        }

        Generator generator(int blockSize, int blocks) {
            return new Generator(model, model.newCache(blockSize, blocks, DType.F32));
        }
    }

    static Loaded load(Path dir, Backend backend) {
        LlamaConfig cfg = LlamaConfig.load(dir.resolve("config.json"));
        try (WeightFiles files = WeightFiles.open(dir)) {
            LlamaWeights w = LlamaWeights.load(files, cfg, backend);
            return new Loaded(cfg, w, new LlamaModel(cfg, w, backend));
        }
    }

    /** A GGUF model file loaded on a backend. */
    static Loaded loadGguf(Path file, Backend backend) {
        try (io.attnrt.model.gguf.GgufModel g = io.attnrt.model.gguf.GgufModel.open(file)) {
            LlamaWeights w = LlamaWeights.load(g, g.config(), backend);
            return new Loaded(g.config(), w, new LlamaModel(g.config(), w, backend));
        }
    }

    private static int[] ints(JsonNode a) {
        int[] r = new int[a.size()];
        for (int i = 0; i < r.length; i++) {
            r[i] = a.get(i).asInt();
        }
        return r;
    }

    private static double[][] matrix(JsonNode a) {
        double[][] r = new double[a.size()][];
        for (int i = 0; i < r.length; i++) {
            JsonNode row = a.get(i);
            r[i] = new double[row.size()];
            for (int j = 0; j < r[i].length; j++) {
                r[i][j] = row.get(j).asDouble();
            }
        }
        return r;
    }
}
