package io.attnrt.model;

import io.attnrt.backend.Backend;
import io.attnrt.backend.RopeSpec;
import io.attnrt.backend.Tensor;

/** One pre-norm Llama decoder layer. {@link #forward} reads like the block diagram. */
final class TransformerBlock {
    /** The output projections add into the residual stream: the residual adds are fused away. */
    private static final boolean ACCUMULATE = true;

    private final int layer;
    private final LayerWeights w;
    private final Backend backend;
    private final float eps;
    private final int heads;
    private final int kvHeads;
    private final int headDim;
    private final RopeSpec rope;

    TransformerBlock(int layer, LayerWeights weights, Backend backend, LlamaConfig cfg, RopeSpec rope) {
        this.layer = layer;
        this.w = weights;
        this.backend = backend;
        this.eps = (float) cfg.rmsNormEps();
        this.heads = cfg.numAttentionHeads();
        this.kvHeads = cfg.numKeyValueHeads();
        this.headDim = cfg.headDim();
        this.rope = rope;
    }

    /** Updates the residual stream {@code b.x} of tokens at {@code positions} in place. */
    void forward(StepBuffers b, int[] positions, AttentionStep attention) {
        // x → RMSNorm → Q, K, V (+ bias) → [per-head RMSNorm(Q, K)] → RoPE(Q, K) → attention → O projection → x += ·
        backend.rmsNorm(b.x, w.attnNorm(), eps, b.xNorm);
        project(b.xNorm, w.wq(), w.bq(), b.q, false);
        project(b.xNorm, w.wk(), w.bk(), b.k, false);
        project(b.xNorm, w.wv(), w.bv(), b.v, false);
        if (w.qNorm() != null) {
            backend.rmsNormHeads(b.q, w.qNorm(), eps);
            backend.rmsNormHeads(b.k, w.kNorm(), eps);
        }
        backend.ropeQK(b.q, b.k, positions, heads, kvHeads, headDim, rope);
        attention.run(layer, b.q, b.k, b.v, b.attn);
        project(b.attn, w.wo(), w.bo(), b.x, ACCUMULATE);

        // x → RMSNorm → [gate | up](·) → down(silu(gate) · up) → x += ·
        backend.rmsNorm(b.x, w.mlpNorm(), eps, b.xNorm);
        backend.linear(b.xNorm, w.wGateUp(), b.gateUp);
        backend.swiglu(b.gateUp, b.act);
        backend.linear(b.act, w.wDown(), b.x, ACCUMULATE);
    }

    /** out (+)= x·Wᵀ (+ bias, for the families that have one). */
    private void project(Tensor x, Tensor weight, Tensor bias, Tensor out, boolean accumulate) {
        backend.linear(x, weight, out, accumulate);
        if (bias != null) {
            backend.addBias(out, bias);
        }
    }
}
