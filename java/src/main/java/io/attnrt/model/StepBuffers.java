package io.attnrt.model;

import io.attnrt.backend.Backend;
import io.attnrt.tensor.DType;
import io.attnrt.backend.Tensor;

/**
 * Every activation buffer of one forward step over T token rows, named in one place, in the backend's
 * activation dtype. The layers reuse
 * them in turn; the model keeps one set and reallocates only when T changes.
 *
 * <pre>
 *  x      [T, hidden]        residual stream (the output projections accumulate into it)
 *  xNorm  [T, hidden]        RMSNorm(x), input of the projections
 *  q      [T, heads·d]       queries   (RoPE applied in place)
 *  k, v   [T, kvHeads·d]     keys and values of the new tokens (written into the paged cache)
 *  attn   [T, heads·d]       attention output
 *  gate   [T, intermediate]  gate projection, then silu(gate)·up in place
 *  up     [T, intermediate]  up projection
 * </pre>
 */
final class StepBuffers implements AutoCloseable {
    final int tokens;
    final Tensor x;
    final Tensor xNorm;
    final Tensor q;
    final Tensor k;
    final Tensor v;
    final Tensor attn;
    final Tensor gate;
    final Tensor up;

    StepBuffers(Backend backend, LlamaConfig cfg, int tokens) {
        this.tokens = tokens;
        int hidden = cfg.hiddenSize();
        int qWidth = cfg.numAttentionHeads() * cfg.headDim();
        int kvWidth = cfg.numKeyValueHeads() * cfg.headDim();
        DType act = backend.activationDType();
        x = backend.allocate(act, tokens, hidden);
        xNorm = backend.allocate(act, tokens, hidden);
        q = backend.allocate(act, tokens, qWidth);
        k = backend.allocate(act, tokens, kvWidth);
        v = backend.allocate(act, tokens, kvWidth);
        attn = backend.allocate(act, tokens, qWidth);
        gate = backend.allocate(act, tokens, cfg.intermediateSize());
        up = backend.allocate(act, tokens, cfg.intermediateSize());
    }

    @Override
    public void close() {
        for (Tensor t : new Tensor[] {x, xNorm, q, k, v, attn, gate, up}) {
            t.close();
        }
    }
}
