package io.attnrt.serve;

import java.util.Arrays;

/** Log-probabilities of a logits row: log softmax in double, as OpenAI reports them (no temperature). */
final class Logprobs {
    private Logprobs() {
    }

    static CompletionListener.TokenLogprobs of(float[] logits, int offset, int vocab, int token, int top) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) {
            max = Math.max(max, logits[offset + i]);
        }
        double sum = 0;
        for (int i = 0; i < vocab; i++) {
            sum += Math.exp(logits[offset + i] - max);
        }
        double logZ = max + Math.log(sum);
        int k = Math.min(top, vocab);
        int[] ids = new int[k];
        float[] lps = new float[k];
        // Partial selection: k is at most 20, so k passes over the row beat sorting the vocabulary.
        boolean[] taken = new boolean[vocab];
        for (int j = 0; j < k; j++) {
            int best = -1;
            for (int i = 0; i < vocab; i++) {
                if (!taken[i] && (best < 0 || logits[offset + i] > logits[offset + best])) {
                    best = i;
                }
            }
            taken[best] = true;
            ids[j] = best;
            lps[j] = (float) (logits[offset + best] - logZ);
        }
        return new CompletionListener.TokenLogprobs((float) (logits[offset + token] - logZ), ids,
                Arrays.copyOf(lps, k));
    }
}
