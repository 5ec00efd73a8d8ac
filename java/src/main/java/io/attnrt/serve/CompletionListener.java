package io.attnrt.serve;

/**
 * What the engine reports of one request, in order, from its own thread: tokens of each choice as they are
 * drawn, each choice's end, then the request's end. Implementations hand the events on and return at once;
 * the engine step waits for them.
 */
public interface CompletionListener {
    /** A token of {@code choice} and the text it completes (possibly empty: mid-character, held for a stop). */
    void onToken(int choice, int token, String text, TokenLogprobs logprobs);

    /** {@code choice} ended: {@code reason} is {@code stop} or {@code length}; {@code text} is held-back text. */
    void onFinish(int choice, String reason, String text);

    /** Every choice ended. */
    void onComplete(Usage usage);

    /** The request failed (it never fit the KV pool, or the server stopped); no further events follow. */
    void onError(String message);

    /** Token counts of a request: the prompt once, the tokens of every choice. */
    record Usage(int promptTokens, int completionTokens, int cachedPromptTokens) {
        public int totalTokens() {
            return promptTokens + completionTokens;
        }
    }

    /**
     * The log-probability of the drawn token under the model's distribution (before temperature and
     * truncation, as OpenAI reports it) and the {@code top} most likely ids with theirs.
     */
    record TokenLogprobs(float logprob, int[] topIds, float[] topLogprobs) {
    }
}
