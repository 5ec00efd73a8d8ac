package io.attnrt.model.gguf;

import io.attnrt.backend.RopeScaling;
import io.attnrt.backend.RopeStyle;
import io.attnrt.model.LlamaConfig;
import io.attnrt.model.ModelFormatException;
import io.attnrt.model.TensorInfo;
import io.attnrt.model.TensorSource;
import io.attnrt.model.UntrustedInput;
import io.attnrt.tensor.DType;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A Llama-family model in a GGUF file: its {@link LlamaConfig} from the {@code {arch}.*} metadata keys, and its
 * tensors under the Hugging Face names {@link io.attnrt.model.LlamaWeights} loads, translated from llama.cpp's
 * ({@code blk.N.attn_q.weight} → {@code model.layers.N.self_attn.q_proj.weight}). Tensors keep their stored
 * type, quantized ones included; data stays memory-mapped until a backend uploads it.
 *
 * <p>Architectures: {@code llama} (also Mistral's files) with llama.cpp's adjacent-pair RoPE — the converter
 * permutes q/k rows into that layout, so attnrt runs them with {@link RopeStyle#INTERLEAVED} rather than
 * permuting back — and {@code qwen2} (q/k/v biases) and {@code qwen3} (q/k norms) with NeoX-style
 * rotate-half RoPE, as llama.cpp runs them.
 */
public final class GgufModel implements TensorSource, AutoCloseable {
    static final List<String> ARCHITECTURES = List.of("llama", "qwen2", "qwen3");

    /** Hugging Face name after "model.layers.N." → llama.cpp name after "blk.N.". */
    private static final Map<String, String> LAYER_NAMES = Map.ofEntries(
            Map.entry("input_layernorm.weight", "attn_norm.weight"),
            Map.entry("self_attn.q_proj.weight", "attn_q.weight"),
            Map.entry("self_attn.k_proj.weight", "attn_k.weight"),
            Map.entry("self_attn.v_proj.weight", "attn_v.weight"),
            Map.entry("self_attn.o_proj.weight", "attn_output.weight"),
            Map.entry("self_attn.q_proj.bias", "attn_q.bias"),
            Map.entry("self_attn.k_proj.bias", "attn_k.bias"),
            Map.entry("self_attn.v_proj.bias", "attn_v.bias"),
            Map.entry("self_attn.o_proj.bias", "attn_output.bias"),
            Map.entry("self_attn.q_norm.weight", "attn_q_norm.weight"),
            Map.entry("self_attn.k_norm.weight", "attn_k_norm.weight"),
            Map.entry("post_attention_layernorm.weight", "ffn_norm.weight"),
            Map.entry("mlp.gate_proj.weight", "ffn_gate.weight"),
            Map.entry("mlp.up_proj.weight", "ffn_up.weight"),
            Map.entry("mlp.down_proj.weight", "ffn_down.weight"));
    private static final Map<String, String> GLOBAL_NAMES = Map.of(
            "model.embed_tokens.weight", "token_embd.weight",
            "model.norm.weight", "output_norm.weight",
            "lm_head.weight", "output.weight");
    /** Llama 3's frequency divisors: read into the config, not a weight. */
    static final String ROPE_FREQS = "rope_freqs.weight";

    private final GgufFile file;
    private final LlamaConfig config;
    /** HF name → GGUF name, for every tensor of the file (unknown ones under their own name). */
    private final Map<String, String> names;

    private GgufModel(GgufFile file, LlamaConfig config, Map<String, String> names) {
        this.file = file;
        this.config = config;
        this.names = names;
    }

    /** Opens {@code path}, reads the config from its metadata; errors name the file and the key. */
    public static GgufModel open(Path path) {
        GgufFile f = GgufFile.open(path);
        try {
            Map<String, String> names = new LinkedHashMap<>();
            for (String g : f.names()) {
                if (!g.equals(ROPE_FREQS)) {
                    names.put(hfName(g), g);
                }
            }
            return new GgufModel(f, config(f), Collections.unmodifiableMap(names));
        } catch (RuntimeException | Error e) {
            f.close();
            throw e;
        }
    }

    static String hfName(String gguf) {
        for (Map.Entry<String, String> e : GLOBAL_NAMES.entrySet()) {
            if (e.getValue().equals(gguf)) {
                return e.getKey();
            }
        }
        if (gguf.startsWith("blk.")) {
            int dot = gguf.indexOf('.', 4);
            if (dot > 4) {
                String layer = gguf.substring(4, dot);
                String rest = gguf.substring(dot + 1);
                if (layer.chars().allMatch(Character::isDigit) && layer.length() < 6) {
                    for (Map.Entry<String, String> e : LAYER_NAMES.entrySet()) {
                        if (e.getValue().equals(rest)) {
                            return "model.layers." + Integer.parseInt(layer) + "." + e.getKey();
                        }
                    }
                }
            }
        }
        return gguf; // not a tensor attnrt knows: kept, so the loader can name it when it refuses the file
    }

    private static LlamaConfig config(GgufFile f) {
        Metadata md = new Metadata(f.path(), f.metadata());
        String arch = md.string("general.architecture");
        if (!ARCHITECTURES.contains(arch)) {
            throw new ModelFormatException(f.path() + ": general.architecture '" + UntrustedInput.clip(arch) + "' is not "
                    + "implemented (attnrt runs " + String.join(", ", ARCHITECTURES) + ")");
        }
        String p = arch + ".";
        int hidden = md.integer(p + "embedding_length", LlamaConfig.MAX_HIDDEN_SIZE);
        int layers = md.integer(p + "block_count", LlamaConfig.MAX_LAYERS);
        int intermediate = md.integer(p + "feed_forward_length", LlamaConfig.MAX_INTERMEDIATE_SIZE);
        int heads = md.integer(p + "attention.head_count", LlamaConfig.MAX_HEADS);
        int kvHeads = md.has(p + "attention.head_count_kv")
                ? md.integer(p + "attention.head_count_kv", LlamaConfig.MAX_HEADS) : heads;
        int context = md.integer(p + "context_length", LlamaConfig.MAX_POSITIONS);
        if (hidden % heads != 0 && !md.has(p + "attention.key_length")) {
            throw new ModelFormatException(f.path() + ": " + p + "attention.head_count " + heads + " does not divide "
                    + p + "embedding_length " + hidden + " and there is no " + p + "attention.key_length");
        }
        int headDim = md.has(p + "attention.key_length")
                ? md.integer(p + "attention.key_length", LlamaConfig.MAX_HEAD_DIM) : hidden / heads;
        if (md.has(p + "attention.value_length")
                && md.integer(p + "attention.value_length", LlamaConfig.MAX_HEAD_DIM) != headDim) {
            throw new ModelFormatException(f.path() + ": " + p + "attention.value_length differs from the key "
                    + "length " + headDim + ": attnrt needs one head dimension");
        }
        if (md.has(p + "rope.dimension_count")
                && md.integer(p + "rope.dimension_count", LlamaConfig.MAX_HEAD_DIM) != headDim) {
            throw new ModelFormatException(f.path() + ": " + p + "rope.dimension_count "
                    + md.integer(p + "rope.dimension_count", LlamaConfig.MAX_HEAD_DIM) + " rotates only part of "
                    + "the head of " + headDim + " (partial rotary is not implemented)");
        }
        double eps = md.real(p + "attention.layer_norm_rms_epsilon");
        double theta = md.has(p + "rope.freq_base") ? md.real(p + "rope.freq_base") : LlamaConfig.DEFAULT_ROPE_THETA;
        if (!(eps > 0 && eps < 1)) {
            throw new ModelFormatException(f.path() + ": " + p + "attention.layer_norm_rms_epsilon must be in (0, 1), "
                    + "got " + eps);
        }
        if (!(theta > 1 && theta < 1e12)) {
            throw new ModelFormatException(f.path() + ": " + p + "rope.freq_base must be in (1, 1e12), got " + theta);
        }
        if (!f.contains("token_embd.weight")) {
            throw new ModelFormatException(f.path() + ": tensor token_embd.weight is missing");
        }
        TensorInfo embed = f.info("token_embd.weight");
        if (embed.rank() != 2) {
            throw new ModelFormatException(f.path() + ": token_embd.weight must be 2-D, got " + embed);
        }
        int vocab = embed.shape()[0];
        RopeScaling scaling = ropeScaling(f, md, p, headDim, theta);
        try {
            return LlamaConfig.builder().hiddenSize(hidden).numHiddenLayers(layers).intermediateSize(intermediate)
                    .numAttentionHeads(heads).numKeyValueHeads(kvHeads).headDim(headDim).rmsNormEps(eps)
                    .ropeTheta(theta).vocabSize(vocab).maxPositionEmbeddings(context)
                    .tieWordEmbeddings(!f.contains("output.weight")).ropeScaling(scaling)
                    .qkvBias(arch.equals("qwen2")).qkNorm(arch.equals("qwen3"))
                    .ropeStyle(arch.equals("llama") ? RopeStyle.INTERLEAVED : RopeStyle.ROTATE_HALF).build();
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(f.path() + ": the " + arch + " metadata is inconsistent: " + e.getMessage(), e);
        }
    }

    /**
     * {@code rope.scaling.type} linear, or Llama 3's scaling, which GGUF stores as the per-pair frequency divisors
     * of {@code rope_freqs.weight} rather than as parameters: the parameters that reproduce those divisors (to
     * float precision) are found among the published ones, and a file matching none is refused.
     */
    private static RopeScaling ropeScaling(GgufFile f, Metadata md, String p, int headDim, double theta) {
        String type = md.has(p + "rope.scaling.type") ? md.string(p + "rope.scaling.type") : "none";
        RopeScaling scaling;
        switch (type) {
            case "none" -> scaling = RopeScaling.NONE;
            case "linear" -> {
                double factor = md.real(p + "rope.scaling.factor");
                if (!(factor >= 1 && factor < 1e6)) {
                    throw new ModelFormatException(f.path() + ": " + p + "rope.scaling.factor must be in [1, 1e6), got "
                            + factor);
                }
                scaling = RopeScaling.linear(factor);
            }
            default -> throw new ModelFormatException(f.path() + ": " + p + "rope.scaling.type '" + UntrustedInput.clip(type)
                    + "' is not implemented (none and linear are; Llama 3 scaling comes as rope_freqs.weight)");
        }
        if (!f.contains(ROPE_FREQS)) {
            return scaling;
        }
        TensorInfo info = f.info(ROPE_FREQS);
        if (info.dtype() != DType.F32 || info.rank() != 1 || info.shape()[0] != headDim / 2 || scaling != RopeScaling.NONE) {
            throw new ModelFormatException(f.path() + ": " + ROPE_FREQS + " must be F32 [" + headDim / 2 + "] without "
                    + "another rope scaling, got " + info);
        }
        ByteBuffer b = f.data(ROPE_FREQS);
        float[] divisors = new float[headDim / 2];
        for (int i = 0; i < divisors.length; i++) {
            divisors[i] = b.getFloat(4 * i);
        }
        for (double factor : new double[] {8, 16, 32, 4, 2}) {
            for (int original : new int[] {8192, 4096, 2048, 16384, 32768, 131072}) {
                RopeScaling candidate = RopeScaling.llama3(factor, 1, 4, original);
                if (matches(candidate, divisors, headDim, theta)) {
                    return candidate;
                }
            }
        }
        throw new ModelFormatException(f.path() + ": " + ROPE_FREQS + " holds frequency divisors that match no Llama 3 "
                + "rope scaling attnrt knows (factor 2-32, low/high frequency factors 1/4)");
    }

    private static boolean matches(RopeScaling s, float[] divisors, int headDim, double theta) {
        for (int i = 0; i < divisors.length; i++) {
            double inv = Math.pow(theta, -2.0 * i / headDim);
            float expected = (float) (inv / s.apply(inv));
            if (Math.abs(expected - divisors[i]) > 1e-5 * Math.abs(expected)) {
                return false;
            }
        }
        return true;
    }

    public LlamaConfig config() {
        return config;
    }

    /** Every metadata key/value of the file (the tokenizer's included). */
    public Map<String, Object> metadata() {
        return file.metadata();
    }

    public Path path() {
        return file.path();
    }

    @Override
    public String label() {
        return file.path().toString();
    }

    @Override
    public Set<String> names() {
        return names.keySet();
    }

    @Override
    public boolean contains(String name) {
        return names.containsKey(name);
    }

    @Override
    public TensorInfo info(String name) {
        TensorInfo g = file.info(gguf(name));
        return new TensorInfo(name, g.dtype(), g.shape(), g.file());
    }

    @Override
    public ByteBuffer data(String name) {
        return file.data(gguf(name));
    }

    private String gguf(String name) {
        String g = names.get(name);
        if (g == null) {
            throw new IllegalArgumentException("tensor '" + name + "' is missing from GGUF file " + file.path());
        }
        return g;
    }

    @Override
    public void close() {
        file.close();
    }

    /** Typed access to metadata values, each failure naming the key. */
    private record Metadata(Path path, Map<String, Object> values) {
        boolean has(String key) {
            return values.containsKey(key);
        }

        private Object required(String key) {
            Object v = values.get(key);
            if (v == null) {
                throw new ModelFormatException(path + ": metadata key " + key + " is missing");
            }
            return v;
        }

        String string(String key) {
            Object v = required(key);
            if (!(v instanceof String s)) {
                throw new ModelFormatException(path + ": metadata " + key + " must be a string, got " + kind(v));
            }
            return s;
        }

        int integer(String key, int max) {
            Object v = required(key);
            if (!(v instanceof Long l)) {
                throw new ModelFormatException(path + ": metadata " + key + " must be an integer, got " + kind(v));
            }
            if (l < 1 || l > max) {
                throw new ModelFormatException(path + ": metadata " + key + " must be between 1 and " + max + ", got "
                        + Long.toUnsignedString(l));
            }
            return (int) (long) l;
        }

        double real(String key) {
            Object v = required(key);
            if (!(v instanceof Double d)) {
                throw new ModelFormatException(path + ": metadata " + key + " must be a float, got " + kind(v));
            }
            if (!Double.isFinite(d)) {
                throw new ModelFormatException(path + ": metadata " + key + " must be finite, got " + d);
            }
            return d;
        }

        private static String kind(Object v) {
            return v instanceof List<?> l ? "an array of " + l.size() : v.getClass().getSimpleName() + " "
                    + UntrustedInput.clip(String.valueOf(v));
        }
    }
}
