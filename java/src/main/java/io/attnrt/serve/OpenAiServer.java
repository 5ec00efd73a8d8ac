package io.attnrt.serve;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.attnrt.text.ChatTemplate;
import io.attnrt.text.Tokenizer;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * OpenAI's HTTP API over an {@link Engine}: {@code POST /v1/chat/completions}, {@code POST /v1/completions}
 * (streamed as Server-Sent Events or not), {@code GET /v1/models}, {@code /health}, {@code /metrics}.
 * Every failure is answered as OpenAI answers it — {@code {"error": {...}}} with the HTTP status — and never
 * with a stack trace.
 */
public final class OpenAiServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(OpenAiServer.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * @param apiKey          when non-null, {@code /v1} requests must carry {@code Authorization: Bearer KEY}
     * @param maxRequestBytes larger bodies are refused (HTTP 413) before they are read
     */
    public record Options(String host, int port, String apiKey, long maxRequestBytes, String modelName) {
    }

    private final Engine engine;
    private final Tokenizer tokenizer;
    private final ChatTemplate template;
    private final Options options;
    private final int[] stopTokens;
    private final long created = System.currentTimeMillis() / 1000;
    private final SecureRandom random = new SecureRandom();
    private Javalin app;

    /** @param template the model's chat template; null = chat completions are refused */
    public OpenAiServer(Engine engine, Tokenizer tokenizer, ChatTemplate template, Options options) {
        this.engine = engine;
        this.tokenizer = tokenizer;
        this.template = template;
        this.options = options;
        this.stopTokens = tokenizer.stopTokenIds();
    }

    public Engine engine() {
        return engine;
    }

    /** Starts listening; returns the port (the one chosen when {@link Options#port} is 0). */
    public int start() {
        app = Javalin.create(cfg -> {
            cfg.showJavalinBanner = false;
            cfg.http.maxRequestSize = options.maxRequestBytes();
        });
        app.before(this::checkSizeAndKey);
        app.post("/v1/chat/completions", ctx -> complete(ctx, true));
        app.post("/v1/completions", ctx -> complete(ctx, false));
        app.get("/v1/models", this::models);
        app.get("/health", ctx -> ctx.contentType("application/json").result("{\"status\":\"ok\"}"));
        app.get("/metrics", ctx -> ctx.contentType("text/plain; version=0.0.4; charset=utf-8").result(engine.metricsText()));
        app.exception(ApiException.class, (e, ctx) -> error(ctx, e));
        // Javalin's own refusals (no such route, body too large) in OpenAI's shape too.
        app.exception(HttpResponseException.class, (e, ctx) -> error(ctx, new ApiException(e.getStatus(),
                e.getStatus() < 500 ? "invalid_request_error" : "server_error", null, null, e.getMessage())));
        app.exception(Exception.class, (e, ctx) -> {
            LOG.error("{} {} failed", ctx.method(), ctx.path(), e);
            error(ctx, new ApiException(500, "server_error", null, null, "internal server error: " + e.getClass().getSimpleName()));
        });
        app.start(options.host(), options.port());
        return app.port();
    }

    private void checkSizeAndKey(Context ctx) {
        long length = ctx.req().getContentLengthLong();
        if (length > options.maxRequestBytes()) {
            throw new ApiException(413, "invalid_request_error", null, null, "the request body of " + length
                    + " bytes is larger than this server accepts (" + options.maxRequestBytes() + " bytes)");
        }
        if (options.apiKey() != null && ctx.path().startsWith("/v1/")) {
            String auth = ctx.header("Authorization");
            byte[] want = ("Bearer " + options.apiKey()).getBytes(StandardCharsets.UTF_8);
            if (auth == null || !MessageDigest.isEqual(want, auth.getBytes(StandardCharsets.UTF_8))) {
                throw new ApiException(401, "invalid_request_error", null, "invalid_api_key", auth == null
                        ? "missing API key: send the header Authorization: Bearer KEY" : "incorrect API key provided");
            }
        }
    }

    private void models(Context ctx) {
        ObjectNode m = JSON.createObjectNode().put("id", options.modelName()).put("object", "model")
                .put("created", created).put("owned_by", "attnrt")
                .put("max_model_len", engine.modelConfig().maxPositionEmbeddings());
        ObjectNode list = JSON.createObjectNode().put("object", "list");
        list.putArray("data").add(m);
        ctx.contentType("application/json").result(list.toString());
    }

    // ------------------------------------------------------------------------------------------ completions

    private void complete(Context ctx, boolean chat) throws IOException {
        JsonNode body;
        try {
            body = JSON.readTree(ctx.bodyAsBytes());
        } catch (JsonProcessingException e) {
            throw ApiException.invalid(null, "the request body is not valid JSON: " + e.getOriginalMessage());
        }
        OpenAiRequest req = new OpenAiRequest(body, chat);
        if (req.model != null && !req.model.equals(options.modelName())) {
            throw new ApiException(404, "invalid_request_error", "model", "model_not_found", "the model '" + req.model
                    + "' does not exist; this server serves '" + options.modelName() + "'");
        }
        int[] prompt = prompt(req);
        int context = engine.modelConfig().maxPositionEmbeddings();
        if (prompt.length >= context) {
            throw new ApiException(400, "invalid_request_error", chat ? "messages" : "prompt", "context_length_exceeded",
                    "this model's maximum context length is " + context + " tokens; your " + (chat ? "messages" : "prompt")
                    + " resulted in " + prompt.length + " tokens, leaving no room to generate");
        }
        int maxTokens = req.maxTokens == null ? context - prompt.length : req.maxTokens;
        long seed = req.seed != null ? req.seed : random.nextLong();
        Completion c = new Completion(prompt, maxTokens, req.sampling, seed, req.n, stopTokens, req.stop, req.logprobs);
        Events events = new Events();
        Engine.Handle handle;
        try {
            handle = engine.submit(c, events);
        } catch (Engine.QueueFullException e) {
            ctx.header("Retry-After", "1");
            throw new ApiException(429, "rate_limit_exceeded", null, null, e.getMessage());
        } catch (IllegalArgumentException e) {
            throw ApiException.invalid(e.getMessage().startsWith("n ") ? "n" : null, e.getMessage());
        } catch (IllegalStateException e) {
            throw new ApiException(503, "server_error", null, null, e.getMessage());
        }
        Responses out = new Responses(chat, options.modelName(), created(), req.n, req.logprobs, tokenizer);
        if (req.stream) {
            stream(ctx, req, out, events, handle);
        } else {
            respond(ctx, out, events);
        }
    }

    private int[] prompt(OpenAiRequest req) {
        if (req.chat) {
            if (template == null) {
                throw ApiException.invalid("messages", "the model has no chat template (tokenizer_config.json "
                        + "chat_template); use /v1/completions");
            }
            String text;
            try {
                text = template.render(req.messages, true);
            } catch (RuntimeException e) {
                throw ApiException.invalid("messages", "the chat template cannot render these messages: " + e.getMessage());
            }
            return tokenizer.encode(text, false);
        }
        if (req.promptIds != null) {
            return req.promptIds;
        }
        return tokenizer.encode(req.promptText);
    }

    private long created() {
        return System.currentTimeMillis() / 1000;
    }

    private static void respond(Context ctx, Responses out, Events events) {
        while (true) {
            Object e = events.take();
            if (e instanceof Events.Error err) {
                throw new ApiException(500, "server_error", null, null, err.message());
            }
            out.accept(e);
            if (e instanceof Events.Complete) {
                ctx.contentType("application/json").result(out.whole().toString());
                return;
            }
        }
    }

    /** Server-Sent Events: one chunk per event, {@code data: [DONE]} last; a dropped client cancels the request. */
    private static void stream(Context ctx, OpenAiRequest req, Responses out, Events events, Engine.Handle handle) {
        ctx.status(200);
        ctx.res().setContentType("text/event-stream; charset=utf-8");
        ctx.res().setHeader("Cache-Control", "no-cache");
        try {
            OutputStream os = ctx.res().getOutputStream();
            for (ObjectNode chunk : out.opening(req.includeUsage)) {
                send(os, chunk.toString());
            }
            while (true) {
                Object e = events.poll();
                if (e == null) {
                    // A comment line: finds a client that went away while nothing was generated.
                    os.write(": keep-alive\n\n".getBytes(StandardCharsets.UTF_8));
                    os.flush();
                    continue;
                }
                if (e instanceof Events.Error err) {
                    ObjectNode error = JSON.createObjectNode();
                    error.putObject("error").put("message", err.message()).put("type", "server_error");
                    send(os, error.toString());
                    break;
                }
                for (ObjectNode chunk : out.chunks(e, req.includeUsage)) {
                    send(os, chunk.toString());
                }
                if (e instanceof Events.Complete) {
                    break;
                }
            }
            send(os, "[DONE]");
        } catch (IOException e) {
            LOG.debug("client went away mid-stream: cancelling its request ({})", e.toString());
            handle.cancel();
        }
    }

    private static void send(OutputStream os, String data) throws IOException {
        os.write(("data: " + data + "\n\n").getBytes(StandardCharsets.UTF_8));
        os.flush();
    }

    private static void error(Context ctx, ApiException e) {
        ObjectNode root = JSON.createObjectNode();
        ObjectNode err = root.putObject("error");
        err.put("message", e.getMessage()).put("type", e.type);
        if (e.param == null) {
            err.putNull("param");
        } else {
            err.put("param", e.param);
        }
        if (e.code == null) {
            err.putNull("code");
        } else {
            err.put("code", e.code);
        }
        ctx.status(e.status).contentType("application/json").result(root.toString());
    }

    /** The engine's events of one request, handed from the engine thread to the HTTP thread. */
    static final class Events implements CompletionListener {
        record Token(int choice, int token, String text, TokenLogprobs logprobs) {
        }

        record Finish(int choice, String reason, String text) {
        }

        record Complete(Usage usage) {
        }

        record Error(String message) {
        }

        private final BlockingQueue<Object> queue = new LinkedBlockingQueue<>();

        @Override
        public void onToken(int choice, int token, String text, TokenLogprobs logprobs) {
            queue.add(new Token(choice, token, text, logprobs));
        }

        @Override
        public void onFinish(int choice, String reason, String text) {
            queue.add(new Finish(choice, reason, text));
        }

        @Override
        public void onComplete(Usage usage) {
            queue.add(new Complete(usage));
        }

        @Override
        public void onError(String message) {
            queue.add(new Error(message));
        }

        Object take() {
            try {
                return queue.take();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return new Error("interrupted");
            }
        }

        Object poll() {
            try {
                return queue.poll(1, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return new Error("interrupted");
            }
        }
    }

    /** Stops taking requests, lets those in flight finish for up to {@code graceMillis}, then stops. */
    public void shutdown(long graceMillis) {
        engine.shutdown(graceMillis);
        if (app != null) {
            app.stop();
        }
    }

    @Override
    public void close() {
        shutdown(0);
    }
}
