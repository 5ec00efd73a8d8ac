package io.attnrt.cli;

import io.attnrt.backend.select.BackendChoice;
import io.attnrt.backend.select.Backends;
import io.attnrt.backend.SamplingParams;
import io.attnrt.kv.PagedKvCache;
import io.attnrt.model.ByteTokenizer;
import io.attnrt.model.GenerationRequest;
import io.attnrt.model.GenerationResult;
import io.attnrt.model.GenerationStats;
import io.attnrt.model.Generator;
import io.attnrt.model.LlamaModel;
import io.attnrt.text.ChatTemplate;
import io.attnrt.text.StopStrings;
import io.attnrt.text.TextStream;
import io.attnrt.text.Tokenizer;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "run", mixinStandardHelpOptions = true,
        description = "Generate a continuation of a prompt. Without --model, runs the built-in test model.")
final class RunCommand implements Callable<Integer> {
    private static final Logger LOG = LoggerFactory.getLogger(RunCommand.class);
    static final String BUILTIN_PROMPT = "Hello, attnrt!";

    @Spec
    CommandSpec spec;

    @Option(names = "--model", paramLabel = "DIR|FILE", description = "Hugging Face model directory (config.json + *.safetensors) or a GGUF file")
    Path model;

    @Option(names = "--prompt", paramLabel = "TEXT", description = "prompt text, tokenized by the model's "
            + "tokenizer.json (byte by byte for a directory without one)")
    String prompt;

    @Option(names = "--chat", description = "apply the model's chat template to the prompt as one user message")
    boolean chat;

    @Option(names = "--system", paramLabel = "TEXT", description = "with --chat: a system message before it")
    String system;

    @Option(names = "--tokens", paramLabel = "IDS", split = ",", description = "prompt as comma-separated token ids")
    int[] tokens;

    @Option(names = {"-n", "--max-new-tokens"}, defaultValue = "32", description = "tokens to generate (default ${DEFAULT-VALUE})")
    int maxNewTokens;

    @Option(names = "--stop-token", defaultValue = "-1", description = "stop after this token id (default: the "
            + "model's end-of-sequence tokens; -1 without a tokenizer = never)")
    int stopToken;

    @Mixin
    GenerationOptions gen;

    @Option(names = "--logits-out", paramLabel = "FILE", description = "write the logits of every step (.json or .npy)")
    Path logitsOut;

    /**
     * The prompt as the model's chat template renders it (the system message, then the prompt as the user's,
     * then the assistant's header), tokenized without added special tokens: the template writes its own BOS,
     * as transformers' apply_chat_template does.
     */
    private int[] chatPrompt(ModelSource.Loaded loaded, Tokenizer tokenizer, String text) {
        ChatTemplate template = ModelSource.chatTemplate(loaded, tokenizer, "--chat");
        List<ChatTemplate.Message> messages = new java.util.ArrayList<>();
        if (system != null) {
            messages.add(new ChatTemplate.Message("system", system));
        }
        messages.add(new ChatTemplate.Message("user", text));
        return tokenizer.encode(template.render(messages, true), false);
    }

    @Override
    public Integer call() throws Exception {
        if (prompt != null && tokens != null) {
            throw new IllegalArgumentException("give either --prompt or --tokens, not both");
        }
        if ((chat || system != null) && (tokens != null || prompt == null)) {
            throw new IllegalArgumentException("--chat and --system apply to a --prompt text");
        }
        if (system != null && !chat) {
            throw new IllegalArgumentException("--system needs --chat");
        }
        SamplingParams sampling = gen.sampling();
        StopStrings stopStrings = gen.newStopStrings();
        PrintWriter out = spec.commandLine().getOut();
        long commandStart = System.nanoTime();
        long jvmStartMs = System.currentTimeMillis() - ManagementFactory.getRuntimeMXBean().getStartTime();
        BackendChoice choice = Backends.create(gen.backend);
        try (var be = choice.backend();
             ModelSource.Loaded loaded = ModelSource.load(model, be);
             LlamaModel llama = new LlamaModel(loaded.config(), loaded.weights(), be);
             Tokenizer tokenizer = ModelSource.tokenizer(loaded)) {
            if (gen.hasStops() && tokenizer == null) {
                throw new IllegalArgumentException("--stop needs the model directory's tokenizer.json");
            }
            ByteTokenizer bytes = new ByteTokenizer(loaded.config().vocabSize());
            if (tokenizer == null && prompt != null) {
                LOG.info("{} has no tokenizer.json: the prompt is encoded one token per UTF-8 byte", loaded.label());
            }
            String text = prompt != null ? prompt : BUILTIN_PROMPT;
            int[] ids = tokens != null ? tokens : chat ? chatPrompt(loaded, tokenizer, text)
                    : tokenizer != null ? tokenizer.encode(text) : bytes.encode(text);
            int[] stops = stopToken >= 0 || tokenizer == null ? new int[] {stopToken} : tokenizer.stopTokenIds();
            // The model's context ends the generation: -n is capped to what fits after the prompt.
            int context = loaded.config().maxPositionEmbeddings();
            int newTokens = Math.min(maxNewTokens, Math.max(0, context - ids.length));
            if (newTokens < maxNewTokens) {
                LOG.info("the model's context is {} tokens: after the {}-token prompt, {} new tokens fit (-n {})",
                        context, ids.length, newTokens, maxNewTokens);
            }
            int contextBlocks = (ids.length + newTokens + gen.blockSize - 1) / gen.blockSize;
            try (PagedKvCache cache = llama.newCache(gen.blockSize, Math.max(1, contextBlocks), gen.kvDtype)) {
                Generator generator = new Generator(llama, cache);
                LogitsRecorder recorder = logitsOut == null ? null : new LogitsRecorder();
                out.printf("model:     %s%n", loaded.label());
                out.printf("backend:   %s (%s)%n", be.description(), choice.reason());
                out.printf("prompt:    %s%n", Arrays.toString(ids));
                // The text streams as it is generated when there is a tokenizer.
                out.print("text:      ");
                out.flush();
                TextStream stream = tokenizer == null ? null : tokenizer.stream(ids);
                long loadedAt = System.nanoTime();
                // The --stop strings are matched in the streamed text: the token that completes one ends the run.
                // Every token's arrival is timed, for the steady-state decode rate.
                long[] arrivals = new long[newTokens];
                int[] arrived = {0};
                Generator.TokenListener streamer = (req, step, token) -> {
                    if (arrived[0] < arrivals.length) {
                        arrivals[arrived[0]++] = System.nanoTime();
                    }
                    if (stream == null) {
                        return false;
                    }
                    out.print(stopStrings.add(stream.add(token)));
                    out.flush();
                    return stopStrings.stopped();
                };
                GenerationRequest request = new GenerationRequest(ids, newTokens, sampling, gen.seed, stops);
                List<GenerationResult> results = generator.generate(List.of(request),
                        recorder == null ? null : recorder::onLogits, streamer);
                GenerationResult r = results.get(0);
                GenerationStats stats = generator.lastStats();
                out.println(stream != null ? stopStrings.add(stream.finish()) + stopStrings.finish()
                        : bytes.decode(r.generated()).replace("\n", "\\n"));
                out.printf("generated: %s%n", Arrays.toString(r.generated()));
                out.printf("prefill:   %d tokens in %.1f ms (%.1f tokens/s)%n", stats.prefillTokens(),
                        stats.prefillNanos() / 1e6, stats.prefillTokensPerSecond());
                out.printf("decode:    %d tokens in %.1f ms (%.1f tokens/s)%n", stats.decodeTokens(),
                        stats.decodeNanos() / 1e6, stats.decodeTokensPerSecond());
                // the second half of the decode tokens: past the JIT's last compilations and the first blocks
                int n = arrived[0];
                if (n >= 9) {
                    int from = n / 2;
                    double rate = (n - 1 - from) * 1e9 / (arrivals[n - 1] - arrivals[from]);
                    out.printf("steady:    %.1f tokens/s (decode tokens %d-%d)%n", rate, from + 1, n - 1);
                }
                out.printf("first token: %.1f ms after the model was ready (time to first token); JVM start %d ms, "
                        + "backend + model load %.0f ms%n", n > 0 ? (arrivals[0] - loadedAt) / 1e6 : Double.NaN,
                        jvmStartMs, (loadedAt - commandStart) / 1e6);
                if (recorder != null) {
                    recorder.write(logitsOut, loaded.label(), be.name(), ids);
                    out.printf("logits:    %d steps written to %s%n", recorder.steps(), logitsOut);
                }
                if (!r.ok()) {
                    out.printf("error:     %s%n", r.error());
                    return 1;
                }
                return 0;
            }
        }
    }
}
