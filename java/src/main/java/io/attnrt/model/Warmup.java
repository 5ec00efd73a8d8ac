package io.attnrt.model;

import io.attnrt.backend.Backend;
import io.attnrt.backend.SamplingParams;
import io.attnrt.kv.PagedKvCache;
import io.attnrt.tensor.DType;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs a tiny random model shaped like the real one (same head dim, GQA ratio, RoPE, biases and weight type;
 * 2 layers, hidden 256) through prefills and decode steps on a background thread while the real weights load,
 * so that by the first prompt the JIT has compiled the kernels. Without it the first prefill of a fresh JVM
 * runs the Vector API kernels interpreted or C1-compiled — where every vector op allocates — and a 128-token
 * prompt of a 56M model takes seconds instead of a fifth of one.
 *
 * <p>For backends whose kernels are JIT-compiled Java (the cpu backend); models too small for it to matter
 * skip it, as does {@code -Dattnrt.warmup=false}. A failure is logged and never fails the load.
 */
public final class Warmup {
    private static final Logger LOG = LoggerFactory.getLogger(Warmup.class);
    /** Models with fewer parameters prefill fast enough cold. */
    static final long MIN_PARAMETERS = 5_000_000;
    /**
     * Iterations always run, and the most run while the weights are still loading. Measured on the 56M bench
     * model (see the README's first-token figures): 12 take the first 128-token prefill from ~3 s to ~0.4 s.
     */
    static final int MIN_ITERATIONS = Integer.getInteger("attnrt.warmup.iterations", 40);
    static final int MAX_ITERATIONS = Math.max(MIN_ITERATIONS, 60);
    /** Prompt lengths cycled through: short, tile-aligned and ragged, so every tail branch is compiled. */
    private static final int[] PROMPTS = {48, 64, 130, 17};

    private final Thread thread;
    private final AtomicBoolean stop = new AtomicBoolean();
    /** Set once the caller waits: from then on the minimum number of iterations suffices. */
    private volatile boolean loaded;
    private volatile int done;
    private volatile Throwable failure;
    private final long started = System.nanoTime();

    private Warmup(Backend backend, LlamaConfig tiny, DType weightType) {
        this.thread = new Thread(() -> run(backend, tiny, weightType), "attnrt-warmup");
        thread.setDaemon(true);
    }

    /** Whether {@code backend} benefits: its kernels are JIT-compiled on first use. */
    static boolean applies(Backend backend, LlamaConfig like) {
        return "cpu".equals(backend.name()) && like.parameterCount() >= MIN_PARAMETERS
                && !"false".equalsIgnoreCase(System.getProperty("attnrt.warmup"));
    }

    /** Starts warming up for a model like {@code like} with weights of {@code weightType}, or returns null. */
    public static Warmup start(Backend backend, LlamaConfig like, DType weightType) {
        if (!applies(backend, like)) {
            return null;
        }
        Warmup w = new Warmup(backend, tinyLike(like, weightType), weightType);
        w.thread.start();
        return w;
    }

    /** Waits for the warm-up to finish its iterations and logs what it did. */
    public void await() {
        loaded = true;
        try {
            thread.join();
        } catch (InterruptedException e) {
            stop.set(true);
            Thread.currentThread().interrupt();
            return;
        }
        if (failure != null) {
            LOG.warn("kernel warm-up failed after {} iterations (the first prompt will be slower): {}", done,
                    failure.toString());
        } else {
            LOG.info("kernels warmed up: {} tiny-model steps in {} ms", done, (System.nanoTime() - started) / 1_000_000);
        }
    }

    int iterations() {
        return done;
    }

    Throwable failure() {
        return failure;
    }

    /** Stops after the current iteration and waits for it (the load failed: nobody needs the kernels). */
    public void cancel() {
        stop.set(true);
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void run(Backend backend, LlamaConfig tiny, DType weightType) {
        // tinyLike finds whole 256-blocks for every head geometry it is given; F32 if one ever has none
        DType type = tiny.qWidth() % 256 == 0 || !weightType.isQuantized() ? weightType : DType.F32;
        try (LlamaWeights w = LlamaWeights.random(tiny, backend, type, 1);
             LlamaModel model = new LlamaModel(tiny, w, backend);
             PagedKvCache cache = model.newCache(16, 16, DType.F32)) {
            Generator g = new Generator(model, cache);
            for (int i = 0; i < MAX_ITERATIONS && !stop.get() && (i < MIN_ITERATIONS || !loaded); i++) {
                int[] prompt = new int[PROMPTS[i % PROMPTS.length]];
                for (int t = 0; t < prompt.length; t++) {
                    prompt[t] = (t * 37 + i) % tiny.vocabSize();
                }
                // a prompt through the GEMM path, then decode steps through GEMV and paged attention
                g.generate(List.of(new GenerationRequest(prompt, 8, SamplingParams.GREEDY, i, new int[0])));
                done = i + 1;
            }
        } catch (Throwable t) {
            failure = t;
        }
    }

    /**
     * Two layers of the same head geometry: head dim, GQA ratio (query heads per KV head), RoPE, biases, q/k
     * norm, window; KV heads so that the query width is a whole number of 256-element quantization blocks.
     */
    static LlamaConfig tinyLike(LlamaConfig c, DType weightType) {
        int ratio = c.numAttentionHeads() / c.numKeyValueHeads();
        int kv = 1;
        while (weightType.isQuantized() && (ratio * kv * c.headDim()) % 256 != 0 && kv < 16) {
            kv++;
        }
        return LlamaConfig.builder().vocabSize(512).hiddenSize(256).intermediateSize(512).numHiddenLayers(2)
                .numAttentionHeads(ratio * kv).numKeyValueHeads(kv).headDim(c.headDim())
                .maxPositionEmbeddings(256).rmsNormEps(c.rmsNormEps()).ropeTheta(c.ropeTheta())
                .ropeScaling(c.ropeScaling()).ropeStyle(c.ropeStyle()).qkvBias(c.qkvBias()).qkNorm(c.qkNorm())
                .outputBias(c.outputBias()).slidingWindow(c.slidingWindow()).tieWordEmbeddings(false).build();
    }
}
