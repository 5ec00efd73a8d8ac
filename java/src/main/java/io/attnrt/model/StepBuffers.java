package io.attnrt.model;

import io.attnrt.backend.Backend;
import io.attnrt.tensor.DType;
import io.attnrt.backend.Tensor;

/**
 * Every buffer of one forward step over T token rows and R logit rows, named in one place, in the backend's
 * activation dtype (the logits in F32). The layers reuse them in turn; the model keeps one set and
 * reallocates only when T or R changes, so a run of decode steps of one batch size allocates nothing.
 *
 * <pre>
 *  x      [T, hidden]        residual stream (the output projections accumulate into it)
 *  xNorm  [T, hidden]        RMSNorm(x), input of the projections
 *  q      [T, heads·d]       queries   (RoPE applied in place)
 *  k, v   [T, kvHeads·d]     keys and values of the new tokens (written into the paged cache)
 *  attn   [T, heads·d]       attention output
 *  gateUp [T, 2·intermediate] the fused gate|up projection: gate columns, then up columns
 *  act    [T, intermediate]  silu(gate)·up, input of the down projection
 *  last   [R, hidden]        the rows of x whose logits are wanted, then their final RMSNorm
 *  logits [R, vocab]         F32, what the step returns
 * </pre>
 */
final class StepBuffers implements AutoCloseable {
    final int tokens;
    final int logitRows;
    final Tensor x;
    final Tensor xNorm;
    final Tensor q;
    final Tensor k;
    final Tensor v;
    final Tensor attn;
    final Tensor gateUp;
    final Tensor act;
    final Tensor last;
    final Tensor logits;

    StepBuffers(Backend backend, LlamaConfig cfg, int tokens, int logitRows) {
        this.tokens = tokens;
        this.logitRows = logitRows;
        int hidden = cfg.hiddenSize();
        int qWidth = cfg.numAttentionHeads() * cfg.headDim();
        int kvWidth = cfg.numKeyValueHeads() * cfg.headDim();
        DType dtype = backend.activationDType();
        x = backend.allocate(dtype, tokens, hidden);
        xNorm = backend.allocate(dtype, tokens, hidden);
        q = backend.allocate(dtype, tokens, qWidth);
        k = backend.allocate(dtype, tokens, kvWidth);
        v = backend.allocate(dtype, tokens, kvWidth);
        attn = backend.allocate(dtype, tokens, qWidth);
        gateUp = backend.allocate(dtype, tokens, 2 * cfg.intermediateSize());
        act = backend.allocate(dtype, tokens, cfg.intermediateSize());
        last = backend.allocate(dtype, logitRows, hidden);
        logits = backend.allocate(DType.F32, logitRows, cfg.vocabSize());
    }

    /** Whether these buffers serve a step of this shape (and the caller has not closed the logits). */
    boolean fits(int tokens, int logitRows) {
        return this.tokens == tokens && this.logitRows == logitRows && !logits.isFreed();
    }

    @Override
    public void close() {
        for (Tensor t : new Tensor[] {x, xNorm, q, k, v, attn, gateUp, act, last, logits}) {
            t.close();
        }
    }
}
