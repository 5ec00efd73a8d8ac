package io.attnrt.backend;

/**
 * How the next token is drawn from a row of logits. Every backend follows exactly this procedure, so
 * the same logits and the same uniform draw give the same token everywhere:
 *
 * <ol>
 *   <li>temperature ≤ 0: greedy — the index of the largest logit (the lowest index among ties).</li>
 *   <li>otherwise p_i = softmax(logits / temperature).</li>
 *   <li>order the tokens by p descending (ties: lower index first); keep the first topK
 *       (topK ≤ 0 keeps all).</li>
 *   <li>keep the shortest prefix of that order whose cumulative probability reaches
 *       topP · (sum of the kept p) (topP ≥ 1 keeps all; at least one token is always kept).</li>
 *   <li>with u in [0,1) from the caller, return the first kept token whose cumulative probability
 *       exceeds u · (sum of the kept p).</li>
 * </ol>
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
