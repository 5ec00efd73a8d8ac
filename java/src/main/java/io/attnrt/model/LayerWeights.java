package io.attnrt.model;

import io.attnrt.backend.Tensor;

/**
 * The weights of one decoder layer, in the Hugging Face nn.Linear layout [out_features, in_features].
 *
 * @param attnNorm [hidden] input_layernorm
 * @param wq       [heads·headDim, hidden]
 * @param wk       [kvHeads·headDim, hidden]
 * @param wv       [kvHeads·headDim, hidden]
 * @param wo       [hidden, heads·headDim]
 * @param mlpNorm  [hidden] post_attention_layernorm
 * @param wGateUp  [2·intermediate, hidden] gate_proj rows, then up_proj rows: one GEMM feeds SwiGLU
 * @param wDown    [hidden, intermediate]
 * @param bq       [heads·headDim] q_proj bias, or null
 * @param bk       [kvHeads·headDim] k_proj bias, or null
 * @param bv       [kvHeads·headDim] v_proj bias, or null
 * @param bo       [hidden] o_proj bias, or null
 * @param qNorm    [headDim] q_norm (per-head RMSNorm weight before RoPE), or null
 * @param kNorm    [headDim] k_norm, or null
 */
public record LayerWeights(Tensor attnNorm, Tensor wq, Tensor wk, Tensor wv, Tensor wo, Tensor mlpNorm,
                           Tensor wGateUp, Tensor wDown, Tensor bq, Tensor bk, Tensor bv, Tensor bo,
                           Tensor qNorm, Tensor kNorm) {
}
