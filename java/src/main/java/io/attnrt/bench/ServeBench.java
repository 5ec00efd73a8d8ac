package io.attnrt.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.attnrt.backend.Backend;
import io.attnrt.kv.PagedKvCache;
import io.attnrt.model.LlamaConfig;
import io.attnrt.model.LlamaModel;
import io.attnrt.model.LlamaWeights;
import io.attnrt.serve.Engine;
import io.attnrt.serve.EngineConfig;
import io.attnrt.serve.OpenAiServer;
import io.attnrt.tensor.DType;
import io.attnrt.text.Tokenizer;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The server under load, measured from its clients: concurrent streaming clients against {@code attnrt
 * serve} on 127.0.0.1 (random weights, prompts as token ids), continuous batching side by side with the same
 * server limited to one sequence at a time; then what chunked prefill does for everyone else's latency
 * while a long prompt is prefilled, and what a prefix-cache hit saves of the time to first token.
 */
public final class ServeBench {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Requests drawn from fixed uniform distributions of prompt and output length, sent by {@code clients} threads. */
    public record Workload(int requests, int clients, int minPrompt, int maxPrompt, int minOut, int maxOut) {
        public String describe() {
            return String.format("%d requests, %d clients, prompt %d-%d, output %d-%d tokens", requests, clients,
                    minPrompt, maxPrompt, minOut, maxOut);
        }
    }

    /** What the clients saw. Latencies in seconds. */
    record Result(double seconds, int requests, long outputTokens, double[] ttft, double[] itl) {
        double tokensPerSecond() {
            return outputTokens / seconds;
        }
    }

    private final Backend backend;
    private final Tokenizer tokenizer;
    private final PrintWriter out;

    /** @param tokenizer the server's (the token ids the bench sends need no text) */
    public ServeBench(Backend backend, Tokenizer tokenizer, PrintWriter out) {
        this.backend = backend;
        this.tokenizer = tokenizer;
        this.out = out;
    }

    /**
     * @param rounds how many times the one-at-a-time and batched runs alternate: on a shared machine the speed
     *               drifts between runs, so the rows reported are those of the round with the median ratio
     */
    public void run(LlamaConfig cfg, Workload w, int rounds, int longPrompt, BenchReport report) {
        try (LlamaWeights weights = LlamaWeights.random(cfg, backend, DType.F32, 42);
             LlamaModel model = new LlamaModel(cfg, weights, backend)) {
            String config = String.format("%.1fM params, %s", cfg.parameterCount() / 1e6, w.describe());
            List<Result[]> pairs = new ArrayList<>();
            for (int r = 0; r < rounds; r++) {
                Result one = load(model, w, 1, 512);
                Result many = load(model, w, w.clients(), 512);
                pairs.add(new Result[] {one, many});
                if (rounds > 1) {
                    out.printf("  round %d: one-at-a-time %.1f, batched %.1f output tokens/s: %.2fx%n", r + 1,
                            one.tokensPerSecond(), many.tokensPerSecond(), ratio(pairs.get(r)));
                }
            }
            List<Result[]> byRatio = new ArrayList<>(pairs);
            byRatio.sort((a, b) -> Double.compare(ratio(a), ratio(b)));
            Result[] median = byRatio.get(byRatio.size() / 2);
            report(report, "one-at-a-time", config, median[0], Double.NaN, null);
            report(report, "batched-" + w.clients(), config, median[1], ratio(median), "one-at-a-time");
            chunkedPrefill(model, w.clients(), longPrompt, report);
            prefixHit(model, longPrompt, report);
        }
    }

    private static double ratio(Result[] pair) {
        return pair[1].tokensPerSecond() / pair[0].tokensPerSecond();
    }

    private void report(BenchReport report, String impl, String config, Result r, double ratio, String versus) {
        report.add(new BenchRow("serve", impl, config, r.seconds(), Double.NaN, Double.NaN, r.tokensPerSecond(),
                Double.NaN, versus, ratio));
        out.printf("  %-16s %5.2f requests/s, %7.1f output tokens/s, TTFT p50 %6.0f ms p99 %6.0f ms, "
                        + "inter-token p50 %5.1f ms p99 %6.1f ms%n", impl, r.requests() / r.seconds(), r.tokensPerSecond(),
                1e3 * pct(r.ttft(), 50), 1e3 * pct(r.ttft(), 99), 1e3 * pct(r.itl(), 50), 1e3 * pct(r.itl(), 99));
        out.flush();
    }

    /** The workload through a server running at most {@code maxNumSeqs} sequences at once. */
    private Result load(LlamaModel model, Workload w, int maxNumSeqs, int budget) {
        SplittableRandom rnd = new SplittableRandom(7);
        int[][] prompts = new int[w.requests()][];
        int[] outs = new int[w.requests()];
        for (int i = 0; i < prompts.length; i++) {
            prompts[i] = randomIds(rnd, model.config(), rnd.nextInt(w.minPrompt(), w.maxPrompt() + 1));
            outs[i] = rnd.nextInt(w.minOut(), w.maxOut() + 1);
        }
        int perSeq = (w.maxPrompt() + w.maxOut()) / 16 + 2;
        try (Server s = new Server(model, maxNumSeqs * perSeq, new EngineConfig(maxNumSeqs, budget, 1024, false))) {
            s.stream(randomIds(rnd, model.config(), 16), 4); // JIT warm-up, untimed
            List<double[]> ttft = Collections.synchronizedList(new ArrayList<>());
            List<double[]> itl = Collections.synchronizedList(new ArrayList<>());
            AtomicInteger next = new AtomicInteger();
            long[] tokens = new long[w.clients()];
            long t0 = System.nanoTime();
            List<Thread> clients = new ArrayList<>();
            for (int c = 0; c < w.clients(); c++) {
                int id = c;
                Thread t = new Thread(() -> {
                    for (int i; (i = next.getAndIncrement()) < prompts.length; ) {
                        Stream r = s.stream(prompts[i], outs[i]);
                        ttft.add(new double[] {r.ttft});
                        itl.add(r.gaps);
                        tokens[id] += r.tokens;
                    }
                });
                t.start();
                clients.add(t);
            }
            join(clients);
            double seconds = (System.nanoTime() - t0) / 1e9;
            return new Result(seconds, prompts.length, Arrays.stream(tokens).sum(), flatten(ttft), flatten(itl));
        }
    }

    /**
     * Clients decoding while one long prompt arrives: with the prompt cut into chunks of the step budget, their
     * next tokens keep coming; in one piece, everyone waits for the whole prefill.
     */
    private void chunkedPrefill(LlamaModel model, int clients, int longPrompt, BenchReport report) {
        SplittableRandom rnd = new SplittableRandom(11);
        int[] big = randomIds(rnd, model.config(), longPrompt);
        for (int budget : new int[] {128, longPrompt + clients}) {
            int perSeq = (longPrompt + 160) / 16 + 2;
            try (Server s = new Server(model, (clients + 1) * perSeq, new EngineConfig(clients + 1, budget, 64, false))) {
                s.stream(randomIds(rnd, model.config(), 16), 4);
                List<double[]> gaps = Collections.synchronizedList(new ArrayList<>());
                List<Thread> threads = new ArrayList<>();
                for (int c = 0; c < clients - 1; c++) {
                    int[] p = randomIds(rnd, model.config(), 8);
                    Thread t = new Thread(() -> gaps.add(s.stream(p, 160).gaps));
                    t.start();
                    threads.add(t);
                }
                sleep(500); // the short requests are decoding
                double[] bigTtft = new double[1];
                Thread t = new Thread(() -> bigTtft[0] = s.stream(big, 1).ttft);
                t.start();
                threads.add(t);
                join(threads);
                double[] all = flatten(gaps);
                String impl = budget == 128 ? "chunked-128" : "unchunked";
                out.printf("  %-16s while a %d-token prompt prefills (its TTFT %.0f ms): the %d decoding clients' "
                                + "inter-token p50 %.1f ms, p99 %.1f ms, max %.0f ms%n", impl, longPrompt, 1e3 * bigTtft[0],
                        clients - 1, 1e3 * pct(all, 50), 1e3 * pct(all, 99), 1e3 * pct(all, 100));
                report.add(new BenchRow("serve-long-prompt", impl, "inter-token p99 of " + (clients - 1)
                        + " decoding clients during a " + longPrompt + "-token prefill", pct(all, 99), Double.NaN,
                        Double.NaN, Double.NaN, Double.NaN, null, Double.NaN));
            }
        }
    }

    /** The same long system prompt twice (then a different question): the second prefill runs only what differs. */
    private void prefixHit(LlamaModel model, int longPrompt, BenchReport report) {
        SplittableRandom rnd = new SplittableRandom(13);
        int[] system = randomIds(rnd, model.config(), longPrompt);
        int perSeq = (longPrompt + 64) / 16 + 2;
        try (Server s = new Server(model, 4 * perSeq, new EngineConfig(4, 4096, 64, true))) {
            s.stream(randomIds(rnd, model.config(), 16), 4);
            double cold = s.stream(concat(system, randomIds(rnd, model.config(), 8)), 1).ttft;
            double warm = s.stream(concat(system, randomIds(rnd, model.config(), 8)), 1).ttft;
            out.printf("  %-16s TTFT of a %d-token shared prefix + 8 tokens: cold %.0f ms, cached %.0f ms "
                    + "(%.0f%% of the prefill time saved)%n", "prefix-cache", longPrompt, 1e3 * cold, 1e3 * warm,
                    100 * (1 - warm / cold));
            report.add(new BenchRow("serve-prefix-cache", "cached", longPrompt + "-token shared prefix + 8 tokens, TTFT",
                    warm, Double.NaN, Double.NaN, Double.NaN, Double.NaN, "cold", cold / warm));
        }
    }

    // ------------------------------------------------------------------------------------------ plumbing

    /** One streamed request as its client saw it. */
    private record Stream(double ttft, double[] gaps, int tokens) {
    }

    /** A server on a free loopback port with a KV pool of its own. */
    private final class Server implements AutoCloseable {
        final PagedKvCache cache;
        final OpenAiServer server;
        final String url;
        final HttpClient http = HttpClient.newHttpClient();

        Server(LlamaModel model, int blocks, EngineConfig cfg) {
            this.cache = model.newCache(16, blocks, backend.activationDType());
            Engine engine = new Engine(model, cache, tokenizer, cfg);
            this.server = new OpenAiServer(engine, tokenizer, null,
                    new OpenAiServer.Options("127.0.0.1", 0, null, 1 << 24, "bench"));
            this.url = "http://127.0.0.1:" + server.start() + "/v1/completions";
        }

        Stream stream(int[] prompt, int maxTokens) {
            String body = "{\"prompt\": " + Arrays.toString(prompt) + ", \"max_tokens\": " + maxTokens
                    + ", \"temperature\": 0, \"stream\": true}";
            HttpRequest req = HttpRequest.newBuilder(URI.create(url)).POST(HttpRequest.BodyPublishers.ofString(body)).build();
            try {
                long sent = System.nanoTime();
                HttpResponse<InputStream> r = http.send(req, HttpResponse.BodyHandlers.ofInputStream());
                if (r.statusCode() != 200) {
                    throw new IllegalStateException("the bench server answered " + r.statusCode() + ": "
                            + new String(r.body().readAllBytes(), StandardCharsets.UTF_8));
                }
                double ttft = Double.NaN;
                List<Double> gaps = new ArrayList<>();
                long last = 0;
                int tokens = 0;
                try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
                    for (String line; (line = in.readLine()) != null; ) {
                        if (!line.startsWith("data: {")) {
                            continue;
                        }
                        JsonNode c = JSON.readTree(line.substring(6)).at("/choices/0");
                        if (!c.path("finish_reason").isNull()) {
                            continue;
                        }
                        long now = System.nanoTime();
                        if (tokens++ == 0) {
                            ttft = (now - sent) / 1e9;
                        } else {
                            gaps.add((now - last) / 1e9);
                        }
                        last = now;
                    }
                }
                return new Stream(ttft, gaps.stream().mapToDouble(Double::doubleValue).toArray(), tokens);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }

        @Override
        public void close() {
            server.close();
            cache.close();
        }
    }

    private static int[] randomIds(SplittableRandom rnd, LlamaConfig cfg, int n) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            p[i] = rnd.nextInt(cfg.vocabSize());
        }
        return p;
    }

    private static int[] concat(int[] a, int[] b) {
        int[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    private static double[] flatten(List<double[]> parts) {
        synchronized (parts) {
            return parts.stream().flatMapToDouble(Arrays::stream).toArray();
        }
    }

    /** The p-th percentile (nearest rank); NaN for no values. */
    static double pct(double[] v, double p) {
        if (v.length == 0) {
            return Double.NaN;
        }
        double[] s = v.clone();
        Arrays.sort(s);
        int rank = (int) Math.ceil(p / 100 * s.length);
        return s[Math.max(0, Math.min(s.length - 1, rank - 1))];
    }

    private static void join(List<Thread> threads) {
        for (Thread t : threads) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
