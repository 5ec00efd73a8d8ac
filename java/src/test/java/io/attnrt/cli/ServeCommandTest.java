package io.attnrt.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code attnrt serve} as a user starts it: the built-in model, a free port, then a stop. */
class ServeCommandTest {
    @Test
    void theBuiltInModelChatsOverHttpAndAFullQueueAnswers429() throws Exception {
        CommandLine cl = AttnrtCli.commandLine();
        StringWriter out = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(new StringWriter(), true));
        ServeCommand serve = cl.getSubcommands().get("serve").getCommand();
        int[] exit = {-1};
        Thread t = new Thread(() -> exit[0] = cl.execute("serve", "--port", "0", "--backend", "cpu"));
        t.start();
        for (int i = 0; i < 3000 && serve.boundPort < 0 && t.isAlive(); i++) {
            Thread.sleep(10);
        }
        assertTrue(serve.boundPort > 0, "the server did not start: " + out);
        try {
            HttpClient http = HttpClient.newHttpClient();
            String base = "http://127.0.0.1:" + serve.boundPort;
            HttpResponse<String> health = http.send(HttpRequest.newBuilder(URI.create(base + "/health")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, health.statusCode());
            HttpResponse<String> chat = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/chat/completions"))
                    .POST(HttpRequest.BodyPublishers.ofString("{\"model\": \"tiny-llama\", \"messages\": "
                            + "[{\"role\": \"user\", \"content\": \"Hi\"}], \"max_tokens\": 5}")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, chat.statusCode(), chat.body());
            assertTrue(chat.body().contains("\"completion_tokens\":5"), chat.body());
            assertTrue(out.toString().contains("serving tiny-llama"), out.toString());
            assertTrue(out.toString().contains("KV cache 4096 tokens"), out.toString());
        } finally {
            serve.stop();
            t.join(30_000);
        }
        assertEquals(0, exit[0]);

        // No room to wait: every request is turned away with 429 and a Retry-After.
        CommandLine full = AttnrtCli.commandLine();
        full.setOut(new PrintWriter(new StringWriter(), true));
        ServeCommand s2 = full.getSubcommands().get("serve").getCommand();
        Thread t2 = new Thread(() -> full.execute("serve", "--port", "0", "--backend", "cpu", "--max-waiting", "0"));
        t2.start();
        for (int i = 0; i < 3000 && s2.boundPort < 0 && t2.isAlive(); i++) {
            Thread.sleep(10);
        }
        try {
            HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(
                    "http://127.0.0.1:" + s2.boundPort + "/v1/completions")).POST(HttpRequest.BodyPublishers.ofString(
                    "{\"prompt\": \"x\"}")).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(429, r.statusCode(), r.body());
            assertEquals("1", r.headers().firstValue("Retry-After").orElse(null));
            assertTrue(r.body().contains("retry later"), r.body());
        } finally {
            s2.stop();
            t2.join(30_000);
        }
    }

    /** A GGUF file serves with its own tokenizer; it has no chat template, so completions only. */
    @Test
    void aGgufFileServesCompletions() throws Exception {
        CommandLine cl = AttnrtCli.commandLine();
        StringWriter out = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        StringWriter err = new StringWriter();
        cl.setErr(new PrintWriter(err, true));
        ServeCommand serve = cl.getSubcommands().get("serve").getCommand();
        int[] exit = {-1};
        Thread t = new Thread(() -> exit[0] = cl.execute("serve", "--port", "0", "--backend", "cpu", "--model",
                "test-data/gguf/tiny-q4_k_m.gguf"));
        t.start();
        for (int i = 0; i < 3000 && serve.boundPort < 0 && t.isAlive(); i++) {
            Thread.sleep(10);
        }
        assertTrue(serve.boundPort > 0, "the server did not start: " + out + err);
        try {
            assertTrue(out.toString().contains("serving tiny-q4_k_m.gguf") && out.toString().contains("completions only"),
                    out.toString());
            HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(
                    "http://127.0.0.1:" + serve.boundPort + "/v1/completions")).POST(HttpRequest.BodyPublishers.ofString(
                    "{\"prompt\": \"Hello\", \"max_tokens\": 8, \"temperature\": 0}")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode(), r.body());
            assertTrue(r.body().contains("\"prompt_tokens\":5") && r.body().contains("\"completion_tokens\":8"), r.body());
        } finally {
            serve.stop();
            t.join(30_000);
        }
        assertEquals(0, exit[0]);
    }

    @Test
    void aBadSizeIsNamed() {
        assertEquals(512L << 20, ServeCommand.parseSize("512MiB"));
        assertEquals(8L << 30, ServeCommand.parseSize("8 GiB"));
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> ServeCommand.parseSize("lots"));
        assertTrue(e.getMessage().contains("'lots'"));
    }
}
