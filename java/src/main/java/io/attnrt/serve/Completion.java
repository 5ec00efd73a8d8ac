package io.attnrt.serve;

import io.attnrt.backend.SamplingParams;
import java.util.List;

/**
 * One request as the engine runs it: token ids in, {@code n} independent continuations out.
 *
 * @param prompt      token ids, at least one
 * @param maxTokens   tokens to generate per choice, ≥ 1
 * @param sampling    how every token is drawn
 * @param seed        seed of choice 0's random stream; choice i uses {@code seed + i}
 * @param n           choices, ≥ 1; they share the prompt's KV blocks
 * @param stopTokens  ids that end a choice (finish reason {@code stop}); the id's text is not shown
 * @param stopStrings texts that end a choice; neither they nor what follows them is shown
 * @param logprobs    top alternatives to report with each token's log-probability; −1 = no log-probabilities
 */
public record Completion(int[] prompt, int maxTokens, SamplingParams sampling, long seed, int n, int[] stopTokens,
                         List<String> stopStrings, int logprobs) {
    public Completion {
        prompt = prompt.clone();
        stopTokens = stopTokens == null ? new int[0] : stopTokens.clone();
        stopStrings = stopStrings == null ? List.of() : List.copyOf(stopStrings);
    }

    boolean stopsAt(int token) {
        for (int s : stopTokens) {
            if (s == token) {
                return true;
            }
        }
        return false;
    }
}
