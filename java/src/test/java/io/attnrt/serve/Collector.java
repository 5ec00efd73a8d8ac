package io.attnrt.serve;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/** Records what the engine reports of one request. */
class Collector implements CompletionListener {
    final List<List<Integer>> tokens = new ArrayList<>();
    final StringBuilder[] text;
    final String[] reasons;
    volatile Usage usage;
    volatile String error;
    private final CountDownLatch done = new CountDownLatch(1);
    private volatile int count;

    Collector(int n) {
        text = new StringBuilder[n];
        reasons = new String[n];
        for (int i = 0; i < n; i++) {
            tokens.add(new ArrayList<>());
            text[i] = new StringBuilder();
        }
    }

    @Override
    public synchronized void onToken(int choice, int token, String t, TokenLogprobs logprobs) {
        tokens.get(choice).add(token);
        text[choice].append(t);
        count++;
    }

    @Override
    public synchronized void onFinish(int choice, String reason, String t) {
        reasons[choice] = reason;
        text[choice].append(t);
    }

    @Override
    public void onComplete(Usage u) {
        usage = u;
        done.countDown();
    }

    @Override
    public void onError(String message) {
        error = message;
        done.countDown();
    }

    void await() throws InterruptedException {
        if (!done.await(60, TimeUnit.SECONDS)) {
            throw new AssertionError("the request did not finish in 60 s");
        }
    }

    void awaitTokens(int n) throws InterruptedException {
        for (int i = 0; i < 6000 && count < n; i++) {
            Thread.sleep(10);
        }
    }

    synchronized int[] tokens(int choice) {
        return tokens.get(choice).stream().mapToInt(Integer::intValue).toArray();
    }
}
