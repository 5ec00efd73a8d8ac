package io.attnrt.model;

import io.attnrt.backend.Tensor;
import io.attnrt.kv.PagedKvCache;
import java.util.Arrays;

/**
 * One sequence kept in a paged KV cache from one request to the next, together with the token ids its
 * K/V hold, so a later prompt that begins the same way — the next turn of a conversation — runs only the
 * tokens after the common prefix. Whatever came after the point where the prompts part is dropped first.
 *
 * <p>Not thread-safe, like the model it runs.
 */
public final class CachedSequence implements AutoCloseable {
    private final LlamaModel model;
    private final PagedKvCache cache;
    private final int seq;
    private int[] held = new int[64];
    private int length;
    private boolean closed;

    /** A new empty sequence in {@code cache}, which must be shaped for {@code model}. */
    public CachedSequence(LlamaModel model, PagedKvCache cache) {
        this.model = model;
        this.cache = cache;
        this.seq = cache.newSequence();
    }

    /** Tokens whose K/V the cache holds. */
    public int length() {
        return length;
    }

    /** The ids whose K/V the cache holds, in order (a copy). */
    public int[] tokens() {
        return Arrays.copyOf(held, length);
    }

    /**
     * How many leading tokens of {@code ids} {@link #extendTo} keeps from the cache: the common prefix, but
     * never all of {@code ids}, because the last one must run to give the logits of what follows it.
     */
    public int reusablePrefix(int[] ids) {
        int n = Math.min(length, ids.length - 1);
        int i = 0;
        while (i < n && held[i] == ids[i]) {
            i++;
        }
        return i;
    }

    /**
     * Makes the sequence hold exactly {@code ids}: drops what follows {@link #reusablePrefix}, runs the rest
     * through the model in one step.
     *
     * @return logits [1, vocab] F32 after the last id, owned by the model: valid until its next step
     * @throws io.attnrt.kv.KvCacheExhaustedException when the cache cannot hold the new tokens (the sequence
     *         then holds the common prefix)
     */
    public Tensor extendTo(int[] ids) {
        if (ids == null || ids.length == 0) {
            throw new IllegalArgumentException("extendTo: no tokens");
        }
        int keep = reusablePrefix(ids);
        cache.truncate(seq, keep);
        length = keep;
        return run(Arrays.copyOfRange(ids, keep, ids.length));
    }

    /** Adds one token (the one just drawn) and returns the logits [1, vocab] after it (the model's, valid until its next step). */
    public Tensor append(int token) {
        return run(new int[] {token});
    }

    /** Drops every token, giving the blocks back to the cache. */
    public void clear() {
        cache.truncate(seq, 0);
        length = 0;
    }

    private Tensor run(int[] newTokens) {
        int before = length;
        int[] slots = cache.prepareAppend(new int[] {seq}, new int[] {newTokens.length}).slots();
        Tensor logits;
        try {
            logits = model.extend(new int[] {seq}, new int[][] {newTokens}, slots, cache);
        } catch (RuntimeException | Error e) {
            // The reserved rows may be half written: only what was held before is known.
            cache.truncate(seq, before);
            throw e;
        }
        if (before + newTokens.length > held.length) {
            held = Arrays.copyOf(held, Math.max(2 * held.length, before + newTokens.length));
        }
        System.arraycopy(newTokens, 0, held, before, newTokens.length);
        length = before + newTokens.length;
        return logits;
    }

    /** Frees the sequence's blocks; the cache itself belongs to the caller. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            cache.free(seq);
        }
    }
}
