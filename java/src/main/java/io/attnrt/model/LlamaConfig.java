package io.attnrt.model;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.attnrt.backend.AttentionSpec;
import io.attnrt.backend.RopeScaling;
import io.attnrt.backend.RopeSpec;
import io.attnrt.backend.RopeStyle;
import java.nio.file.Path;
import java.util.List;

/**
 * The architecture of a Llama-family decoder, as a Hugging Face {@code config.json} describes it.
 * Field names in error messages are the Hugging Face ones, so a user can find them in the file.
 *
 * <p>Attention is always causal; RoPE pairs dimensions as {@link #ropeStyle()} says; the MLP is SwiGLU.
 *
 * @param hiddenSize            model width (hidden_size)
 * @param intermediateSize      MLP width (intermediate_size)
 * @param numAttentionHeads     query heads (num_attention_heads)
 * @param numKeyValueHeads      key/value heads (num_key_value_heads); divides numAttentionHeads
 * @param numHiddenLayers       decoder layers (num_hidden_layers)
 * @param headDim               dimension of one head (head_dim); even
 * @param rmsNormEps            epsilon of every RMSNorm (rms_norm_eps)
 * @param ropeTheta             RoPE base (rope_theta)
 * @param vocabSize             tokens in the vocabulary (vocab_size)
 * @param maxPositionEmbeddings longest supported sequence (max_position_embeddings)
 * @param tieWordEmbeddings     the output head reuses the token embedding (tie_word_embeddings)
 * @param ropeScaling           rope_scaling: none, linear or llama3
 * @param slidingWindow         keys a query sees, itself included (sliding_window, Mistral); 0 for all
 * @param qkvBias               q/k/v projections have biases (Qwen2; Llama's attention_bias)
 * @param outputBias            the o projection has a bias (Llama's attention_bias)
 * @param qkNorm                per-head RMSNorm of q and k before RoPE (Qwen3's q_norm / k_norm)
 * @param ropeStyle             how q/k dimensions pair up in RoPE: rotate-half for Hugging Face checkpoints;
 *                              adjacent pairs for llama.cpp's {@code llama} GGUF files, whose q/k rows are
 *                              permuted to that layout
 */
public record LlamaConfig(int hiddenSize, int intermediateSize, int numAttentionHeads, int numKeyValueHeads,
                          int numHiddenLayers, int headDim, double rmsNormEps, double ropeTheta, int vocabSize,
                          int maxPositionEmbeddings, boolean tieWordEmbeddings, RopeScaling ropeScaling,
                          int slidingWindow, boolean qkvBias, boolean outputBias, boolean qkNorm,
                          RopeStyle ropeStyle) {

    public static final double DEFAULT_ROPE_THETA = 10000.0;

    public static final int MAX_LAYERS = 4096;
    public static final int MAX_HIDDEN_SIZE = 1 << 20;
    public static final int MAX_INTERMEDIATE_SIZE = 1 << 22;
    public static final int MAX_HEADS = 1 << 14;
    public static final int MAX_HEAD_DIM = 1 << 14;
    public static final int MAX_VOCAB_SIZE = 1 << 24;
    public static final int MAX_POSITIONS = 1 << 24;
    public static final int MAX_SLIDING_WINDOW = 1 << 30;

    /** Real configs are a few KiB; anything near this is not a config, and is not read into memory. */
    public static final long MAX_CONFIG_BYTES = 4L << 20;

    /** The families attnrt implements: Llama blocks and the variants of Mistral, Qwen2 and Qwen3. */
    static final List<String> MODEL_TYPES = List.of("llama", "mistral", "qwen2", "qwen3");
    static final List<String> ARCHITECTURES = List.of("LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM",
            "Qwen3ForCausalLM");

    private static final ObjectMapper JSON = new ObjectMapper();

    public LlamaConfig {
        validate(null, hiddenSize, intermediateSize, numAttentionHeads, numKeyValueHeads, numHiddenLayers, headDim,
                rmsNormEps, ropeTheta, vocabSize, maxPositionEmbeddings);
        if (ropeScaling == null) {
            throw new IllegalArgumentException("ropeScaling is required (RopeScaling.NONE for plain RoPE)");
        }
        if (ropeStyle == null) {
            throw new IllegalArgumentException("ropeStyle is required");
        }
        if (slidingWindow < 0) {
            throw new IllegalArgumentException("LlamaConfig: sliding window must be >= 0, got " + slidingWindow);
        }
    }

    /** Plain RoPE. */
    public LlamaConfig(int hiddenSize, int intermediateSize, int numAttentionHeads, int numKeyValueHeads,
                       int numHiddenLayers, int headDim, double rmsNormEps, double ropeTheta, int vocabSize,
                       int maxPositionEmbeddings, boolean tieWordEmbeddings) {
        this(hiddenSize, intermediateSize, numAttentionHeads, numKeyValueHeads, numHiddenLayers, headDim, rmsNormEps,
                ropeTheta, vocabSize, maxPositionEmbeddings, tieWordEmbeddings, RopeScaling.NONE, 0, false, false, false, RopeStyle.ROTATE_HALF);
    }

    /** Reads and validates a Hugging Face {@code config.json}. */
    public static LlamaConfig load(Path configJson) {
        String text = UntrustedInput.readJsonText(configJson, MAX_CONFIG_BYTES, "config file");
        return parse(text, configJson.toString());
    }

    /**
     * Parses a Hugging Face {@code config.json} text; {@code sourceName} (usually the file) starts every error
     * message. Fields other than the architecture's are ignored; settings this runtime cannot honour
     * (rope_scaling kinds other than linear and llama3, an activation other than silu, biases) are rejected
     * rather than silently dropped.
     */
    public static LlamaConfig parse(String json, String sourceName) {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (JsonProcessingException e) {
            throw new ModelFormatException(sourceName + ": not valid JSON: " + UntrustedInput.clipParserMessage(e.getOriginalMessage()), e);
        }
        if (root == null || root.isMissingNode()) {
            throw new ModelFormatException(sourceName + ": not valid JSON: the text is empty");
        }
        if (!root.isObject()) {
            throw new ModelFormatException(sourceName + ": a config must be a JSON object");
        }
        Fields f = new Fields(root, sourceName);

        JsonNode act = f.present("hidden_act");
        if (act != null && !(act.isTextual() && act.asText().equals("silu"))) {
            throw new ModelFormatException(sourceName + ": hidden_act " + UntrustedInput.clip(act) + " is not supported (only \"silu\")");
        }
        RopeScaling ropeScaling = ropeScaling(f.present("rope_scaling"), sourceName);
        if (f.optionalBoolean("mlp_bias", false)) {
            throw new ModelFormatException(sourceName + ": mlp_bias=true is not supported (no MLP bias tensors)");
        }
        // Qwen2 always has q/k/v biases (its config has no field for them); Llama's attention_bias adds o's too.
        JsonNode modelType = f.present("model_type");
        if (modelType != null && !MODEL_TYPES.contains(modelType.asText())) {
            throw new ModelFormatException(sourceName + ": model_type " + UntrustedInput.clip(modelType) + " is not implemented (attnrt "
                    + "runs " + String.join(", ", MODEL_TYPES) + ")");
        }
        JsonNode architectures = f.present("architectures");
        if (architectures != null) {
            for (JsonNode a : architectures) {
                if (!ARCHITECTURES.contains(a.asText())) {
                    throw new ModelFormatException(sourceName + ": architecture " + UntrustedInput.clip(a) + " is not implemented (attnrt "
                            + "runs " + String.join(", ", ARCHITECTURES) + ")");
                }
            }
        }
        boolean qwen2 = modelType != null && modelType.asText().equals("qwen2");
        boolean attentionBias = f.optionalBoolean("attention_bias", false);

        int hidden = f.requiredInt("hidden_size");
        int intermediate = f.requiredInt("intermediate_size");
        int heads = f.requiredInt("num_attention_heads");
        int layers = f.requiredInt("num_hidden_layers");
        int vocab = f.requiredInt("vocab_size");
        double eps = f.requiredFloat("rms_norm_eps");
        int maxPos = f.requiredInt("max_position_embeddings");
        int kvHeads = f.optionalInt("num_key_value_heads", heads);
        Integer explicitHeadDim = f.present("head_dim") == null ? null : f.requiredInt("head_dim");
        double theta = f.present("rope_theta") == null ? DEFAULT_ROPE_THETA : f.requiredFloat("rope_theta");
        boolean tie = f.optionalBoolean("tie_word_embeddings", false);

        int headDim;
        if (explicitHeadDim != null) {
            headDim = explicitHeadDim;
        } else {
            if (heads > 0 && hidden % heads != 0) {
                throw new ModelFormatException(sourceName + ": num_attention_heads=" + heads
                        + " does not divide hidden_size=" + hidden + " (and there is no head_dim field)");
            }
            headDim = heads > 0 ? hidden / heads : 0;
        }
        validate(sourceName, hidden, intermediate, heads, kvHeads, layers, headDim, eps, theta, vocab, maxPos);
        // Qwen2 configs carry a sliding_window that use_sliding_window=false switches off.
        int window = f.present("sliding_window") == null || !f.optionalBoolean("use_sliding_window", true) ? 0
                : f.requiredInt("sliding_window");
        if (window < 0 || window > MAX_SLIDING_WINDOW) {
            throw new ModelFormatException(sourceName + ": sliding_window must be between 0 and " + MAX_SLIDING_WINDOW
                    + ", got " + window);
        }
        return new LlamaConfig(hidden, intermediate, heads, kvHeads, layers, headDim, eps, theta, vocab, maxPos, tie,
                ropeScaling, window, qwen2 || attentionBias, attentionBias,
                modelType != null && modelType.asText().equals("qwen3"), RopeStyle.ROTATE_HALF);
    }

    /**
     * rope_scaling: absent, null or rope_type "default" is plain RoPE; "linear" and "llama3" are honoured (the
     * kind is read from "rope_type", or the older "type"); any other kind is refused, naming it.
     */
    private static RopeScaling ropeScaling(JsonNode node, String sourceName) {
        if (node == null) {
            return RopeScaling.NONE;
        }
        if (!node.isObject()) {
            throw new ModelFormatException(sourceName + ": rope_scaling must be an object or null, got " + UntrustedInput.clip(node));
        }
        Fields f = new Fields(node, sourceName + ": rope_scaling");
        JsonNode kind = f.present("rope_type") != null ? f.present("rope_type") : f.present("type");
        String name = kind != null && kind.isTextual() ? kind.asText() : String.valueOf(kind);
        try {
            return switch (name) {
                case "default" -> RopeScaling.NONE;
                case "linear" -> RopeScaling.linear(f.requiredFloat("factor"));
                case "llama3" -> RopeScaling.llama3(f.requiredFloat("factor"), f.requiredFloat("low_freq_factor"),
                        f.requiredFloat("high_freq_factor"),
                        f.requiredInt("original_max_position_embeddings", MAX_POSITIONS));
                default -> throw new ModelFormatException(sourceName + ": rope_scaling type " + UntrustedInput.clip(kind) + " is not "
                        + "supported (only default, linear and llama3)");
            };
        } catch (IllegalArgumentException e) {
            if (e instanceof ModelFormatException) {
                throw e;
            }
            throw new ModelFormatException(sourceName + ": rope_scaling " + UntrustedInput.clip(node) + ": " + e.getMessage());
        }
    }

    /**
     * The synthetic model the benchmarks use (about 56M parameters): vocab 32000, hidden 512, 8 layers, 8 heads,
     * 4 KV heads, head_dim 64, intermediate 1408, untied.
     */
    public static LlamaConfig benchmark() {
        return builder().vocabSize(32000).hiddenSize(512).numHiddenLayers(8).numAttentionHeads(8)
                .numKeyValueHeads(4).intermediateSize(1408).maxPositionEmbeddings(4096).build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Width of the concatenated query heads, numAttentionHeads·headDim. */
    public int qWidth() {
        return numAttentionHeads * headDim;
    }

    /** Width of the concatenated key (or value) heads, numKeyValueHeads·headDim. */
    public int kvWidth() {
        return numKeyValueHeads * headDim;
    }

    /** Causal attention with this config's heads, its sliding window and the usual 1/√headDim scale. */
    public AttentionSpec attentionSpec() {
        return AttentionSpec.of(numAttentionHeads, numKeyValueHeads, headDim, true).withWindow(slidingWindow);
    }

    /** RoPE with this config's pairing, base rope_theta and scaling. */
    public RopeSpec ropeSpec() {
        return new RopeSpec(ropeTheta, ropeStyle, ropeScaling);
    }

    /** Number of weights, counting a tied embedding once. */
    public long parameterCount() {
        long h = hiddenSize;
        long perLayer = 2 * h                              // the two norms
                + h * qWidth() + 2 * h * kvWidth()         // q, k, v
                + (long) qWidth() * h                      // o
                + 3 * h * intermediateSize                 // gate, up, down
                + (qkvBias ? qWidth() + 2L * kvWidth() : 0) + (outputBias ? h : 0) + (qkNorm ? 2L * headDim : 0);
        long embed = (long) vocabSize * h;
        return embed + numHiddenLayers * perLayer + h + (tieWordEmbeddings ? 0 : embed);
    }

    private static void validate(String source, int hidden, int intermediate, int heads, int kvHeads, int layers,
                                 int headDim, double eps, double theta, int vocab, int maxPos) {
        // The limits are far above any published model (Llama 3.1 405B: hidden 16384, 126 layers, 128 heads) and
        // far below what would make per-layer bookkeeping or a tensor shape exhaust memory before the weights
        // are even looked at.
        bounded(source, "hidden_size", hidden, MAX_HIDDEN_SIZE);
        bounded(source, "intermediate_size", intermediate, MAX_INTERMEDIATE_SIZE);
        bounded(source, "num_attention_heads", heads, MAX_HEADS);
        bounded(source, "num_key_value_heads", kvHeads, MAX_HEADS);
        bounded(source, "num_hidden_layers", layers, MAX_LAYERS);
        bounded(source, "head_dim", headDim, MAX_HEAD_DIM);
        bounded(source, "vocab_size", vocab, MAX_VOCAB_SIZE);
        bounded(source, "max_position_embeddings", maxPos, MAX_POSITIONS);
        // Both are used as float somewhere (the RMSNorm kernels add eps in float), so a double that overflows
        // or underflows a float would turn into Inf or 0 far from here, at generation.
        if (!isPositiveFloat(eps)) {
            throw error(source, "rms_norm_eps must be a finite number > 0 that a float can hold, got " + eps);
        }
        if (!(theta > 1) || !isPositiveFloat(theta)) {
            throw error(source, "rope_theta must be a finite number > 1 that a float can hold, got " + theta);
        }
        if (heads % kvHeads != 0) {
            throw error(source, "num_key_value_heads=" + kvHeads + " does not divide num_attention_heads=" + heads);
        }
        if (headDim % 2 != 0) {
            throw error(source, "head_dim=" + headDim + " is odd; rotary embeddings need an even head_dim");
        }
        if ((long) heads * headDim > Integer.MAX_VALUE) {
            throw error(source, "num_attention_heads=" + heads + " x head_dim=" + headDim + " is too large");
        }
    }

    private static void bounded(String source, String field, int value, int max) {
        if (value <= 0) {
            throw error(source, field + " must be > 0, got " + value);
        }
        if (value > max) {
            throw error(source, field + " must be at most " + max + ", got " + value);
        }
    }

    /** Finite, positive, and neither overflowing nor flushing to zero as a float. */
    static boolean isPositiveFloat(double v) {
        return v > 0 && v <= Float.MAX_VALUE && (float) v > 0;
    }

    private static IllegalArgumentException error(String source, String message) {
        return source == null ? new IllegalArgumentException("LlamaConfig: " + message)
                : new ModelFormatException(source + ": " + message);
    }

    /** Typed access to config fields, with errors naming the file and the field. */
    private record Fields(JsonNode root, String source) {
        /** The field's node, or null when it is absent or JSON null (Hugging Face writes null for "unset"). */
        JsonNode present(String name) {
            JsonNode n = root.get(name);
            return n == null || n.isNull() ? null : n;
        }

        int requiredInt(String name) {
            JsonNode n = present(name);
            if (n == null) {
                throw new ModelFormatException(source + ": missing required field '" + name + "'");
            }
            if (!n.isIntegralNumber() || !n.canConvertToInt()) {
                throw new ModelFormatException(source + ": field '" + name + "' must be an integer, got " + UntrustedInput.clip(n));
            }
            return n.intValue();
        }

        int requiredInt(String name, int max) {
            int v = requiredInt(name);
            if (v > max) {
                throw new ModelFormatException(source + ": field '" + name + "' must be at most " + max + ", got " + v);
            }
            return v;
        }

        int optionalInt(String name, int fallback) {
            return present(name) == null ? fallback : requiredInt(name);
        }

        double requiredDouble(String name) {
            JsonNode n = present(name);
            if (n == null) {
                throw new ModelFormatException(source + ": missing required field '" + name + "'");
            }
            if (!n.isNumber()) {
                throw new ModelFormatException(source + ": field '" + name + "' must be a number, got " + UntrustedInput.clip(n));
            }
            return n.doubleValue();
        }

        /** A number the runtime computes with in float: finite, and not beyond a float's range. */
        double requiredFloat(String name) {
            double v = requiredDouble(name);
            if (!Double.isFinite(v) || Math.abs(v) > Float.MAX_VALUE) {
                throw new ModelFormatException(source + ": field '" + name + "' must be a finite number a float can "
                        + "hold (at most " + Float.MAX_VALUE + "), got " + v);
            }
            return v;
        }

        boolean optionalBoolean(String name, boolean fallback) {
            JsonNode n = present(name);
            if (n == null) {
                return fallback;
            }
            if (!n.isBoolean()) {
                throw new ModelFormatException(source + ": field '" + name + "' must be true or false, got " + UntrustedInput.clip(n));
            }
            return n.booleanValue();
        }
    }

    /** Programmatic configs. Unset: num_key_value_heads = heads, head_dim = hidden / heads, defaults as in HF. */
    public static final class Builder {
        private int hiddenSize;
        private int intermediateSize;
        private int numAttentionHeads;
        private Integer numKeyValueHeads;
        private int numHiddenLayers;
        private Integer headDim;
        private double rmsNormEps = 1e-5;
        private double ropeTheta = DEFAULT_ROPE_THETA;
        private int vocabSize;
        private int maxPositionEmbeddings = 2048;
        private boolean tieWordEmbeddings;
        private RopeScaling ropeScaling = RopeScaling.NONE;
        private int slidingWindow;
        private boolean qkvBias;
        private boolean outputBias;
        private boolean qkNorm;
        private RopeStyle ropeStyle = RopeStyle.ROTATE_HALF;

        private Builder() {
        }

        public Builder hiddenSize(int v) {
            hiddenSize = v;
            return this;
        }

        public Builder intermediateSize(int v) {
            intermediateSize = v;
            return this;
        }

        public Builder numAttentionHeads(int v) {
            numAttentionHeads = v;
            return this;
        }

        public Builder numKeyValueHeads(int v) {
            numKeyValueHeads = v;
            return this;
        }

        public Builder numHiddenLayers(int v) {
            numHiddenLayers = v;
            return this;
        }

        public Builder headDim(int v) {
            headDim = v;
            return this;
        }

        public Builder rmsNormEps(double v) {
            rmsNormEps = v;
            return this;
        }

        public Builder ropeTheta(double v) {
            ropeTheta = v;
            return this;
        }

        public Builder vocabSize(int v) {
            vocabSize = v;
            return this;
        }

        public Builder maxPositionEmbeddings(int v) {
            maxPositionEmbeddings = v;
            return this;
        }

        public Builder qkvBias(boolean v) {
            qkvBias = v;
            return this;
        }

        public Builder ropeStyle(RopeStyle v) {
            ropeStyle = v;
            return this;
        }

        public Builder qkNorm(boolean v) {
            qkNorm = v;
            return this;
        }

        public Builder outputBias(boolean v) {
            outputBias = v;
            return this;
        }

        public Builder slidingWindow(int v) {
            slidingWindow = v;
            return this;
        }

        public Builder ropeScaling(RopeScaling v) {
            ropeScaling = v;
            return this;
        }

        public Builder tieWordEmbeddings(boolean v) {
            tieWordEmbeddings = v;
            return this;
        }

        public LlamaConfig build() {
            int kv = numKeyValueHeads != null ? numKeyValueHeads : numAttentionHeads;
            int hd;
            if (headDim != null) {
                hd = headDim;
            } else if (numAttentionHeads > 0 && hiddenSize % numAttentionHeads != 0) {
                throw new IllegalArgumentException("LlamaConfig: num_attention_heads=" + numAttentionHeads
                        + " does not divide hidden_size=" + hiddenSize + " and no head_dim was given");
            } else {
                hd = numAttentionHeads > 0 ? hiddenSize / numAttentionHeads : 0;
            }
            return new LlamaConfig(hiddenSize, intermediateSize, numAttentionHeads, kv, numHiddenLayers, hd,
                    rmsNormEps, ropeTheta, vocabSize, maxPositionEmbeddings, tieWordEmbeddings, ropeScaling,
                    slidingWindow, qkvBias, outputBias, qkNorm, ropeStyle);
        }
    }
}
