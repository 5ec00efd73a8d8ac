package io.attnrt.model;

import io.attnrt.backend.AttentionSpec;
import io.attnrt.backend.Backend;
import io.attnrt.kv.BlockTables;
import io.attnrt.kv.PagedKvCache;
import io.attnrt.backend.Tensor;

/**
 * The attention of one layer for one step: the new tokens' K/V go into the paged cache, then queries
 * attend — over the prompt itself during prefill (flash attention on the contiguous K/V), over the paged
 * cache during decode.
 */
abstract class AttentionStep {
    final Backend backend;
    final PagedKvCache cache;
    final AttentionSpec spec;
    final int[] slots;

    AttentionStep(Backend backend, PagedKvCache cache, AttentionSpec spec, int[] slots) {
        this.backend = backend;
        this.cache = cache;
        this.spec = spec;
        this.slots = slots;
    }

    final void run(int layer, Tensor q, Tensor k, Tensor v, Tensor out) {
        backend.kvAppend(cache.keyCache(layer), cache.valueCache(layer), k, v, slots);
        attend(layer, q, k, v, out);
    }

    abstract void attend(int layer, Tensor q, Tensor k, Tensor v, Tensor out);

    /** Whole prompts of a ragged batch, each sequence starting at position 0. */
    static final class Prefill extends AttentionStep {
        private final int[] seqStarts;

        Prefill(Backend backend, PagedKvCache cache, AttentionSpec spec, int[] slots, int[] seqStarts) {
            super(backend, cache, spec, slots);
            this.seqStarts = seqStarts;
        }

        @Override
        void attend(int layer, Tensor q, Tensor k, Tensor v, Tensor out) {
            backend.attentionPrefill(q, k, v, seqStarts, spec, out, null);
        }
    }

    /**
     * Each new token against everything cached for its sequence up to its own position: one row of the
     * tables per token (decode, or chunks through {@link BlockTables#perToken}).
     */
    static final class Decode extends AttentionStep {
        private final BlockTables tables;

        Decode(Backend backend, PagedKvCache cache, AttentionSpec spec, int[] slots, BlockTables tables) {
            super(backend, cache, spec, slots);
            this.tables = tables;
        }

        @Override
        void attend(int layer, Tensor q, Tensor k, Tensor v, Tensor out) {
            backend.attentionDecode(q, cache.keyCache(layer), cache.valueCache(layer), tables.blockTables(),
                    tables.maxBlocksPerSeq(), tables.contextLens(), spec, out, null);
        }
    }
}
