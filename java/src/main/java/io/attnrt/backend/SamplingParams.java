package io.attnrt.backend;

/**
 * How the next token is drawn from a row of logits l_0 … l_{V-1}. Every backend follows exactly this
 * procedure, so the same logits and the same uniform draw give the same token everywhere:
 *
 * <ol>
 *   <li>temperature ≤ 0: greedy — the index of the largest logit (the lowest index among ties).</li>
 *   <li>otherwise, with T = temperature and m = the largest logit: the weight of token i is
 *       w_i = exp(l_i / T − m / T), each quotient and difference in double, {@code Math.exp}. This is
 *       softmax(l / T) without its normalisation, which no later step depends on (each compares running
 *       weight with a fraction of a kept sum); the largest weight is exactly 1, so no sum below is 0.</li>
 *   <li>order the tokens by logit descending, lower index first among ties (−0 and +0 are equal);
 *       keep the first K = topK of that order (topK ≤ 0 or ≥ V keeps all). w does not increase along
 *       the order, so this is the order by probability (distinct logits of equal weight, e.g. both
 *       underflowing to 0, go by logit). S = the sum of the kept w, added in ascending index order.</li>
 *   <li>topP &lt; 1 (topP = 1 skips this step): with c_j = w of the first token of the order + … + w of
 *       the j-th, added along the order, keep the first n tokens, n the smallest j with c_j ≥ topP · S
 *       (n = K if no j reaches it), and let S = c_n.</li>
 *   <li>with u in [0,1) from the caller, return the first kept token, the j-th, whose c_j (the same
 *       running sums) exceeds u · S; if none does (u · S above the running sums by rounding, possible
 *       only when step 4 was skipped), the last kept token with w &gt; 0.</li>
 * </ol>
 *
 * Every sum starts at 0 and adds one double at a time, in the order stated; topP is widened from float.
 * A backend therefore needs exps only of the K kept tokens when top-k applies, and the order only of the
 * prefix it walks. A row with temperature &gt; 0 and a NaN logit, a +∞ logit or only −∞ logits has no
 * distribution: the result is token 0.
 */
public record SamplingParams(float temperature, int topK, float topP) {
    public static final SamplingParams GREEDY = new SamplingParams(0f, 0, 1f);

    public SamplingParams {
        if (Float.isNaN(temperature) || temperature < 0 || Float.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be finite and >= 0, got " + temperature);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("top-k must be >= 0 (0 = off), got " + topK);
        }
        if (!(topP > 0f && topP <= 1f)) {
            throw new IllegalArgumentException("top-p must be in (0, 1], got " + topP);
        }
    }

    public boolean greedy() {
        return temperature <= 0f;
    }
}
