package io.attnrt.model;

import io.attnrt.backend.AttentionSpec;
import io.attnrt.backend.Backend;
import io.attnrt.backend.RopeSpec;
import io.attnrt.kv.BlockTables;
import io.attnrt.kv.PagedKvCache;
import io.attnrt.tensor.DType;
import io.attnrt.backend.Tensor;

/**
 * A Llama-family decoder on one backend: token embedding → N {@link TransformerBlock}s → final RMSNorm →
 * LM head. It computes; {@link Generator} decides which sequences run and owns their KV cache slots.
 *
 * <p>Not thread-safe: one step at a time (the step buffers are reused). The logits a step returns are the
 * model's and are overwritten by the next step; a caller that closes them only costs the next step a fresh
 * allocation.
 */
public final class LlamaModel implements AutoCloseable {
    private final LlamaConfig config;
    private final LlamaWeights weights;
    private final Backend backend;
    private final TransformerBlock[] blocks;
    private final AttentionSpec attentionSpec;
    private StepBuffers buffers;

    public LlamaModel(LlamaConfig config, LlamaWeights weights, Backend backend) {
        this.config = config;
        this.weights = weights;
        this.backend = backend;
        RopeSpec rope = config.ropeSpec();
        this.attentionSpec = config.attentionSpec();
        this.blocks = new TransformerBlock[config.numHiddenLayers()];
        for (int l = 0; l < blocks.length; l++) {
            blocks[l] = new TransformerBlock(l, weights.layer(l), backend, config, rope);
        }
    }

    public LlamaConfig config() {
        return config;
    }

    public Backend backend() {
        return backend;
    }

    /** A paged KV cache shaped for this model on its backend. */
    public PagedKvCache newCache(int blockSize, int numBlocks, DType dtype) {
        return new PagedKvCache(backend, config.numHiddenLayers(), config.numKeyValueHeads(), config.headDim(),
                blockSize, numBlocks, dtype);
    }

    /**
     * Prefills whole prompts (a ragged batch; every sequence starts at position 0), writing their K/V into
     * {@code cache} at {@code slots} (one per prompt token, in order, from {@link PagedKvCache#prepareAppend}).
     *
     * @param allPositions logits for every prompt token instead of only each prompt's last
     * @return logits [rows, vocab] F32, owned by the model: valid until its next step
     */
    public Tensor prefill(int[][] prompts, int[] slots, PagedKvCache cache, boolean allPositions) {
        int[] seqStarts = new int[prompts.length + 1];
        for (int s = 0; s < prompts.length; s++) {
            seqStarts[s + 1] = seqStarts[s] + prompts[s].length;
        }
        int total = seqStarts[prompts.length];
        int[] tokens = new int[total];
        int[] positions = new int[total];
        for (int s = 0; s < prompts.length; s++) {
            System.arraycopy(prompts[s], 0, tokens, seqStarts[s], prompts[s].length);
            for (int i = 0; i < prompts[s].length; i++) {
                positions[seqStarts[s] + i] = i;
            }
        }
        int[] logitRows;
        if (allPositions) {
            logitRows = new int[total];
            for (int i = 0; i < total; i++) {
                logitRows[i] = i;
            }
        } else {
            logitRows = new int[prompts.length];
            for (int s = 0; s < prompts.length; s++) {
                logitRows[s] = seqStarts[s + 1] - 1;
            }
        }
        AttentionStep attention = new AttentionStep.Prefill(backend, cache, attentionSpec, slots, seqStarts);
        return forward(tokens, positions, attention, logitRows);
    }

    /**
     * One new token per sequence. Token b is at {@code positions[b]} and its K/V go to {@code slots[b]};
     * {@code tables} (from {@link PagedKvCache#decodeTables}) already count it in the context lengths.
     *
     * @return logits [B, vocab] F32, owned by the model: valid until its next step
     */
    public Tensor decode(int[] tokens, int[] positions, int[] slots, BlockTables tables, PagedKvCache cache) {
        AttentionStep attention = new AttentionStep.Decode(backend, cache, attentionSpec, slots, tables);
        int[] all = new int[tokens.length];
        for (int i = 0; i < all.length; i++) {
            all[i] = i;
        }
        return forward(tokens, positions, attention, all);
    }

    /**
     * The general step: sequence {@code seqs[b]} adds the tokens {@code newTokens[b]} after what it has
     * cached — a whole prompt, a prompt chunk after earlier chunks or an earlier conversation, or one decode
     * token. {@link PagedKvCache#prepareAppend} has already reserved them (its lengths count them) and
     * {@code slots} are its slots. Every new token attends causally by absolute position to its sequence's
     * cache; when no sequence has anything cached before this step the prompts run as one ragged prefill.
     *
     * @return logits [B, vocab] F32 of each sequence's last new token, owned by the model: valid until its
     *         next step
     */
    public Tensor extend(int[] seqs, int[][] newTokens, int[] slots, PagedKvCache cache) {
        int[] counts = new int[seqs.length];
        boolean fresh = true;
        for (int b = 0; b < seqs.length; b++) {
            counts[b] = newTokens[b].length;
            fresh &= cache.length(seqs[b]) == counts[b];
        }
        if (fresh) {
            return prefill(newTokens, slots, cache, false);
        }
        BlockTables tables = cache.decodeTables(seqs).perToken(counts);
        int total = tables.batchSize();
        int[] tokens = new int[total];
        int[] positions = new int[total];
        int[] logitRows = new int[seqs.length];
        for (int b = 0, r = 0; b < seqs.length; b++) {
            for (int i = 0; i < counts[b]; i++, r++) {
                tokens[r] = newTokens[b][i];
                positions[r] = tables.contextLens()[r] - 1;
            }
            logitRows[b] = r - 1;
        }
        AttentionStep attention = new AttentionStep.Decode(backend, cache, attentionSpec, slots, tables);
        return forward(tokens, positions, attention, logitRows);
    }

    private Tensor forward(int[] tokens, int[] positions, AttentionStep attention, int[] logitRows) {
        validateTokens(tokens, positions);
        StepBuffers b = buffersFor(tokens.length, logitRows.length);
        backend.gatherRows(weights.embedTokens(), tokens, b.x);
        for (TransformerBlock block : blocks) {
            block.forward(b, positions, attention);
        }
        backend.gatherRows(b.x, logitRows, b.last);
        backend.rmsNorm(b.last, weights.finalNorm(), (float) config.rmsNormEps(), b.last);
        backend.linear(b.last, weights.lmHead(), b.logits);
        return b.logits;
    }

    private void validateTokens(int[] tokens, int[] positions) {
        for (int i = 0; i < tokens.length; i++) {
            if (tokens[i] < 0 || tokens[i] >= config.vocabSize()) {
                throw new IllegalArgumentException("token id " + tokens[i] + " at row " + i
                        + " is outside the vocabulary [0, " + config.vocabSize() + ")");
            }
            if (positions[i] >= config.maxPositionEmbeddings()) {
                throw new IllegalArgumentException("position " + positions[i] + " at row " + i
                        + " is beyond the model's context of " + config.maxPositionEmbeddings() + " tokens");
            }
        }
    }

    private StepBuffers buffersFor(int tokens, int logitRows) {
        if (buffers == null || !buffers.fits(tokens, logitRows)) {
            if (buffers != null) {
                buffers.close();
            }
            buffers = new StepBuffers(backend, config, tokens, logitRows);
        }
        return buffers;
    }

    /** Frees the step buffers (the weights belong to the caller). */
    @Override
    public void close() {
        if (buffers != null) {
            buffers.close();
            buffers = null;
        }
    }
}
