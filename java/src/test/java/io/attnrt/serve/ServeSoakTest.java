package io.attnrt.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.attnrt.kv.PagedKvCache;
import io.attnrt.model.LlamaModel;
import io.attnrt.tensor.DType;
import io.attnrt.text.Tokenizer;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * 30 s of concurrent clients that stream, wait for whole answers or hang up mid-stream, against a KV pool
 * small enough to force preemption and prefix-cache eviction: every finished answer is the greedy answer of
 * its prompt, and afterwards no KV block is held and no request thread is left waiting for the engine.
 */
class ServeSoakTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final long SECONDS = 30;

    @Test
    void clientsComeAndGoAndNothingLeaks() throws Exception {
        EngineTest.load();
        try (Tokenizer tokenizer = Tokenizer.load(OpenAiServerTest.CHAT);
             LlamaModel model = new LlamaModel(EngineTest.config, EngineTest.weights, EngineTest.backend);
             PagedKvCache cache = model.newCache(8, 48, DType.F32)) {
            // A shared 40-byte preamble makes the prefix cache hit; 48 blocks of 8 = 384 tokens for up to
            // 8 sequences of ~70 tokens forces preemption.
            String preamble = "You are a terse assistant. Answer now: ";
            List<String> prompts = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                prompts.add(preamble + "question " + i + " " + "why ".repeat(i));
            }
            Engine engine = new Engine(model, cache, tokenizer, new EngineConfig(8, 64, 256, true));
            OpenAiServer server = new OpenAiServer(engine, tokenizer, null,
                    new OpenAiServer.Options("127.0.0.1", 0, null, 1 << 20, "tiny-llama"));
            String base = "http://127.0.0.1:" + server.start();
            HttpClient http = HttpClient.newHttpClient();
            try {
                Map<String, String> expected = new java.util.HashMap<>();
                for (String p : prompts) {
                    expected.put(p, OpenAiServerTest.greedyText(model, tokenizer, tokenizer.encode(p), 24));
                }
                ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
                AtomicInteger completed = new AtomicInteger();
                AtomicInteger abandoned = new AtomicInteger();
                long end = System.nanoTime() + SECONDS * 1_000_000_000L;
                List<Thread> clients = new ArrayList<>();
                for (int c = 0; c < 12; c++) {
                    SplittableRandom r = new SplittableRandom(c);
                    Thread t = new Thread(() -> {
                        while (System.nanoTime() < end && failures.isEmpty()) {
                            String p = prompts.get(r.nextInt(prompts.size()));
                            int mode = r.nextInt(3); // 0 whole, 1 streamed, 2 hang up mid-stream
                            try {
                                String got = request(http, base, p, mode, r.nextInt(1, 8));
                                if (got == null) {
                                    abandoned.incrementAndGet();
                                } else if (!got.equals(expected.get(p))) {
                                    failures.add("'" + p + "' (mode " + mode + "): got '" + got + "', want '"
                                            + expected.get(p) + "'");
                                } else {
                                    completed.incrementAndGet();
                                }
                            } catch (Exception e) {
                                failures.add("'" + p + "': " + e);
                            }
                        }
                    });
                    t.start();
                    clients.add(t);
                }
                for (Thread t : clients) {
                    t.join();
                }
                assertTrue(failures.isEmpty(), failures.size() + " failures, first: " + failures.peek());
                assertTrue(completed.get() > 20 && abandoned.get() > 5, completed + " completed, " + abandoned
                        + " abandoned: too few to have tested anything");
                EngineTest.waitIdle(engine);
                Thread.sleep(500);
                assertEquals(cache.totalBlocks(), cache.freeBlocks() + engine.reclaimableBlocks(),
                        "KV blocks still held after every client left");
                for (Map.Entry<Thread, StackTraceElement[]> e : Thread.getAllStackTraces().entrySet()) {
                    for (StackTraceElement f : e.getValue()) {
                        assertTrue(!f.getClassName().contains("OpenAiServer$Events"), e.getKey().getName()
                                + " still waits for engine events");
                    }
                }
                assertTrue(engine.preemptions() > 0, "the pool never ran out: the soak did not test preemption");
                System.out.printf("soak: %d answers checked, %d clients hung up, %d preemptions in %d s%n",
                        completed.get(), abandoned.get(), engine.preemptions(), SECONDS);
            } finally {
                server.close();
            }
            cache.checkInvariants();
        } finally {
            EngineTest.close();
        }
    }

    /** The answer's text, or null when this client hung up on purpose. */
    static String request(HttpClient http, String base, String prompt, int mode, int hangUpAfter) throws Exception {
        String body = "{\"prompt\": " + JSON.writeValueAsString(prompt) + ", \"max_tokens\": 24, \"temperature\": 0"
                + (mode == 0 ? "" : ", \"stream\": true") + "}";
        HttpRequest req = HttpRequest.newBuilder(URI.create(base + "/v1/completions"))
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
        if (mode == 0) {
            HttpResponse<String> r = http.send(req, HttpResponse.BodyHandlers.ofString());
            return JSON.readTree(r.body()).at("/choices/0/text").asText();
        }
        HttpResponse<InputStream> r = http.send(req, HttpResponse.BodyHandlers.ofInputStream());
        StringBuilder text = new StringBuilder();
        try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
            int events = 0;
            for (String line; (line = in.readLine()) != null; ) {
                if (!line.startsWith("data: ")) {
                    continue;
                }
                if (mode == 2 && ++events == hangUpAfter) {
                    return null;
                }
                String data = line.substring(6);
                if (data.equals("[DONE]")) {
                    return text.toString();
                }
                JsonNode chunk = JSON.readTree(data);
                text.append(chunk.at("/choices/0/text").asText(""));
            }
        }
        throw new AssertionError("the stream ended without [DONE]");
    }
}
