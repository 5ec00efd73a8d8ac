package io.attnrt.cli;

import io.attnrt.backend.Backend;
import io.attnrt.backend.select.BackendChoice;
import io.attnrt.backend.select.Backends;
import io.attnrt.kv.PagedKvCache;
import io.attnrt.model.LlamaConfig;
import io.attnrt.model.LlamaModel;
import io.attnrt.serve.Engine;
import io.attnrt.serve.EngineConfig;
import io.attnrt.serve.OpenAiServer;
import io.attnrt.tensor.DType;
import io.attnrt.text.ChatTemplate;
import io.attnrt.text.Tokenizer;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Serve a model over OpenAI's HTTP API (chat and text completions, streamed or not) with "
                + "continuous batching. Without --model, serves the built-in test model.")
final class ServeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--model", paramLabel = "DIR|FILE", description = "Hugging Face model directory with tokenizer.json, or a GGUF file")
    Path model;

    @Option(names = "--served-model-name", paramLabel = "NAME", description = "the model id clients send "
            + "(default: the directory's name)")
    String servedName;

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "address to bind (default ${DEFAULT-VALUE}: "
            + "this machine only)")
    String host;

    @Option(names = "--port", defaultValue = "8000", description = "TCP port, 0 = any free one (default ${DEFAULT-VALUE})")
    int port;

    @Option(names = "--backend", defaultValue = "auto", description = "auto, cuda, cpu or reference (default ${DEFAULT-VALUE})")
    String backend;

    @Option(names = "--api-key", paramLabel = "KEY", description = "require Authorization: Bearer KEY on /v1 "
            + "(default: the ATTNRT_API_KEY environment variable; none = open)")
    String apiKey;

    @Option(names = "--max-num-seqs", defaultValue = "16", description = "sequences decoded together (default ${DEFAULT-VALUE})")
    int maxNumSeqs;

    @Option(names = "--max-batched-tokens", defaultValue = "512", description = "tokens per forward step: decode "
            + "tokens first, the rest for prompt chunks (default ${DEFAULT-VALUE})")
    int maxBatchedTokens;

    @Option(names = "--max-waiting", defaultValue = "256", description = "queued requests before HTTP 429 (default ${DEFAULT-VALUE})")
    int maxWaiting;

    @Option(names = "--kv-blocks", paramLabel = "N", description = "KV cache blocks (default: room for every sequence "
            + "at the full context, at most --kv-memory)")
    Integer kvBlocks;

    @Option(names = "--kv-memory", paramLabel = "SIZE", defaultValue = "2GiB", description = "KV cache budget when "
            + "--kv-blocks is not given, e.g. 512MiB, 8GiB (default ${DEFAULT-VALUE})")
    String kvMemory;

    @Option(names = "--kv-block-size", defaultValue = "16", description = "tokens per KV cache block (default ${DEFAULT-VALUE})")
    int blockSize;

    @Option(names = "--kv-dtype", defaultValue = "F32", description = "KV cache element type: F32, F16, BF16")
    DType kvDtype;

    @Option(names = "--no-prefix-caching", description = "do not reuse the KV blocks of earlier prompts' prefixes")
    boolean noPrefixCaching;

    @Option(names = "--max-request-bytes", defaultValue = "16777216", description = "largest request body (default ${DEFAULT-VALUE})")
    long maxRequestBytes;

    /** Counted down once the server has stopped (tests stop it through {@link #stop}). */
    private final CountDownLatch stopped = new CountDownLatch(1);
    private volatile OpenAiServer server;
    volatile int boundPort = -1;

    @Override
    public Integer call() throws Exception {
        EngineConfig engineConfig = new EngineConfig(maxNumSeqs, maxBatchedTokens, maxWaiting, !noPrefixCaching);
        String key = apiKey != null ? apiKey : System.getenv("ATTNRT_API_KEY");
        PrintWriter out = spec.commandLine().getOut();
        BackendChoice choice = Backends.create(backend);
        try (Backend be = choice.backend();
             ModelSource.Loaded loaded = ModelSource.load(model, be);
             LlamaModel llama = new LlamaModel(loaded.config(), loaded.weights(), be)) {
            Path builtinChat = model == null ? ModelSource.extractBuiltinChat() : null;
            Tokenizer modelTokenizer = builtinChat != null ? Tokenizer.load(builtinChat) : ModelSource.tokenizer(loaded);
            if (modelTokenizer == null) {
                throw new IllegalArgumentException("serve needs a tokenizer: " + loaded.label() + " has none ("
                        + (loaded.gguf() != null ? "no tokenizer.ggml.* metadata" : "no tokenizer.json") + ")");
            }
            try (Tokenizer tokenizer = modelTokenizer;
                 PagedKvCache cache = llama.newCache(blockSize, blocks(loaded.config()), kvDtype)) {
                tokenizer.checkFits(loaded.config().vocabSize());
                ChatTemplate template = builtinChat != null ? ChatTemplate.fromModelDir(builtinChat)
                        : ModelSource.chatTemplateOrNull(loaded);
                String name = servedName != null ? servedName : model == null ? "tiny-llama"
                        : model.toAbsolutePath().normalize().getFileName().toString();
                Engine engine = new Engine(llama, cache, tokenizer, engineConfig);
                server = new OpenAiServer(engine, tokenizer, template,
                        new OpenAiServer.Options(host, port, key, maxRequestBytes, name));
                try {
                    boundPort = server.start();
                } catch (RuntimeException e) {
                    server.close();
                    throw new IllegalArgumentException("cannot listen on " + host + ":" + port + ": " + e.getMessage(), e);
                }
                Thread hook = new Thread(this::stop, "attnrt-shutdown");
                Runtime.getRuntime().addShutdownHook(hook);
                out.printf("serving %s (%s) on %s (%s): KV cache %d tokens (%d blocks of %d, %s), max %d sequences, "
                                + "%d tokens per step, prefix caching %s%s%n",
                        name, loaded.label(), be.description(), choice.reason(), engine.capacityTokens(),
                        cache.totalBlocks(), blockSize, kvDtype, maxNumSeqs, maxBatchedTokens,
                        noPrefixCaching ? "off" : "on", template == null ? ", no chat template (completions only)" : "");
                out.printf("listening on http://%s:%d/v1%s%n", host, boundPort, key == null ? "" : " (API key required)");
                out.flush();
                stopped.await();
                try {
                    Runtime.getRuntime().removeShutdownHook(hook);
                } catch (IllegalStateException e) {
                    // The JVM is already shutting down: the hook is what stopped us.
                }
                return 0;
            }
        }
    }

    /** Finishes requests in flight (up to 10 s), then stops; returns their KV blocks. */
    void stop() {
        OpenAiServer s = server;
        if (s != null) {
            s.shutdown(10_000);
        }
        stopped.countDown();
    }

    private int blocks(LlamaConfig cfg) {
        if (kvBlocks != null) {
            if (kvBlocks < 1) {
                throw new IllegalArgumentException("--kv-blocks must be >= 1, got " + kvBlocks);
            }
            return kvBlocks;
        }
        long budget = parseSize(kvMemory);
        int fit = PagedKvCache.numBlocksForBudget(budget, cfg.numHiddenLayers(), cfg.numKeyValueHeads(), cfg.headDim(),
                blockSize, kvDtype);
        long wanted = (long) maxNumSeqs * ((cfg.maxPositionEmbeddings() + blockSize - 1) / blockSize);
        return (int) Math.max(1, Math.min(fit, wanted));
    }

    static long parseSize(String s) {
        String t = s.trim().toUpperCase(java.util.Locale.ROOT);
        long unit = 1;
        for (String[] u : new String[][] {{"GIB", "1073741824"}, {"MIB", "1048576"}, {"KIB", "1024"}, {"GB", "1000000000"},
                {"MB", "1000000"}, {"KB", "1000"}, {"B", "1"}}) {
            if (t.endsWith(u[0])) {
                unit = Long.parseLong(u[1]);
                t = t.substring(0, t.length() - u[0].length()).trim();
                break;
            }
        }
        try {
            double v = Double.parseDouble(t);
            if (!(v > 0)) {
                throw new NumberFormatException();
            }
            return (long) (v * unit);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--kv-memory: cannot read '" + s + "' as a size such as 512MiB or 8GiB");
        }
    }
}
