package io.attnrt.serve;

import io.attnrt.backend.Backend;
import io.attnrt.backend.SamplingParams;
import io.attnrt.backend.Tensor;
import io.attnrt.kv.KvCacheExhaustedException;
import io.attnrt.kv.PagedKvCache;
import io.attnrt.kv.PrefixCache;
import io.attnrt.model.LlamaConfig;
import io.attnrt.model.LlamaModel;
import io.attnrt.text.Tokenizer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Continuous batching over the paged KV cache. One engine thread owns the model and the cache and loops:
 * take new requests, build a step — one decode token for every running sequence first, then prompt chunks
 * (of running sequences still in their prompt, then of waiting ones it admits) until the step's token
 * budget is spent — run it as one {@link LlamaModel#extend} forward pass, draw the next tokens, hand them to
 * the listeners, retire finished sequences.
 *
 * <p>When the KV pool cannot hold a running sequence's next tokens, the most recently admitted running
 * sequence is preempted: its blocks go back to the pool and it waits, first in line, to be recomputed from
 * its prompt and the tokens it has produced (its output so far stands; its random stream goes on where it
 * was). No request fails because others arrived.
 *
 * <p>Each request's choices are separate sequences: choice 0 runs the prompt, the others fork from it once
 * its prompt is cached, so they share those blocks until each writes its own tokens (copy-on-write).
 */
public final class Engine implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Engine.class);

    private final LlamaModel model;
    private final PagedKvCache cache;
    private final PrefixCache prefixCache;
    private final Tokenizer tokenizer;
    private final EngineConfig config;
    private final ServerMetrics metrics;
    private final int contextLimit;

    /** Requests handed over by other threads; guarded by itself. */
    private final ArrayDeque<Job> incoming = new ArrayDeque<>();
    private final ArrayDeque<Seq> waiting = new ArrayDeque<>();
    /** In admission order: the last one is the first to be preempted. */
    private final List<Seq> running = new ArrayList<>();
    private final Thread thread;
    private volatile boolean stopping;
    private volatile boolean draining;
    private volatile int runningCount;
    private volatile int waitingCount;
    private long admissions;

    /**
     * @param tokenizer streams the text of tokens and matches stop strings; null = token ids only (text "")
     */
    public Engine(LlamaModel model, PagedKvCache cache, Tokenizer tokenizer, EngineConfig config) {
        this.model = model;
        this.cache = cache;
        this.tokenizer = tokenizer;
        this.config = config;
        this.prefixCache = config.prefixCaching() ? new PrefixCache(cache) : null;
        this.contextLimit = model.config().maxPositionEmbeddings();
        this.metrics = new ServerMetrics(() -> runningCount, () -> waitingCount,
                () -> cache.totalBlocks() - cache.freeBlocks(), cache::freeBlocks);
        this.thread = new Thread(this::loop, "attnrt-engine");
        thread.setDaemon(true);
        thread.start();
    }

    public LlamaConfig modelConfig() {
        return model.config();
    }

    public PagedKvCache cache() {
        return cache;
    }

    /** Tokens the KV pool can hold. */
    public long capacityTokens() {
        return (long) cache.totalBlocks() * cache.blockSize();
    }

    String metricsText() {
        return metrics.scrape();
    }

    /** Prompt tokens run through the model so far (prefix-cache hits excluded). */
    public long computedPromptTokens() {
        return (long) metrics.computedPromptTokens.get();
    }

    /** Blocks only the prefix cache holds (free for the taking). */
    public int reclaimableBlocks() {
        synchronized (incoming) {
            return prefixCache == null ? 0 : prefixCache.reclaimable();
        }
    }

    public long preemptions() {
        return (long) metrics.preemptions.get();
    }

    /** Sequences running and requests waiting (for tests and shutdown). */
    public int inFlight() {
        synchronized (incoming) {
            return incoming.size() + runningCount + waitingCount;
        }
    }

    /** A request in flight, for its client to cancel. */
    public interface Handle {
        /** Ends the request at the next step and frees its KV blocks; no further events are sent. */
        void cancel();
    }

    /** The waiting queue is full: retry later (HTTP 429). */
    public static final class QueueFullException extends RuntimeException {
        QueueFullException(String message) {
            super(message);
        }
    }

    /**
     * Queues a request.
     *
     * @throws IllegalArgumentException naming what is wrong with it (HTTP 400)
     * @throws QueueFullException       when {@link EngineConfig#maxWaiting} requests already wait
     * @throws IllegalStateException    when the engine is shutting down
     */
    public Handle submit(Completion c, CompletionListener listener) {
        validate(c);
        Job job = new Job(c, listener, tokenizer);
        synchronized (incoming) {
            if (stopping || draining) {
                throw new IllegalStateException("the server is shutting down");
            }
            if (incoming.size() + waitingCount >= config.maxWaiting()) {
                throw new QueueFullException("the server has " + config.maxWaiting() + " requests waiting; retry later");
            }
            incoming.add(job);
            incoming.notifyAll();
        }
        return () -> job.cancelled = true;
    }

    private void validate(Completion c) {
        int vocab = model.config().vocabSize();
        if (c.prompt().length == 0) {
            throw new IllegalArgumentException("the prompt is empty");
        }
        for (int i = 0; i < c.prompt().length; i++) {
            if (c.prompt()[i] < 0 || c.prompt()[i] >= vocab) {
                throw new IllegalArgumentException("token id " + c.prompt()[i] + " at prompt position " + i
                        + " is outside the vocabulary [0, " + vocab + ")");
            }
        }
        if (c.prompt().length >= contextLimit) {
            throw new IllegalArgumentException("this model's maximum context length is " + contextLimit
                    + " tokens; the prompt has " + c.prompt().length + " tokens and leaves no room to generate");
        }
        if (c.prompt().length + 1 > capacityTokens()) {
            throw new IllegalArgumentException("the prompt of " + c.prompt().length + " tokens does not fit the KV "
                    + "cache of " + capacityTokens() + " tokens");
        }
        if (c.maxTokens() < 1) {
            throw new IllegalArgumentException("max_tokens must be at least 1, got " + c.maxTokens());
        }
        if (c.n() < 1 || c.n() > config.maxNumSeqs()) {
            throw new IllegalArgumentException("n must be between 1 and " + config.maxNumSeqs() + " (the server's "
                    + "max-num-seqs), got " + c.n());
        }
    }

    // ------------------------------------------------------------------------------------------ the loop

    private void loop() {
        while (!stopping) {
            try {
                if (!takeIncoming()) {
                    continue;
                }
                dropCancelled();
                step();
            } catch (InterruptedException e) {
                break;
            } catch (RuntimeException | Error e) {
                // A bug or a backend failure: fail what was in flight, keep the engine (and the server) up.
                LOG.error("engine step failed; failing the requests in flight", e);
                failAll("internal error: " + e);
            }
        }
    }

    /** Moves new requests into the waiting queue; blocks while there is nothing to do. */
    private boolean takeIncoming() throws InterruptedException {
        synchronized (incoming) {
            while (incoming.isEmpty() && running.isEmpty() && waiting.isEmpty() && !stopping) {
                incoming.wait(TimeUnit.SECONDS.toMillis(1));
            }
            for (Job j; (j = incoming.poll()) != null; ) {
                waiting.add(j.seqs[0]);
            }
            waitingCount = waiting.size();
        }
        return !stopping && (!running.isEmpty() || !waiting.isEmpty());
    }

    private void dropCancelled() {
        for (Seq s : new ArrayList<>(running)) {
            if (s.job.cancelled) {
                release(s);
                s.finished = true;
            }
        }
        waiting.removeIf(s -> s.job.cancelled);
        publishCounts();
    }

    private void step() {
        Batch batch = new Batch();
        int budget = config.maxBatchedTokens();
        for (Seq s : new ArrayList<>(running)) {
            if (budget == 0) {
                break;
            }
            if (s.cacheSeq < 0 || !running.contains(s)) {
                continue; // awaiting its fork, or preempted by an earlier sequence of this loop
            }
            int n = Math.min(s.len - s.computed, budget);
            int[] slots = reserve(s, n, batch);
            if (slots != null) {
                batch.add(s, n, slots);
                budget -= n;
            }
        }
        while (budget > 0 && !waiting.isEmpty() && running.size() + waiting.peekFirst().groupSize() <= config.maxNumSeqs()) {
            int n = admit(waiting.peekFirst(), budget, batch);
            if (n == 0) {
                break;
            }
            budget -= n;
        }
        publishCounts();
        if (batch.size() == 0) {
            if (!waiting.isEmpty() && running.stream().allMatch(s -> s.cacheSeq < 0)) {
                // Nothing runs and the first in line cannot start even in an empty pool.
                Seq s = waiting.pollFirst();
                fail(s.job, "the request needs more KV cache than the server has (" + capacityTokens() + " tokens)");
                publishCounts();
            }
            return;
        }
        Tensor logits;
        try {
            logits = model.extend(batch.ids(), batch.chunks.toArray(new int[0][]), batch.slots(), cache);
        } catch (RuntimeException e) {
            LOG.error("forward step of {} sequences failed", batch.size(), e);
            for (Seq s : batch.seqs) {
                fail(s.job, "the forward pass failed: " + e.getMessage());
            }
            publishCounts();
            return;
        }
        advance(batch, logits); // the model's buffer: the next step overwrites it
        publishCounts();
    }

    /** Admits the first waiting sequence with a first chunk of at most {@code budget} tokens; 0 if it does not fit. */
    private int admit(Seq s, int budget, Batch batch) {
        PrefixCache.Chain chain = new PrefixCache.Chain();
        // At least the last prompt token is computed: its logits give the first new token.
        int[] shared = prefixCache == null ? new int[0] : prefixCache.match(chain, s.tokens, s.len - 1);
        int cached = shared.length * cache.blockSize();
        int n = Math.min(s.len - cached, budget);
        int seq = cache.newSequence(shared);
        int[] slots;
        try {
            slots = cache.prepareAppend(new int[] {seq}, new int[] {n}).slots();
        } catch (KvCacheExhaustedException e) {
            cache.free(seq);
            return 0;
        }
        waiting.pollFirst();
        s.cacheSeq = seq;
        s.computed = cached;
        s.chain = chain;
        s.admittedAt = admissions++;
        running.add(s);
        if (s.unforked()) {
            running.addAll(Arrays.asList(s.job.seqs).subList(1, s.job.seqs.length));
        }
        if (s.generated == 0 && s.choice == 0) {
            metrics.promptTokens.inc(s.len);
            s.job.cachedPromptTokens = Math.max(s.job.cachedPromptTokens, cached);
        }
        if (prefixCache != null) {
            metrics.prefixQueries.inc(s.len);
            metrics.prefixHits.inc(cached);
        }
        batch.add(s, n, slots);
        return n;
    }

    /**
     * Reserves {@code n} slots for a running sequence, preempting the most recently admitted ones not yet in
     * this step when the pool is short. Null when {@code s} itself had to give way.
     */
    private int[] reserve(Seq s, int n, Batch batch) {
        while (true) {
            try {
                return cache.prepareAppend(new int[] {s.cacheSeq}, new int[] {n}).slots();
            } catch (KvCacheExhaustedException e) {
                Seq victim = null;
                for (int i = running.size() - 1; i >= 0 && victim == null; i--) {
                    Seq v = running.get(i);
                    if (v != s && v.cacheSeq >= 0 && !batch.seqs.contains(v) && v.admittedAt > s.admittedAt) {
                        victim = v;
                    }
                }
                if (victim != null) {
                    preempt(victim);
                    continue;
                }
                if (batch.size() == 0 && running.stream().noneMatch(v -> v != s && v.cacheSeq >= 0)) {
                    // Alone in the pool and still too long: the pool cannot take this sequence any further.
                    finish(s, "length", flushText(s));
                } else {
                    preempt(s);
                }
                return null;
            }
        }
    }

    private void preempt(Seq s) {
        LOG.debug("preempting choice {} of a request ({} tokens)", s.choice, s.len);
        cache.free(s.cacheSeq);
        s.cacheSeq = -1;
        s.computed = 0;
        s.chain = null;
        running.remove(s);
        if (s.unforked()) {
            // Its choices wait with it rather than hold places in the running batch.
            running.removeAll(Arrays.asList(s.job.seqs));
        }
        waiting.addFirst(s);
        metrics.preemptions.inc();
    }

    /** After the forward pass: counts what was computed, forks waiting choices, draws and hands out tokens. */
    private void advance(Batch batch, Tensor logits) {
        List<Integer> rows = new ArrayList<>();
        List<Seq> drawing = new ArrayList<>();
        for (int i = 0; i < batch.size(); i++) {
            Seq s = batch.seqs.get(i);
            int n = batch.chunks.get(i).length;
            if (s.computed < s.promptEnd()) {
                metrics.computedPromptTokens.inc(Math.min(n, s.promptEnd() - s.computed));
            }
            s.computed += n;
            if (prefixCache != null) {
                prefixCache.register(s.chain, s.cacheSeq, s.tokens, s.computed);
            }
            if (s.computed == s.len) {
                rows.add(i);
                drawing.add(s);
                if (s.unforked()) {
                    for (int f = 1; f < s.job.seqs.length; f++) {
                        Seq follower = s.job.seqs[f];
                        follower.cacheSeq = cache.fork(s.cacheSeq);
                        follower.computed = s.computed;
                        follower.chain = s.chain == null ? null : s.chain.copy();
                        follower.admittedAt = admissions++;
                        rows.add(i);
                        drawing.add(follower);
                    }
                }
            }
        }
        if (drawing.isEmpty()) {
            return;
        }
        Backend backend = model.backend();
        int b = batch.size();
        int[] token = new int[drawing.size()];
        // One draw per logits row per call: choices forked from one row take one call each.
        boolean[] done = new boolean[drawing.size()];
        for (int remaining = drawing.size(); remaining > 0; ) {
            SamplingParams[] params = new SamplingParams[b];
            double[] uniforms = new double[b];
            int[] who = new int[b];
            Arrays.fill(params, SamplingParams.GREEDY);
            Arrays.fill(who, -1);
            for (int d = 0; d < drawing.size(); d++) {
                int row = rows.get(d);
                if (!done[d] && who[row] < 0) {
                    who[row] = d;
                    params[row] = drawing.get(d).job.completion.sampling();
                    uniforms[row] = drawing.get(d).random.nextDouble();
                }
            }
            int[] drawn = backend.sample(logits, params, uniforms);
            for (int row = 0; row < b; row++) {
                if (who[row] >= 0) {
                    token[who[row]] = drawn[row];
                    done[who[row]] = true;
                    remaining--;
                }
            }
        }
        float[] all = null;
        for (Seq s : drawing) {
            if (s.job.completion.logprobs() >= 0) {
                all = backend.download(logits);
                break;
            }
        }
        int vocab = logits.dim(1);
        for (int d = 0; d < drawing.size(); d++) {
            Seq s = drawing.get(d);
            if (s.finished) {
                continue; // its request failed on an earlier choice of this step
            }
            try {
                CompletionListener.TokenLogprobs lp = s.job.completion.logprobs() < 0 ? null
                        : Logprobs.of(all, rows.get(d) * vocab, vocab, token[d], s.job.completion.logprobs());
                accept(s, token[d], lp);
            } catch (RuntimeException e) {
                // Decoding or handing out one request's token fails that request only.
                LOG.error("request failed while handing out a token", e);
                fail(s.job, "internal error: " + e.getMessage());
            }
        }
    }

    private void accept(Seq s, int token, CompletionListener.TokenLogprobs lp) {
        long now = System.nanoTime();
        Job job = s.job;
        s.append(token);
        job.completionTokens++;
        metrics.generated(1);
        if (job.firstTokenNanos == 0) {
            job.firstTokenNanos = now;
            metrics.timeToFirstToken.observe((now - job.arrivalNanos) / 1e9);
        }
        if (s.lastTokenNanos != 0) {
            metrics.interTokenLatency.observe((now - s.lastTokenNanos) / 1e9);
        }
        s.lastTokenNanos = now;
        if (job.completion.stopsAt(token)) {
            finish(s, "stop", flushText(s));
            return;
        }
        String piece = s.text == null ? "" : s.text.add(token);
        String shown = s.stops.add(piece);
        job.listener.onToken(s.choice, token, shown, lp);
        if (s.stops.stopped()) {
            finish(s, "stop", "");
        } else if (s.generated >= job.completion.maxTokens() || s.len >= contextLimit) {
            finish(s, "length", flushText(s));
        }
    }

    /** Text still held back by the decoder and the stop-string matcher. */
    private static String flushText(Seq s) {
        String tail = s.stops.add(s.text == null ? "" : s.text.finish());
        return s.stops.stopped() ? tail : tail + s.stops.finish();
    }

    private void finish(Seq s, String reason, String text) {
        release(s);
        s.finished = true;
        metrics.requests.labelValues(reason).inc();
        s.job.listener.onFinish(s.choice, reason, text);
        if (++s.job.finishedChoices == s.job.seqs.length) {
            s.job.listener.onComplete(new CompletionListener.Usage(s.job.completion.prompt().length,
                    s.job.completionTokens, s.job.cachedPromptTokens));
        }
    }

    private void fail(Job job, String message) {
        for (Seq s : job.seqs) {
            release(s);
            s.finished = true;
            waiting.remove(s);
        }
        if (!job.failed) {
            job.failed = true;
            job.listener.onError(message);
        }
    }

    private void failAll(String message) {
        for (Seq s : new ArrayList<>(running)) {
            fail(s.job, message);
        }
        for (Seq s : new ArrayList<>(waiting)) {
            fail(s.job, message);
        }
        synchronized (incoming) {
            for (Job j; (j = incoming.poll()) != null; ) {
                fail(j, message);
            }
        }
        publishCounts();
    }

    private void release(Seq s) {
        if (s.cacheSeq >= 0) {
            cache.free(s.cacheSeq);
            s.cacheSeq = -1;
        }
        running.remove(s);
    }

    private void publishCounts() {
        runningCount = running.size();
        waitingCount = waiting.size();
    }

    // ------------------------------------------------------------------------------------------ shutdown

    /**
     * Stops taking requests, lets those in flight finish for up to {@code graceMillis}, fails the rest
     * ("the server is shutting down") and returns every KV block.
     */
    public void shutdown(long graceMillis) {
        draining = true;
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(graceMillis);
        while (inFlight() > 0 && System.nanoTime() < deadline) {
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        close();
    }

    @Override
    public void close() {
        synchronized (incoming) {
            stopping = true;
            incoming.notifyAll();
        }
        try {
            thread.join(TimeUnit.SECONDS.toMillis(30));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        failAll("the server is shutting down");
        if (prefixCache != null) {
            prefixCache.clear();
        }
    }
}
