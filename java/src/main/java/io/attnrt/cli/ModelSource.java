package io.attnrt.cli;

import io.attnrt.backend.Backend;
import io.attnrt.tensor.DType;
import io.attnrt.model.LlamaConfig;
import io.attnrt.model.LlamaWeights;
import io.attnrt.model.TensorSource;
import io.attnrt.model.Warmup;
import io.attnrt.model.WeightFiles;
import io.attnrt.model.gguf.GgufFile;
import io.attnrt.model.gguf.GgufModel;
import io.attnrt.text.ChatTemplate;
import io.attnrt.text.GgufTokenizer;
import io.attnrt.text.Tokenizer;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;

/**
 * Where a model comes from: a Hugging Face directory, a GGUF file (weights, config, tokenizer and chat template
 * in one), or the small test model built into the jar.
 */
final class ModelSource {
    static final String BUILTIN = "built-in tiny-llama (test-data/tiny-llama)";
    private static final String[] BUILTIN_FILES = {"config.json", "model.safetensors"};
    private static final String[] BUILTIN_CHAT_FILES = {"tokenizer.json", "tokenizer_config.json"};

    private ModelSource() {
    }

    /** @param gguf the GGUF file's metadata (its tokenizer and chat template), or null for a directory */
    record Loaded(Path dir, String label, LlamaConfig config, LlamaWeights weights, Map<String, Object> gguf)
            implements AutoCloseable {
        boolean builtin() {
            return BUILTIN.equals(label);
        }

        @Override
        public void close() {
            weights.close();
        }
    }

    /**
     * The directory's tokenizer.json, refused when it can produce ids the model has no embedding row for;
     * null when the directory has none.
     */
    static Tokenizer tokenizer(Loaded loaded) {
        Tokenizer tokenizer;
        if (loaded.gguf() != null) {
            if (!loaded.gguf().containsKey("tokenizer.ggml.model")) {
                return null;
            }
            tokenizer = GgufTokenizer.fromMetadata(loaded.gguf(), loaded.label());
        } else if (!Tokenizer.presentIn(loaded.dir())) {
            return null;
        } else {
            tokenizer = Tokenizer.load(loaded.dir());
        }
        try {
            tokenizer.checkFits(loaded.config().vocabSize());
            return tokenizer;
        } catch (RuntimeException e) {
            tokenizer.close();
            throw e;
        }
    }

    /**
     * The chat template of tokenizer_config.json, which {@code what} (an option or command) needs together with
     * the tokenizer; the error says which of the two the directory lacks.
     */
    static ChatTemplate chatTemplate(Loaded loaded, Tokenizer tokenizer, String what) {
        ChatTemplate template = tokenizer == null ? null : chatTemplateOrNull(loaded);
        if (template == null && loaded.gguf() != null) {
            throw new IllegalArgumentException(what + " needs a tokenizer and a tokenizer.chat_template in the GGUF "
                    + "metadata; " + loaded.label() + " lacks " + (tokenizer == null ? "the tokenizer" : "the chat template"));
        }
        if (template == null) {
            throw new IllegalArgumentException(what + " needs the model directory's tokenizer.json and a chat_template "
                    + "in its tokenizer_config.json; " + (loaded.builtin() ? "the built-in model has neither"
                    : loaded.label() + " lacks " + (tokenizer == null ? "tokenizer.json" : "the chat_template")));
        }
        return template;
    }

    /** The model's chat template (tokenizer_config.json's, or the GGUF metadata's), or null. */
    static ChatTemplate chatTemplateOrNull(Loaded loaded) {
        return loaded.gguf() != null ? GgufTokenizer.chatTemplate(loaded.gguf(), loaded.label())
                : ChatTemplate.fromModelDir(loaded.dir());
    }

    /**
     * Only the tokenizer of {@code model}: a directory's tokenizer.json or a GGUF file's vocabulary (for
     * tokenize / detokenize, which need no weights).
     */
    static Tokenizer tokenizerOnly(Path model) {
        if (Files.isRegularFile(model)) {
            try (GgufFile f = GgufFile.open(model)) {
                return GgufTokenizer.fromMetadata(f.metadata(), model.toString());
            }
        }
        return Tokenizer.load(model);
    }

    /** Loads {@code path} — a model directory or a GGUF file — (or the built-in model when null) onto {@code backend}. */
    static Loaded load(Path path, Backend backend) {
        String label = path == null ? BUILTIN : path.toString();
        Path source = path == null ? extractBuiltin() : path;
        if (Files.isRegularFile(source)) {
            if (!GgufFile.isGguf(source)) {
                throw new IllegalArgumentException("model " + source + " is a file but not a GGUF file; pass a GGUF file "
                        + "or a Hugging Face model directory");
            }
            try (GgufModel gguf = GgufModel.open(source)) {
                LlamaWeights weights = loadWarmingUp(gguf, gguf.config(), backend);
                return new Loaded(source.toAbsolutePath().getParent(), label, gguf.config(), weights, gguf.metadata());
            }
        }
        if (!Files.isDirectory(source)) {
            throw new IllegalArgumentException("model " + source + " does not exist (a Hugging Face model directory "
                    + "or a GGUF file)");
        }
        LlamaConfig config = LlamaConfig.load(source.resolve("config.json"));
        try (WeightFiles files = WeightFiles.open(source)) {
            LlamaWeights weights = loadWarmingUp(files, config, backend);
            return new Loaded(source, label, config, weights, null);
        }
    }

    /** Loads the weights while {@link Warmup} compiles the kernels for a model of this shape alongside. */
    private static LlamaWeights loadWarmingUp(TensorSource source, LlamaConfig config, Backend backend) {
        String probe = "model.layers.0.mlp.down_proj.weight";
        DType weightType = source.contains(probe) ? source.info(probe).dtype() : DType.F32;
        Warmup warmup = Warmup.start(backend, config, weightType);
        LlamaWeights weights;
        try {
            weights = LlamaWeights.load(source, config, backend);
        } catch (RuntimeException | Error e) {
            if (warmup != null) {
                warmup.cancel();
            }
            throw e;
        }
        if (warmup != null) {
            warmup.await();
        }
        return weights;
    }

    /** The built-in model's files, copied out of the jar (memory mapping needs real files). */
    static Path extractBuiltin() {
        return extract("tiny-llama", BUILTIN_FILES);
    }

    /**
     * The built-in model's tokenizer.json and a tokenizer_config.json with a chat template, in a directory
     * of their own: {@code run} keeps encoding the built-in model's prompts byte by byte, {@code serve} talks.
     */
    static Path extractBuiltinChat() {
        return extract("tiny-llama-chat", BUILTIN_CHAT_FILES);
    }

    private static Path extract(String resource, String[] names) {
        try {
            Path dir = Files.createTempDirectory("attnrt-builtin-model");
            dir.toFile().deleteOnExit();
            for (String name : names) {
                try (InputStream in = ModelSource.class.getResourceAsStream("/builtin/" + resource + "/" + name)) {
                    if (in == null) {
                        throw new IllegalStateException("the built-in model is missing from this build ("
                                + name + "); pass --model DIR");
                    }
                    Path f = dir.resolve(name);
                    Files.copy(in, f, StandardCopyOption.REPLACE_EXISTING);
                    f.toFile().deleteOnExit();
                }
            }
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot extract the built-in model: " + e.getMessage(), e);
        }
    }
}
