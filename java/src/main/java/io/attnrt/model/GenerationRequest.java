package io.attnrt.model;

import io.attnrt.backend.SamplingParams;

/**
 * One prompt to continue.
 *
 * @param prompt       token ids, at least one
 * @param maxNewTokens tokens to generate (≥ 0)
 * @param sampling     how to draw each token
 * @param seed         seed of this request's random draws, so results don't depend on batching
 * @param stopToken    generation ends after this token is produced; −1 for none
 */
public record GenerationRequest(int[] prompt, int maxNewTokens, SamplingParams sampling, long seed, int stopToken) {
    public static GenerationRequest greedy(int[] prompt, int maxNewTokens) {
        return new GenerationRequest(prompt, maxNewTokens, SamplingParams.GREEDY, 0, -1);
    }
}
