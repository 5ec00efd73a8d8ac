package io.attnrt.serve;

import io.attnrt.text.Tokenizer;

/** A request: its choices and what is counted for its usage. */
final class Job {
    final Completion completion;
    final CompletionListener listener;
    final Seq[] seqs;
    final long arrivalNanos = System.nanoTime();
    volatile boolean cancelled;
    boolean failed;
    long firstTokenNanos;
    int completionTokens;
    int cachedPromptTokens;
    int finishedChoices;

    Job(Completion completion, CompletionListener listener, Tokenizer tokenizer) {
        this.completion = completion;
        this.listener = listener;
        this.seqs = new Seq[completion.n()];
        for (int i = 0; i < seqs.length; i++) {
            seqs[i] = new Seq(this, i, tokenizer);
        }
    }
}
