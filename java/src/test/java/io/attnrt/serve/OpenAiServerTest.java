package io.attnrt.serve;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.attnrt.backend.SamplingParams;
import io.attnrt.kv.PagedKvCache;
import io.attnrt.model.GenerationRequest;
import io.attnrt.model.Generator;
import io.attnrt.model.LlamaModel;
import io.attnrt.tensor.DType;
import io.attnrt.text.ChatTemplate;
import io.attnrt.text.Tokenizer;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The HTTP API through the JDK's HttpClient against a server on a free loopback port, serving the tiny
 * model with the built-in chat files (byte tokenizer, {@code <|role|>} template) on the cpu backend.
 */
class OpenAiServerTest {
    static final Path CHAT = Path.of("test-data", "tiny-llama-chat");
    static final ObjectMapper JSON = new ObjectMapper();
    static final String KEY = "sk-test-key";
    static Tokenizer tokenizer;
    static ChatTemplate template;
    static LlamaModel model;
    static PagedKvCache cache;
    static OpenAiServer server;
    static String base;
    static final HttpClient http = HttpClient.newHttpClient();

    @BeforeAll
    static void start() {
        EngineTest.load();
        tokenizer = Tokenizer.load(CHAT);
        template = ChatTemplate.fromModelDir(CHAT);
        model = new LlamaModel(EngineTest.config, EngineTest.weights, EngineTest.backend);
        cache = model.newCache(16, 256, DType.F32);
        Engine engine = new Engine(model, cache, tokenizer, new EngineConfig(8, 128, 64, true));
        server = new OpenAiServer(engine, tokenizer, template, new OpenAiServer.Options("127.0.0.1", 0, KEY,
                1 << 20, "tiny-llama"));
        base = "http://127.0.0.1:" + server.start();
    }

    @AfterAll
    static void stop() {
        server.close();
        cache.close();
        model.close();
        tokenizer.close();
        EngineTest.close();
    }

    record Reply(int status, JsonNode json, String body) {
    }

    static Reply post(String path, String body) throws Exception {
        return post(path, body, "Bearer " + KEY);
    }

    static Reply post(String path, String body, String auth) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body));
        if (auth != null) {
            b.header("Authorization", auth);
        }
        HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        JsonNode json = null;
        try {
            json = JSON.readTree(r.body());
        } catch (Exception e) {
            // not JSON: an SSE stream or a bug the assertions report
        }
        return new Reply(r.statusCode(), json, r.body());
    }

    static Reply get(String path) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + path)).header("Authorization",
                "Bearer " + KEY).build(), HttpResponse.BodyHandlers.ofString());
        JsonNode json = null;
        try {
            json = JSON.readTree(r.body());
        } catch (Exception e) {
            // text
        }
        return new Reply(r.statusCode(), json, r.body());
    }

    /** The data payloads of an SSE body, [DONE] included. */
    static List<String> events(String body) {
        List<String> out = new ArrayList<>();
        for (String line : body.split("\n")) {
            if (line.startsWith("data: ")) {
                out.add(line.substring(6));
            }
        }
        return out;
    }

    /** What `attnrt run` generates for these ids: the plain Generator, greedy. */
    static String greedyText(int[] prompt, int maxTokens) {
        return greedyText(model, tokenizer, prompt, maxTokens);
    }

    static String greedyText(LlamaModel model, Tokenizer tokenizer, int[] prompt, int maxTokens) {
        try (PagedKvCache c = model.newCache(16, 64, DType.F32)) {
            int[] ids = new Generator(model, c).generate(List.of(new GenerationRequest(prompt, maxTokens,
                    SamplingParams.GREEDY, 0, tokenizer.stopTokenIds()))).get(0).generated();
            return tokenizer.decode(ids, true);
        }
    }

    static int[] chatIds(String system, String user) {
        return tokenizer.encode(template.render(List.of(new ChatTemplate.Message("system", system),
                new ChatTemplate.Message("user", user)), true), false);
    }

    static final String CHAT_BODY = "{\"model\": \"tiny-llama\", \"messages\": [{\"role\": \"system\", \"content\": "
            + "\"Be brief.\"}, {\"role\": \"user\", \"content\": \"Hello there\"}], \"max_tokens\": 12, \"temperature\": 0";

    @Test
    void chatCompletionEqualsTheGreedyRunOfItsRenderedPrompt() throws Exception {
        Reply r = post("/v1/chat/completions", CHAT_BODY + "}");
        assertEquals(200, r.status(), r.body());
        int[] ids = chatIds("Be brief.", "Hello there");
        assertEquals(greedyText(ids, 12), r.json().at("/choices/0/message/content").asText());
        assertEquals("assistant", r.json().at("/choices/0/message/role").asText());
        assertEquals("length", r.json().at("/choices/0/finish_reason").asText());
        assertEquals("chat.completion", r.json().get("object").asText());
        assertEquals(ids.length, r.json().at("/usage/prompt_tokens").asInt());
        assertEquals(12, r.json().at("/usage/completion_tokens").asInt());
        assertEquals(ids.length + 12, r.json().at("/usage/total_tokens").asInt());
    }

    @Test
    void aStreamedChatSaysTheSameInChunksThenUsageThenDone() throws Exception {
        Reply whole = post("/v1/chat/completions", CHAT_BODY + "}");
        Reply r = post("/v1/chat/completions", CHAT_BODY + ", \"stream\": true, \"stream_options\": {\"include_usage\": true}}");
        assertEquals(200, r.status(), r.body());
        List<String> ev = events(r.body());
        assertEquals("[DONE]", ev.get(ev.size() - 1));
        StringBuilder text = new StringBuilder();
        String reason = null;
        for (String e : ev.subList(0, ev.size() - 2)) {
            JsonNode chunk = JSON.readTree(e);
            assertEquals("chat.completion.chunk", chunk.get("object").asText());
            assertTrue(chunk.get("usage").isNull(), "usage before the last chunk: " + e);
            JsonNode c = chunk.at("/choices/0");
            text.append(c.at("/delta/content").asText(""));
            if (!c.get("finish_reason").isNull()) {
                reason = c.get("finish_reason").asText();
            }
        }
        assertEquals(whole.json().at("/choices/0/message/content").asText(), text.toString());
        assertEquals("length", reason);
        JsonNode usage = JSON.readTree(ev.get(ev.size() - 2));
        assertEquals(0, usage.get("choices").size());
        assertEquals(12, usage.at("/usage/completion_tokens").asInt());
    }

    @Test
    void completionsTakeTextOrTokenIdsAndStopAtAStopString() throws Exception {
        String prompt = "Once upon a time";
        int[] ids = tokenizer.encode(prompt);
        String expected = greedyText(ids, 16);
        Reply text = post("/v1/completions", "{\"prompt\": \"" + prompt + "\", \"max_tokens\": 16, \"temperature\": 0}");
        assertEquals(200, text.status(), text.body());
        assertEquals(expected, text.json().at("/choices/0/text").asText());
        Reply byIds = post("/v1/completions", "{\"prompt\": " + java.util.Arrays.toString(ids)
                + ", \"max_tokens\": 16, \"temperature\": 0}");
        assertEquals(expected, byIds.json().at("/choices/0/text").asText());
        // A stop string from the middle of the greedy text: the answer ends just before it.
        int at = 3;
        while (at < expected.length() && !Character.isLetterOrDigit(expected.charAt(at))) {
            at++;
        }
        assertTrue(at < expected.length(), "no letter in the greedy text '" + expected + "'");
        String stop = expected.substring(at, at + 1);
        int cut = expected.indexOf(stop);
        Reply stopped = post("/v1/completions", "{\"prompt\": \"" + prompt + "\", \"max_tokens\": 16, \"temperature\": 0, "
                + "\"stop\": [" + JSON.writeValueAsString(stop) + "]}");
        assertEquals(expected.substring(0, cut), stopped.json().at("/choices/0/text").asText());
        assertEquals("stop", stopped.json().at("/choices/0/finish_reason").asText());
    }

    @Test
    void severalChoicesWithASeedAreReproducibleAndDiffer() throws Exception {
        String body = "{\"prompt\": \"abc\", \"max_tokens\": 10, \"temperature\": 1.0, \"n\": 3, \"seed\": 7}";
        Reply a = post("/v1/completions", body);
        Reply b = post("/v1/completions", body);
        assertEquals(200, a.status(), a.body());
        assertEquals(3, a.json().get("choices").size());
        for (int i = 0; i < 3; i++) {
            assertEquals(a.json().at("/choices/" + i + "/text"), b.json().at("/choices/" + i + "/text"), "choice " + i);
        }
        assertNotEquals(a.json().at("/choices/0/text"), a.json().at("/choices/1/text"));
        assertEquals(30, a.json().at("/usage/completion_tokens").asInt());
    }

    @Test
    void logprobsListTheTopAlternativesWithTheGreedyTokenFirst() throws Exception {
        Reply r = post("/v1/chat/completions", CHAT_BODY + ", \"logprobs\": true, \"top_logprobs\": 3}");
        assertEquals(200, r.status(), r.body());
        JsonNode content = r.json().at("/choices/0/logprobs/content");
        assertEquals(12, content.size());
        for (JsonNode t : content) {
            assertTrue(t.get("logprob").asDouble() <= 0);
            assertEquals(3, t.get("top_logprobs").size());
            assertEquals(t.get("logprob").asDouble(), t.at("/top_logprobs/0/logprob").asDouble(), 1e-6,
                    "greedy: the drawn token is the most likely");
            double p = 0;
            for (JsonNode alt : t.get("top_logprobs")) {
                p += Math.exp(alt.get("logprob").asDouble());
            }
            assertTrue(p <= 1 + 1e-5, "top probabilities sum past 1: " + p);
        }
    }

    @Test
    void badRequestsGetOpenAiErrorsAndTheServerGoesOn() throws Exception {
        expectError(post("/v1/chat/completions", "{not json"), 400, null, "not valid JSON");
        expectError(post("/v1/chat/completions", "[1, 2]"), 400, null, "JSON object");
        expectError(post("/v1/chat/completions", "{\"messages\": []}"), 400, "messages", "non-empty");
        expectError(post("/v1/chat/completions", "{\"messages\": [{\"role\": \"user\"}]}"), 400,
                "messages[0].content", "required");
        expectError(post("/v1/chat/completions", CHAT_BODY.replace("\"temperature\": 0", "\"temperature\": \"hot\"") + "}"),
                400, "temperature", "must be a number");
        expectError(post("/v1/chat/completions", CHAT_BODY.replace("\"temperature\": 0", "\"temperature\": 5") + "}"),
                400, "temperature", "between 0.0 and 2.0");
        expectError(post("/v1/chat/completions", CHAT_BODY.replace("\"max_tokens\": 12", "\"max_tokens\": -3") + "}"),
                400, "max_tokens", "at least 1");
        expectError(post("/v1/chat/completions", CHAT_BODY + ", \"n\": 99}"), 400, "n", "between 1 and 8");
        expectError(post("/v1/chat/completions", CHAT_BODY.replace("tiny-llama", "gpt-5") + "}"), 404, "model",
                "'gpt-5' does not exist");
        expectError(post("/v1/completions", "{\"prompt\": \"" + "x".repeat(300) + "\"}"), 400, "prompt",
                "maximum context length is 256 tokens");
        expectError(post("/v1/completions", "{\"prompt\": [1, 2, 999]}"), 400, null, "token id 999");
        expectError(post("/v1/completions", "{\"prompt\": \"hi\"}", null), 401, null, "missing API key");
        expectError(post("/v1/completions", "{\"prompt\": \"hi\"}", "Bearer wrong"), 401, null, "incorrect API key");
        expectError(post("/v1/completions", "{\"prompt\": \"" + "x".repeat(100 << 20) + "\"}"), 413, null, "larger than");
        expectError(post("/v1/nothing", "{}"), 404, null, "not found");
        Reply fine = post("/v1/completions", "{\"prompt\": \"still here\", \"max_tokens\": 3}");
        assertEquals(200, fine.status(), fine.body());
    }

    static void expectError(Reply r, int status, String param, String message) {
        assertEquals(status, r.status(), r.body());
        JsonNode e = r.json().get("error");
        assertTrue(e.get("message").asText().contains(message), "message '" + e.get("message").asText()
                + "' lacks '" + message + "'");
        assertTrue(e.hasNonNull("type"), r.body());
        if (param != null) {
            assertEquals(param, e.get("param").asText(), r.body());
        }
        assertTrue(!r.body().contains("Exception") && !r.body().contains("\tat "), "stack trace in " + r.body());
    }

    @Test
    void modelsHealthAndMetricsAnswer() throws Exception {
        Reply models = get("/v1/models");
        assertEquals("tiny-llama", models.json().at("/data/0/id").asText());
        assertEquals(200, get("/health").status());
        post("/v1/completions", "{\"prompt\": \"metrics\", \"max_tokens\": 4}");
        String metrics = get("/metrics").body();
        for (String name : List.of("attnrt_requests_running", "attnrt_requests_waiting", "attnrt_kv_blocks_used",
                "attnrt_kv_blocks_free", "attnrt_prefix_cache_hit_rate", "attnrt_generation_tokens_per_second",
                "attnrt_time_to_first_token_seconds_bucket", "attnrt_inter_token_latency_seconds_bucket")) {
            assertTrue(metrics.contains(name), "no " + name + " in\n" + metrics);
        }
    }

    @Test
    void aClientThatLeavesMidStreamGetsItsBlocksFreed() throws Exception {
        HttpRequest req = HttpRequest.newBuilder(URI.create(base + "/v1/completions"))
                .header("Authorization", "Bearer " + KEY)
                .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\": \"a long one\", \"max_tokens\": 200, "
                        + "\"stream\": true}")).build();
        HttpResponse<InputStream> r = http.send(req, HttpResponse.BodyHandlers.ofInputStream());
        try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
            for (int lines = 0; lines < 6; lines++) {
                in.readLine();
            }
        }
        // The stream is closed after a few tokens; the next write fails and the request is cancelled.
        EngineTest.waitIdle(server.engine());
        assertEquals(cache.totalBlocks(), cache.freeBlocks() + server.engine().reclaimableBlocks(),
                "blocks still held after the client left");
    }
}
