package io.attnrt.kv;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Automatic prefix caching over a {@link PagedKvCache}, as vLLM does it: every full block a sequence has
 * computed is keyed by a digest of its tokens and of the key of the block before it, so one key names the
 * whole prefix up to that block's end. A new sequence whose first blocks' keys are cached starts with those
 * blocks (shared, reference-counted) and computes only the rest.
 *
 * <p>The cache pins each block it holds; a block nobody else references any more is evicted, least recently
 * used first, only when an append finds too few free blocks ({@link PagedKvCache.BlockReclaimer}).
 *
 * <p>Keys are SHA-256 digests: requests are untrusted, and a forged collision of a weaker hash would hand one
 * client another's cached keys and values.
 *
 * <p>Not thread-safe: the scheduler thread that owns the sequences calls it.
 */
public final class PrefixCache implements PagedKvCache.BlockReclaimer {
    private final PagedKvCache cache;
    private final int blockSize;
    /** Access-ordered: iteration starts at the least recently used entry. */
    private final LinkedHashMap<Key, Integer> blocks = new LinkedHashMap<>(64, 0.75f, true);
    private final MessageDigest sha;

    private record Key(byte[] digest) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Key k && Arrays.equals(digest, k.digest);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(digest);
        }
    }

    /** One sequence's position along its prefix: how many full blocks are keyed, and the last key. */
    public static final class Chain {
        private byte[] last = new byte[0];
        private int blocks;

        /** The same position, for a fork that shares this prefix. */
        public Chain copy() {
            Chain c = new Chain();
            c.last = last;
            c.blocks = blocks;
            return c;
        }

        /** Full blocks this chain has keyed (matched or registered). */
        public int blocks() {
            return blocks;
        }
    }

    public PrefixCache(PagedKvCache cache) {
        this.cache = cache;
        this.blockSize = cache.blockSize();
        try {
            this.sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
        cache.setReclaimer(this);
    }

    /**
     * The blocks of the longest cached prefix of {@code tokens}, covering at most {@code maxTokens} tokens;
     * {@code chain} (fresh) moves past them. Pass them to {@link PagedKvCache#newSequence(int[])}.
     */
    public int[] match(Chain chain, int[] tokens, int maxTokens) {
        int limit = Math.min(maxTokens, tokens.length) / blockSize;
        int[] found = new int[limit];
        int n = 0;
        while (n < limit) {
            byte[] digest = digest(chain.last, tokens, n);
            Integer block = blocks.get(new Key(digest));
            if (block == null) {
                break;
            }
            found[n++] = block;
            chain.last = digest;
            chain.blocks = n;
        }
        return Arrays.copyOf(found, n);
    }

    /** Caches every full block of {@code seq} within its first {@code computed} tokens that is not cached yet. */
    public void register(Chain chain, int seq, int[] tokens, int computed) {
        int full = computed / blockSize;
        if (full <= chain.blocks) {
            return;
        }
        int[] table = cache.blockTable(seq);
        for (int i = chain.blocks; i < full; i++) {
            byte[] digest = digest(chain.last, tokens, i);
            Key key = new Key(digest);
            if (!blocks.containsKey(key)) {
                cache.pin(table[i]);
                blocks.put(key, table[i]);
            }
            chain.last = digest;
            chain.blocks = i + 1;
        }
    }

    @Override
    public int reclaim(int wanted) {
        int freed = 0;
        for (Iterator<Map.Entry<Key, Integer>> it = blocks.entrySet().iterator(); it.hasNext() && freed < wanted; ) {
            int block = it.next().getValue();
            if (cache.refCount(block) == 1) {
                it.remove();
                cache.unpin(block);
                freed++;
            }
        }
        return freed;
    }

    /** Cached blocks only the cache holds: what {@link #reclaim} could free. */
    public int reclaimable() {
        int n = 0;
        for (int block : blocks.values()) {
            if (cache.refCount(block) == 1) {
                n++;
            }
        }
        return n;
    }

    /** Blocks cached. */
    public int size() {
        return blocks.size();
    }

    /** Drops every cached block nobody else references (e.g. when the server stops). */
    public void clear() {
        reclaim(Integer.MAX_VALUE);
    }

    private byte[] digest(byte[] parent, int[] tokens, int block) {
        ByteBuffer buf = ByteBuffer.allocate(4 * blockSize);
        for (int i = block * blockSize; i < (block + 1) * blockSize; i++) {
            buf.putInt(tokens[i]);
        }
        sha.reset();
        sha.update(parent);
        sha.update(buf.array());
        return sha.digest();
    }
}
