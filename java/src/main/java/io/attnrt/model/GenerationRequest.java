package io.attnrt.model;

import io.attnrt.backend.SamplingParams;

/**
 * One prompt to continue.
 *
 * @param prompt       token ids, at least one
 * @param maxNewTokens tokens to generate (≥ 0)
 * @param sampling     how to draw each token
 * @param seed         seed of this request's random draws, so results don't depend on batching
 * @param stopTokens   generation ends after any of these tokens is produced (it is kept as the last token)
 */
public record GenerationRequest(int[] prompt, int maxNewTokens, SamplingParams sampling, long seed, int[] stopTokens) {
    public GenerationRequest {
        stopTokens = stopTokens == null ? new int[0] : stopTokens.clone();
    }

    /** One stop token, or none when {@code stopToken} is −1. */
    public GenerationRequest(int[] prompt, int maxNewTokens, SamplingParams sampling, long seed, int stopToken) {
        this(prompt, maxNewTokens, sampling, seed, stopToken < 0 ? new int[0] : new int[] {stopToken});
    }

    public static GenerationRequest greedy(int[] prompt, int maxNewTokens) {
        return new GenerationRequest(prompt, maxNewTokens, SamplingParams.GREEDY, 0, -1);
    }

    /** Whether {@code token} ends this request. */
    public boolean stopsAt(int token) {
        for (int s : stopTokens) {
            if (s == token) {
                return true;
            }
        }
        return false;
    }
}
