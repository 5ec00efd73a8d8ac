package io.attnrt.serve;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.function.DoubleSupplier;

/** The server's Prometheus metrics, in a registry of its own (one per engine). */
final class ServerMetrics {
    private final PrometheusRegistry registry = new PrometheusRegistry();
    final Counter promptTokens = Counter.builder().name("attnrt_prompt_tokens_total")
            .help("Prompt tokens of admitted requests (cached ones included)").register(registry);
    final Counter computedPromptTokens = Counter.builder().name("attnrt_prompt_tokens_computed_total")
            .help("Prompt tokens run through the model: prefix-cache hits excluded, counted again when a "
                    + "preempted sequence is recomputed").register(registry);
    final Counter generationTokens = Counter.builder().name("attnrt_generation_tokens_total")
            .help("Tokens generated").register(registry);
    final Counter prefixQueries = Counter.builder().name("attnrt_prefix_cache_queries_total")
            .help("Prompt tokens looked up in the prefix cache").register(registry);
    final Counter prefixHits = Counter.builder().name("attnrt_prefix_cache_hits_total")
            .help("Prompt tokens found in the prefix cache").register(registry);
    final Counter preemptions = Counter.builder().name("attnrt_preemptions_total")
            .help("Sequences preempted (KV blocks freed, recomputed later) because the KV pool ran out")
            .register(registry);
    final Counter requests = Counter.builder().name("attnrt_requests_finished_total")
            .help("Choices finished, by reason").labelNames("finish_reason").register(registry);
    final Histogram timeToFirstToken = Histogram.builder().name("attnrt_time_to_first_token_seconds")
            .help("From a request's arrival to its first generated token")
            .classicUpperBounds(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60).register(registry);
    final Histogram interTokenLatency = Histogram.builder().name("attnrt_inter_token_latency_seconds")
            .help("Between consecutive tokens of one choice")
            .classicUpperBounds(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5).register(registry);
    private final TokenRate rate = new TokenRate();

    ServerMetrics(DoubleSupplier running, DoubleSupplier waiting, DoubleSupplier blocksUsed, DoubleSupplier blocksFree) {
        gauge("attnrt_requests_running", "Sequences (choices) in the running batch", running);
        gauge("attnrt_requests_waiting", "Requests and preempted sequences waiting to be scheduled", waiting);
        gauge("attnrt_kv_blocks_used", "KV cache blocks held by sequences or the prefix cache", blocksUsed);
        gauge("attnrt_kv_blocks_free", "KV cache blocks free", blocksFree);
        gauge("attnrt_prefix_cache_hit_rate", "Prefix-cache hits over lookups, in prompt tokens, since start",
                () -> prefixQueries.get() == 0 ? 0 : prefixHits.get() / prefixQueries.get());
        gauge("attnrt_generation_tokens_per_second", "Generated tokens per second over the last 10 s", rate::perSecond);
    }

    private void gauge(String name, String help, DoubleSupplier value) {
        GaugeWithCallback.builder().name(name).help(help).callback(cb -> cb.call(value.getAsDouble())).register(registry);
    }

    void generated(int tokens) {
        generationTokens.inc(tokens);
        rate.add(tokens);
    }

    /** The Prometheus text exposition format. */
    String scrape() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            PrometheusTextFormatWriter.create().write(out, registry.scrape());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    /** Tokens per second over a sliding window of ten one-second buckets. */
    private static final class TokenRate {
        private final long[] counts = new long[10];
        private final long[] seconds = new long[10];

        synchronized void add(int tokens) {
            long now = System.nanoTime() / 1_000_000_000L;
            int i = (int) (now % counts.length);
            if (seconds[i] != now) {
                seconds[i] = now;
                counts[i] = 0;
            }
            counts[i] += tokens;
        }

        synchronized double perSecond() {
            long now = System.nanoTime() / 1_000_000_000L;
            long sum = 0;
            for (int i = 0; i < counts.length; i++) {
                if (now - seconds[i] < counts.length) {
                    sum += counts[i];
                }
            }
            return sum / (double) counts.length;
        }
    }
}
