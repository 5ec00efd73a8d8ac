package io.attnrt.model;

import io.attnrt.backend.Backend;
import io.attnrt.backend.SamplingParams;
import io.attnrt.kv.AppendPlan;
import io.attnrt.kv.BlockTables;
import io.attnrt.kv.KvCacheExhaustedException;
import io.attnrt.kv.PagedKvCache;
import io.attnrt.backend.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Runs a batch of requests: one ragged prefill of every prompt, then decode steps over the sequences
 * still running, each step one token per sequence through paged attention.
 *
 * <p>Requests are independent: each reserves its own KV blocks, so a request the cache cannot hold fails
 * alone (its result carries the error) while the others go on with their caches intact.
 */
public final class Generator {
    /** Receives the logits a token was drawn from: step 0 is the prefill's last position. */
    public interface LogitsListener {
        void onLogits(int request, int step, float[] logits, int token);
    }

    /**
     * Sees each token as it is drawn (step 0 is the prefill's), before the next step runs, and may end its
     * request there — for stop conditions only the streaming side can judge, such as stop strings in the
     * decoded text. The token is kept as the request's last, as a stop token is, and the request's KV blocks
     * are freed at once.
     */
    public interface TokenListener {
        /** @return true to end request {@code request} after this token */
        boolean onToken(int request, int step, int token);
    }

    private final LlamaModel model;
    private final PagedKvCache cache;
    private GenerationStats lastStats = new GenerationStats(0, 0, 0, 0, 0);

    public Generator(LlamaModel model, PagedKvCache cache) {
        this.model = model;
        this.cache = cache;
    }

    public GenerationStats lastStats() {
        return lastStats;
    }

    public List<GenerationResult> generate(List<GenerationRequest> requests) {
        return generate(requests, null);
    }

    public List<GenerationResult> generate(List<GenerationRequest> requests, LogitsListener listener) {
        return generate(requests, listener, null);
    }

    /**
     * Generates for every request; a bad request (token, length) is rejected before anything runs.
     *
     * @param listener logits of every step, or null (the logits then stay on the backend)
     * @param tokens   every drawn token, or null
     */
    public List<GenerationResult> generate(List<GenerationRequest> requests, LogitsListener listener,
                                           TokenListener tokens) {
        for (int r = 0; r < requests.size(); r++) {
            validate(r, requests.get(r));
        }
        int n = requests.size();
        Running[] running = new Running[n];
        for (int r = 0; r < n; r++) {
            running[r] = new Running(r, requests.get(r));
        }
        try {
            long t0 = System.nanoTime();
            int prefillTokens = prefill(running, listener, tokens);
            long t1 = System.nanoTime();
            int[] decoded = decodeLoop(running, listener, tokens);
            long t2 = System.nanoTime();
            lastStats = new GenerationStats(prefillTokens, t1 - t0, decoded[0], t2 - t1, decoded[1]);
        } finally {
            for (Running s : running) {
                s.release();
            }
        }
        List<GenerationResult> results = new ArrayList<>(n);
        for (Running s : running) {
            results.add(new GenerationResult(s.request.prompt().clone(), s.tokens(), s.error));
        }
        return results;
    }

    private void validate(int index, GenerationRequest req) {
        LlamaConfig cfg = model.config();
        String who = "request " + index;
        if (req.prompt() == null || req.prompt().length == 0) {
            throw new IllegalArgumentException(who + ": the prompt is empty");
        }
        if (req.maxNewTokens() < 0) {
            throw new IllegalArgumentException(who + ": max new tokens must be >= 0, got " + req.maxNewTokens());
        }
        int[] p = req.prompt();
        for (int i = 0; i < p.length; i++) {
            if (p[i] < 0 || p[i] >= cfg.vocabSize()) {
                throw new IllegalArgumentException(who + ": token id " + p[i] + " at prompt position " + i
                        + " is outside the vocabulary [0, " + cfg.vocabSize() + ")");
            }
        }
        long needed = (long) p.length + req.maxNewTokens();
        if (needed > cfg.maxPositionEmbeddings()) {
            throw new IllegalArgumentException(who + ": prompt of " + p.length + " tokens plus "
                    + req.maxNewTokens() + " new tokens exceeds the model's context of "
                    + cfg.maxPositionEmbeddings() + " tokens");
        }
    }

    private int prefill(Running[] running, LogitsListener listener, TokenListener tokenListener) {
        List<Running> admitted = new ArrayList<>();
        List<int[]> slotParts = new ArrayList<>();
        for (Running s : running) {
            if (s.request.maxNewTokens() == 0) {
                s.done = true;
                continue;
            }
            int seq = cache.newSequence();
            try {
                AppendPlan plan = cache.prepareAppend(new int[] {seq}, new int[] {s.request.prompt().length});
                s.seq = seq;
                admitted.add(s);
                slotParts.add(plan.slots());
            } catch (KvCacheExhaustedException e) {
                cache.free(seq);
                s.fail("prefill: " + e.getMessage());
            }
        }
        if (admitted.isEmpty()) {
            return 0;
        }
        int[][] prompts = new int[admitted.size()][];
        int total = 0;
        for (int i = 0; i < prompts.length; i++) {
            prompts[i] = admitted.get(i).request.prompt();
            total += prompts[i].length;
        }
        int[] slots = concat(slotParts, total);
        accept(admitted, model.prefill(prompts, slots, cache, false), 0, listener, tokenListener);
        return total;
    }

    /** @return {decoded tokens, steps} */
    private int[] decodeLoop(Running[] running, LogitsListener listener, TokenListener tokenListener) {
        int tokens = 0;
        int steps = 0;
        for (int step = 1; ; step++) {
            List<Running> active = new ArrayList<>();
            List<int[]> slotParts = new ArrayList<>();
            for (Running s : running) {
                if (s.done) {
                    continue;
                }
                try {
                    slotParts.add(cache.prepareAppend(new int[] {s.seq}, new int[] {1}).slots());
                    active.add(s);
                } catch (KvCacheExhaustedException e) {
                    s.fail("decode step " + step + ": " + e.getMessage());
                }
            }
            if (active.isEmpty()) {
                return new int[] {tokens, steps};
            }
            int b = active.size();
            int[] seqs = new int[b];
            int[] next = new int[b];
            int[] positions = new int[b];
            for (int i = 0; i < b; i++) {
                Running s = active.get(i);
                seqs[i] = s.seq;
                next[i] = s.lastToken();
                positions[i] = cache.length(s.seq) - 1;
            }
            BlockTables tables = cache.decodeTables(seqs);
            accept(active, model.decode(next, positions, concat(slotParts, b), tables, cache), step, listener,
                    tokenListener);
            tokens += b;
            steps++;
        }
    }

    /** Draws one token per row of logits for the given sequences and records it. */
    private void accept(List<Running> batch, Tensor logits, int step, LogitsListener listener,
                        TokenListener tokenListener) {
        Backend backend = model.backend();
        SamplingParams[] params = new SamplingParams[batch.size()];
        double[] uniforms = new double[batch.size()];
        for (int i = 0; i < params.length; i++) {
            params[i] = batch.get(i).request.sampling();
            uniforms[i] = batch.get(i).random.nextDouble();
        }
        int[] drawn = backend.sample(logits, params, uniforms);
        float[] all = listener == null ? null : backend.download(logits);
        int vocab = logits.dim(1);
        for (int i = 0; i < drawn.length; i++) {
            Running s = batch.get(i);
            if (listener != null) {
                listener.onLogits(s.index, step, Arrays.copyOfRange(all, i * vocab, (i + 1) * vocab), drawn[i]);
            }
            boolean stop = tokenListener != null && tokenListener.onToken(s.index, step, drawn[i]);
            s.append(drawn[i], stop);
        }
    }

    private static int[] concat(List<int[]> parts, int total) {
        int[] out = new int[total];
        int at = 0;
        for (int[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    /** A request in flight: its sequence in the cache, its tokens so far, its random stream. */
    private final class Running {
        final int index;
        final GenerationRequest request;
        final SplittableRandom random;
        private final int[] generated;
        private int count;
        int seq = -1;
        boolean done;
        String error;

        Running(int index, GenerationRequest request) {
            this.index = index;
            this.request = request;
            this.random = new SplittableRandom(request.seed());
            this.generated = new int[request.maxNewTokens()];
        }

        int lastToken() {
            return generated[count - 1];
        }

        void append(int token, boolean stop) {
            generated[count++] = token;
            if (stop || count == generated.length || request.stopsAt(token)) {
                done = true;
                release();
            }
        }

        void fail(String why) {
            error = why;
            done = true;
            release();
        }

        void release() {
            if (seq >= 0) {
                cache.free(seq);
                seq = -1;
            }
        }

        int[] tokens() {
            return Arrays.copyOf(generated, count);
        }
    }
}
