package io.attnrt.model;

import io.attnrt.backend.Backend;
import io.attnrt.tensor.DType;
import java.nio.ByteBuffer;
import io.attnrt.backend.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every weight of a Llama model, uploaded once to a {@link Backend}. Each tensor keeps the dtype it has in the
 * files (a BF16 checkpoint stays BF16 on the backend). The weights own their tensors: {@link #close()} frees
 * them. They do not keep the {@link TensorSource} open: the data is copied on upload.
 */
public final class LlamaWeights implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(LlamaWeights.class);

    private final LlamaConfig config;
    private final Tensor embedTokens;
    private final Tensor finalNorm;
    private final Tensor lmHead;
    private final List<LayerWeights> layers;
    private final List<Tensor> owned;
    private boolean closed;

    private LlamaWeights(LlamaConfig config, Map<String, Tensor> byName) {
        this.config = config;
        this.embedTokens = byName.get(EMBED);
        this.finalNorm = byName.get(FINAL_NORM);
        this.lmHead = config.tieWordEmbeddings() ? embedTokens : byName.get(LM_HEAD);
        List<LayerWeights> ls = new ArrayList<>();
        for (int i = 0; i < config.numHiddenLayers(); i++) {
            String p = layerPrefix(i);
            ls.add(new LayerWeights(byName.get(p + "input_layernorm.weight"), byName.get(p + "self_attn.q_proj.weight"),
                    byName.get(p + "self_attn.k_proj.weight"), byName.get(p + "self_attn.v_proj.weight"),
                    byName.get(p + "self_attn.o_proj.weight"), byName.get(p + "post_attention_layernorm.weight"),
                    byName.get(p + GATE_UP), byName.get(p + "mlp.down_proj.weight"),
                    byName.get(p + "self_attn.q_proj.bias"), byName.get(p + "self_attn.k_proj.bias"),
                    byName.get(p + "self_attn.v_proj.bias"), byName.get(p + "self_attn.o_proj.bias"),
                    byName.get(p + "self_attn.q_norm.weight"), byName.get(p + "self_attn.k_norm.weight")));
        }
        this.layers = List.copyOf(ls);
        this.owned = List.copyOf(byName.values());
    }

    static final String EMBED = "model.embed_tokens.weight";
    static final String FINAL_NORM = "model.norm.weight";
    static final String LM_HEAD = "lm_head.weight";

    /** The fused [gate | up] weight of a layer (after its prefix): the two checkpoint tensors, rows concatenated. */
    static final String GATE_UP = "mlp.gate_up_proj.weight";

    static String layerPrefix(int i) {
        return "model.layers." + i + ".";
    }

    /** A tensor the config requires, with the shape it must have and the config fields that decide it. */
    record Required(String name, int[] shape, String because, double initStd, boolean isNorm) {
    }

    /**
     * One tensor on the backend: a checkpoint tensor, or several whose rows are concatenated (the fused
     * projections: one GEMM instead of two, and the output already in the layout its consumer reads).
     */
    record Unit(String name, List<Required> parts, int[] shape) {
    }

    /** What {@code cfg}'s tensors become on the backend, in upload order. */
    static List<Unit> units(LlamaConfig cfg) {
        List<Required> required = requiredTensors(cfg);
        Map<String, Required> byName = new LinkedHashMap<>();
        for (Required r : required) {
            byName.put(r.name, r);
        }
        List<Unit> units = new ArrayList<>();
        for (Required r : required) {
            if (r.name.endsWith("mlp.gate_proj.weight")) {
                continue; // joins its up_proj
            }
            if (r.name.endsWith("mlp.up_proj.weight")) {
                String p = r.name.substring(0, r.name.length() - "mlp.up_proj.weight".length());
                Required gate = byName.get(p + "mlp.gate_proj.weight");
                units.add(new Unit(p + GATE_UP, List.of(gate, r), new int[] {gate.shape[0] + r.shape[0], r.shape[1]}));
            } else {
                units.add(new Unit(r.name, List.of(r), r.shape));
            }
        }
        return units;
    }

    /** The tensors {@code cfg} needs, in upload order (the lm_head only when untied). */
    static List<Required> requiredTensors(LlamaConfig cfg) {
        int h = cfg.hiddenSize();
        int q = cfg.qWidth();
        int kv = cfg.kvWidth();
        int inter = cfg.intermediateSize();
        String hidden = "hidden_size=" + h;
        String qDims = "num_attention_heads=" + cfg.numAttentionHeads() + ", head_dim=" + cfg.headDim();
        String kvDims = "num_key_value_heads=" + cfg.numKeyValueHeads() + ", head_dim=" + cfg.headDim();
        String interDim = "intermediate_size=" + inter;
        String vocab = "vocab_size=" + cfg.vocabSize();
        double unitIn = 1.0 / Math.sqrt(h);

        List<Required> out = new ArrayList<>();
        // A tied embedding is also the output head, so it gets the head's scale to keep the logits O(1).
        out.add(new Required(EMBED, new int[] {cfg.vocabSize(), h}, vocab + ", " + hidden,
                cfg.tieWordEmbeddings() ? unitIn : 1.0, false));
        for (int i = 0; i < cfg.numHiddenLayers(); i++) {
            String p = layerPrefix(i);
            out.add(new Required(p + "input_layernorm.weight", new int[] {h}, hidden, 0, true));
            out.add(new Required(p + "self_attn.q_proj.weight", new int[] {q, h}, qDims + ", " + hidden, unitIn, false));
            out.add(new Required(p + "self_attn.k_proj.weight", new int[] {kv, h}, kvDims + ", " + hidden, unitIn, false));
            out.add(new Required(p + "self_attn.v_proj.weight", new int[] {kv, h}, kvDims + ", " + hidden, unitIn, false));
            out.add(new Required(p + "self_attn.o_proj.weight", new int[] {h, q}, hidden + ", " + qDims,
                    1.0 / Math.sqrt(q), false));
            if (cfg.qkvBias()) { // small random biases for benchmarks: a tenth of the unit scale
                out.add(new Required(p + "self_attn.q_proj.bias", new int[] {q}, qDims + " (q/k/v biases)", 0.1, false));
                out.add(new Required(p + "self_attn.k_proj.bias", new int[] {kv}, kvDims + " (q/k/v biases)", 0.1, false));
                out.add(new Required(p + "self_attn.v_proj.bias", new int[] {kv}, kvDims + " (q/k/v biases)", 0.1, false));
            }
            if (cfg.qkNorm()) {
                String d = "head_dim=" + cfg.headDim() + " (q_norm/k_norm)";
                out.add(new Required(p + "self_attn.q_norm.weight", new int[] {cfg.headDim()}, d, 0, true));
                out.add(new Required(p + "self_attn.k_norm.weight", new int[] {cfg.headDim()}, d, 0, true));
            }
            if (cfg.outputBias()) {
                out.add(new Required(p + "self_attn.o_proj.bias", new int[] {h}, hidden + " (attention_bias)", 0.1, false));
            }
            out.add(new Required(p + "post_attention_layernorm.weight", new int[] {h}, hidden, 0, true));
            out.add(new Required(p + "mlp.gate_proj.weight", new int[] {inter, h}, interDim + ", " + hidden, unitIn, false));
            out.add(new Required(p + "mlp.up_proj.weight", new int[] {inter, h}, interDim + ", " + hidden, unitIn, false));
            out.add(new Required(p + "mlp.down_proj.weight", new int[] {h, inter}, hidden + ", " + interDim,
                    1.0 / Math.sqrt(inter), false));
        }
        out.add(new Required(FINAL_NORM, new int[] {h}, hidden, 0, true));
        if (!cfg.tieWordEmbeddings()) {
            out.add(new Required(LM_HEAD, new int[] {cfg.vocabSize(), h}, vocab + ", " + hidden, unitIn, false));
        }
        return out;
    }

    /**
     * Checks every tensor {@code cfg} needs against the files — presence and shape — and only then uploads
     * them to {@code backend}. On any failure nothing stays allocated on the backend.
     */
    public static LlamaWeights load(TensorSource files, LlamaConfig cfg, Backend backend) {
        List<Required> required = requiredTensors(cfg);
        Map<String, TensorInfo> infos = new LinkedHashMap<>();
        for (Required r : required) {
            if (!files.contains(r.name)) {
                String why = r.name.equals(LM_HEAD) ? " (tie_word_embeddings is false, so the model needs its own"
                        + " output head)" : " (needed by the config: num_hidden_layers=" + cfg.numHiddenLayers() + ")";
                throw new ModelFormatException("tensor " + r.name + " is missing from model directory "
                        + files.label() + why);
            }
            TensorInfo info = files.info(r.name);
            if (!info.hasShape(r.shape)) {
                throw new ModelFormatException("tensor " + r.name + " in " + info.file() + " has shape "
                        + UntrustedInput.clip(Arrays.toString(info.shape())) + " but the config (" + r.because + ") needs "
                        + Arrays.toString(r.shape));
            }
            infos.put(r.name, info);
        }
        refuseUnused(files, infos.keySet(), cfg);

        Map<String, Tensor> uploaded = new LinkedHashMap<>();
        try {
            for (Unit u : units(cfg)) {
                List<TensorInfo> parts = u.parts().stream().map(r -> infos.get(r.name)).toList();
                uploaded.put(u.name(), upload(backend, files, parts, u.shape()));
            }
        } catch (RuntimeException | Error e) {
            freeAll(uploaded.values(), e);
            throw e;
        }
        LlamaWeights w = new LlamaWeights(cfg, uploaded);
        LOG.info("loaded {} weight tensors as {} ({}) from {} onto the {} backend", infos.size(), uploaded.size(),
                String.format("%.2f MiB", w.bytes() / 1048576.0), files.label(), backend.name());
        return w;
    }

    private static void refuseUnused(TensorSource files, Set<String> used, LlamaConfig cfg) {
        Set<String> unused = new TreeSet<>();
        for (String name : files.names()) {
            // rotary inverse frequencies are recomputed from rope_theta; a tied checkpoint may still carry a copy
            if (!used.contains(name) && !name.endsWith("rotary_emb.inv_freq")
                    && !(cfg.tieWordEmbeddings() && name.equals(LM_HEAD))) {
                unused.add(name);
            }
        }
        if (!unused.isEmpty()) {
            // A tensor the model would ignore means a config attnrt misreads (a family variant it does not
            // implement, or more layers than num_hidden_layers): refused, never a silently wrong answer.
            List<String> some = unused.stream().limit(5).map(UntrustedInput::clip).toList();
            throw new ModelFormatException(unused.size() + " tensors in " + files.label() + " are not used by "
                    + "the config, so attnrt would compute something else than the checkpoint: " + String.join(", ", some)
                    + (unused.size() > some.size() ? ", ..." : ""));
        }
    }

    /**
     * Synthetic weights for benchmarks, drawn deterministically from {@code seed}: linear weights with a
     * bell-shaped distribution of mean 0 and standard deviation 1/√fan_in (so unit activations stay O(1)
     * through every projection), the embedding with standard deviation 1 (1/√hidden when it doubles as the
     * output head), norm weights 1 ± 0.05. About 50M parameters take well under a second to generate; a
     * backend that can fill tensors itself ({@link io.attnrt.backend.RandomFill}) draws them in place.
     */
    public static LlamaWeights random(LlamaConfig cfg, Backend backend, DType dtype, long seed) {
        return randomWeights(cfg, backend, dtype, seed);
    }

    /**
     * One backend tensor from one checkpoint tensor or from several stacked by rows. Raw upload when the
     * backend keeps the file's dtype (and the parts share it); otherwise decoded on the host and converted.
     */
    private static Tensor upload(Backend backend, TensorSource files, List<TensorInfo> parts, int[] shape) {
        DType stored = parts.get(0).dtype();
        boolean oneDType = parts.stream().allMatch(i -> i.dtype() == stored);
        DType target = backend.weightDType(stored);
        if (parts.size() == 1 && target == stored) {
            ByteBuffer data = files.data(parts.get(0).name());
            warnIfNonFinite(parts.get(0), NonFinite.count(data, stored));
            return backend.uploadRaw(data, stored, shape);
        }
        long n = 1;
        for (int d : shape) {
            n *= d;
        }
        if (oneDType && target == stored) {
            if (stored.bytesFor(n) > Integer.MAX_VALUE - 8) {
                throw new ModelFormatException("fusing " + names(parts) + " needs a host buffer of more than 2 GiB");
            }
            ByteBuffer joined = ByteBuffer.allocate((int) stored.bytesFor(n));
            for (TensorInfo i : parts) {
                ByteBuffer data = files.data(i.name());
                warnIfNonFinite(i, NonFinite.count(data, stored));
                joined.put(data.duplicate());
            }
            return backend.uploadRaw(joined.flip(), stored, shape);
        }
        if (n > Integer.MAX_VALUE - 8) {
            throw new ModelFormatException("a tensor of " + n + " elements (" + names(parts) + ") is too large to "
                    + "convert to " + target + " on the host");
        }
        DType to = oneDType ? target : backend.weightDType(DType.F32);
        float[] values = new float[(int) n];
        int at = 0;
        for (TensorInfo i : parts) {
            ByteBuffer le = files.data(i.name()).duplicate().order(java.nio.ByteOrder.LITTLE_ENDIAN);
            if (i.dtype().isQuantized()) { // a backend without quantized kernels gets the decoded values
                int count = (int) i.numel();
                warnIfNonFinite(i, NonFinite.count(le, i.dtype()));
                io.attnrt.tensor.Quant.dequantize(i.dtype(), le, le.position(), values, at, count);
                at += count;
                continue;
            }
            long nonFinite = 0;
            while (le.hasRemaining()) {
                float v = switch (i.dtype()) {
                    case F32 -> le.getFloat();
                    case F16 -> io.attnrt.tensor.HalfFloats.f16ToFloat(le.getShort());
                    case BF16 -> io.attnrt.tensor.HalfFloats.bf16ToFloat(le.getShort());
                    default -> throw new IllegalStateException("unreachable: " + i.dtype());
                };
                // counted while decoding, which reads every value anyway
                if (!Float.isFinite(v)) {
                    nonFinite++;
                }
                values[at++] = v;
            }
            warnIfNonFinite(i, nonFinite);
        }
        return backend.upload(values, to, shape);
    }

    /**
     * A checkpoint with NaN or Inf weights is broken (a bad conversion, a diverged run) but still loads: the
     * runtime cannot tell a deliberate value from a damaged one, and refusing would hide which tensor it is.
     */
    private static void warnIfNonFinite(TensorInfo info, long count) {
        if (count > 0) {
            LOG.warn("tensor {} in {} has {} non-finite values (NaN or Inf) of {}; loading it anyway, but its "
                    + "outputs will not be numbers", info.name(), info.file(), count, info.numel());
        }
    }

    private static String names(List<TensorInfo> parts) {
        return String.join(" + ", parts.stream().map(TensorInfo::name).toList());
    }

    private static LlamaWeights randomWeights(LlamaConfig cfg, Backend backend, DType dtype, long seed) {
        Map<String, Tensor> uploaded = new LinkedHashMap<>();
        try {
            long index = 0;
            for (Unit u : units(cfg)) {
                // Fused parts share their scale (gate and up: 1/sqrt(hidden)), so one draw fills the unit.
                Required r = new Required(u.name(), u.shape(), "", u.parts().get(0).initStd, u.parts().get(0).isNorm);
                index++;
                long n = 1;
                for (int d : r.shape) {
                    n *= d;
                }
                if (dtype.isQuantized() && !r.isNorm && r.shape.length == 2) {
                    uploaded.put(r.name, randomQuantized(backend, dtype, r, mix64(seed ^ mix64(index))));
                    continue;
                }
                DType type = dtype.isQuantized() ? DType.F32 : dtype; // norms and biases of a quantized model: F32
                if (backend instanceof io.attnrt.backend.RandomFill fill) {
                    Tensor t = backend.allocate(backend.weightDType(type), r.shape);
                    uploaded.put(r.name, t);
                    fill.fillBellShaped(t, mix64(seed ^ mix64(index)), r.isNorm ? 1 : 0, r.isNorm ? 0.05 : r.initStd);
                    continue;
                }
                if (n > Integer.MAX_VALUE - 8) {
                    throw new IllegalArgumentException("random weights: tensor " + r.name + " "
                            + Arrays.toString(r.shape) + " is too large to generate on the heap");
                }
                float[] values = new float[(int) n];
                fillBellShaped(values, mix64(seed ^ mix64(index)), r.isNorm ? 0.05 : r.initStd);
                if (r.isNorm) {
                    for (int i = 0; i < values.length; i++) {
                        values[i] += 1f;
                    }
                }
                uploaded.put(r.name, backend.upload(values, backend.weightDType(type), r.shape));
            }
        } catch (RuntimeException | Error e) {
            freeAll(uploaded.values(), e);
            throw e;
        }
        return new LlamaWeights(cfg, uploaded);
    }

    /**
     * A matrix of random blocks of a quantized type ({@link io.attnrt.tensor.Quant#fillRandom}) with the
     * unit's scale, as the backend keeps that type (decoded where it does not).
     */
    private static Tensor randomQuantized(Backend backend, DType type, Required r, long seed) {
        long n = (long) r.shape[0] * r.shape[1];
        if (r.shape[1] % type.blockSize() != 0 || type.bytesFor(n) > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("random weights: " + r.name + " " + Arrays.toString(r.shape) + " cannot "
                    + "be " + type + " (rows must be whole blocks of " + type.blockSize() + ")");
        }
        byte[] blocks = new byte[(int) type.bytesFor(n)];
        io.attnrt.tensor.Quant.fillRandom(type, blocks, seed, r.initStd);
        if (backend.weightDType(type) == type) {
            return backend.uploadRaw(ByteBuffer.wrap(blocks), type, r.shape);
        }
        float[] values = new float[(int) n];
        io.attnrt.tensor.Quant.dequantize(type, blocks, 0, values, 0, values.length);
        return backend.upload(values, backend.weightDType(type), r.shape);
    }

    /**
     * Fills {@code out} with (U1 + U2 + U3 + U4 − 2)·√3·std, U uniform in [0, 1): mean 0, standard deviation
     * std, close to a normal in shape and bounded by ±2√3·std. Much faster than Gaussian sampling.
     */
    private static void fillBellShaped(float[] out, long state, double std) {
        final float scale = (float) (Math.sqrt(3.0) * std * 0x1p-24);
        final float center = 2.0f * 0x1p24f;
        long s = state;
        for (int i = 0; i < out.length; i++) {
            s += 0x9E3779B97F4A7C15L;
            long a = mix64(s);
            s += 0x9E3779B97F4A7C15L;
            long b = mix64(s);
            // four 24-bit uniforms from two 64-bit draws
            float sum = (float) ((a >>> 40) + ((a >>> 8) & 0xFFFFFF) + (b >>> 40) + ((b >>> 8) & 0xFFFFFF));
            out[i] = (sum - center) * scale;
        }
    }

    /** The SplitMix64 finalizer: a well-mixed 64-bit value from a counter. */
    private static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    private static void freeAll(Iterable<Tensor> tensors, Throwable primary) {
        for (Tensor t : tensors) {
            try {
                t.backend().free(t);
            } catch (RuntimeException suppressed) {
                primary.addSuppressed(suppressed);
            }
        }
    }

    public LlamaConfig config() {
        return config;
    }

    /** [vocab, hidden] */
    public Tensor embedTokens() {
        return live(embedTokens);
    }

    /** [hidden] model.norm */
    public Tensor finalNorm() {
        return live(finalNorm);
    }

    /** [vocab, hidden]; the same tensor as {@link #embedTokens()} when the embeddings are tied. */
    public Tensor lmHead() {
        return live(lmHead);
    }

    public boolean tiedEmbeddings() {
        return lmHead == embedTokens;
    }

    public int numLayers() {
        return layers.size();
    }

    public LayerWeights layer(int i) {
        if (i < 0 || i >= layers.size()) {
            throw new IndexOutOfBoundsException("layer " + i + " of a model with " + layers.size() + " layers");
        }
        live(embedTokens);
        return layers.get(i);
    }

    /** Bytes the weights occupy on the backend (a tied embedding counted once). */
    public long bytes() {
        long sum = 0;
        for (Tensor t : owned) { // a tied lm_head is not a tensor of its own
            sum += t.byteSize();
        }
        return sum;
    }

    private Tensor live(Tensor t) {
        if (closed) {
            throw new IllegalStateException("the model weights were closed");
        }
        return t;
    }

    /** Frees every weight tensor; closing twice is a no-op. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        Release.all(owned, t -> t.backend().free(t));
    }
}
