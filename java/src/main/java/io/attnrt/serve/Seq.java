package io.attnrt.serve;

import io.attnrt.kv.PrefixCache;
import io.attnrt.text.StopStrings;
import io.attnrt.text.TextStream;
import io.attnrt.text.Tokenizer;
import java.util.Arrays;
import java.util.SplittableRandom;

/** One choice: its tokens (prompt, then generated), how many are in the cache, its decoding state. */
final class Seq {
    final Job job;
    final int choice;
    final SplittableRandom random;
    final TextStream text;
    final StopStrings stops;
    int[] tokens;
    int len;
    int computed;
    int generated;
    int cacheSeq = -1;
    long admittedAt;
    long lastTokenNanos;
    PrefixCache.Chain chain;
    boolean finished;

    Seq(Job job, int choice, Tokenizer tokenizer) {
        this.job = job;
        this.choice = choice;
        int[] prompt = job.completion.prompt();
        this.tokens = Arrays.copyOf(prompt, prompt.length + Math.min(job.completion.maxTokens(), 1024));
        this.len = prompt.length;
        this.random = new SplittableRandom(job.completion.seed() + choice);
        this.text = tokenizer == null ? null : tokenizer.stream(prompt);
        this.stops = new StopStrings(job.completion.stopStrings());
    }

    int promptEnd() {
        return job.completion.prompt().length;
    }

    /** Sequences admitting this one brings into the running batch (with its choices not forked yet). */
    int groupSize() {
        return unforked() ? job.seqs.length : 1;
    }

    /** Choice 0 before its prompt is cached: the other choices wait for it to fork. */
    boolean unforked() {
        return choice == 0 && generated == 0;
    }

    void append(int token) {
        if (len == tokens.length) {
            tokens = Arrays.copyOf(tokens, 2 * tokens.length);
        }
        tokens[len++] = token;
        generated++;
    }
}
