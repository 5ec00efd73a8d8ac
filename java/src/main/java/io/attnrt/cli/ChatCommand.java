package io.attnrt.cli;

import io.attnrt.backend.select.BackendChoice;
import io.attnrt.backend.select.Backends;
import io.attnrt.model.LlamaModel;
import io.attnrt.text.ChatTemplate;
import io.attnrt.text.Tokenizer;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "chat", mixinStandardHelpOptions = true,
        description = "An interactive conversation with a chat model: each answer streams as it is generated; "
                + "earlier turns stay in the KV cache. /reset starts over, /exit or Ctrl-D ends.")
final class ChatCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--model", paramLabel = "DIR|FILE", description = "GGUF file, or Hugging Face model directory with tokenizer.json "
            + "and a chat_template in tokenizer_config.json")
    Path model;

    @Option(names = "--system", paramLabel = "TEXT", description = "a system message before the conversation")
    String system;

    @Option(names = {"-n", "--max-new-tokens"}, defaultValue = "256", description = "tokens per answer at most "
            + "(default ${DEFAULT-VALUE})")
    int maxNewTokens;

    @Option(names = "--context", paramLabel = "TOKENS", description = "tokens the conversation may hold; the KV "
            + "cache is sized for it (default: the model's max_position_embeddings)")
    Integer context;

    @Mixin
    GenerationOptions gen;

    /** Where the user's lines come from; tests set it, otherwise standard input. */
    BufferedReader input;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        BackendChoice choice = Backends.create(gen.backend);
        try (var be = choice.backend();
             ModelSource.Loaded loaded = ModelSource.load(model, be);
             LlamaModel llama = new LlamaModel(loaded.config(), loaded.weights(), be);
             Tokenizer tokenizer = ModelSource.tokenizer(loaded)) {
            ChatTemplate template = ModelSource.chatTemplate(loaded, tokenizer, "chat");
            int modelContext = loaded.config().maxPositionEmbeddings();
            if (context != null && (context < 1 || context > modelContext)) {
                throw new IllegalArgumentException("--context must be 1 to the model's max_position_embeddings of "
                        + modelContext + " tokens, got " + context);
            }
            ChatSession.Settings settings = new ChatSession.Settings(system, maxNewTokens, gen.sampling(), gen.seed,
                    gen.stops, context == null ? modelContext : context, gen.blockSize, gen.kvDtype);
            gen.newStopStrings(); // a bad --stop is refused naming the option
            try (ChatSession session = new ChatSession(llama, tokenizer, template, settings)) {
                err.printf("chat with %s on %s (%s); /reset starts over, /exit or Ctrl-D ends%n", loaded.label(),
                        be.description(), choice.reason());
                converse(session, settings.context(), out, err);
            }
        }
        return 0;
    }

    private void converse(ChatSession session, int contextTokens, PrintWriter out, PrintWriter err)
            throws java.io.IOException {
        BufferedReader in = input != null ? input
                : new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        while (true) {
            out.print("> ");
            out.flush();
            String line = in.readLine();
            if (line == null) {
                out.println();
                out.flush();
                return;
            }
            String command = line.strip();
            if (command.isEmpty()) {
                continue;
            }
            if (command.equals("/exit")) {
                return;
            }
            if (command.equals("/reset")) {
                session.reset();
                err.println("[conversation cleared]");
                continue;
            }
            ChatSession.Turn turn;
            try {
                turn = session.turn(line, text -> {
                    out.print(text);
                    out.flush();
                });
            } catch (IllegalArgumentException e) {
                // A template that refuses the conversation: the user can rephrase or /reset.
                err.println("attnrt: " + e.getMessage());
                continue;
            }
            if (turn.ending() == ChatSession.Ending.NO_ROOM) {
                err.printf("[the conversation is %d tokens with this message and no longer fits the context of %d "
                        + "tokens: /reset to start a new one]%n", turn.promptTokens(), contextTokens);
                continue;
            }
            out.println();
            out.flush();
            err.println(String.format(Locale.ROOT, "[prefill %d new tokens (%d cached) %.1f ms · %d tokens "
                    + "%.1f tok/s]", turn.prefilledTokens(), turn.cachedTokens(), turn.prefillNanos() / 1e6,
                    turn.generated().length, turn.decodeTokensPerSecond()));
            if (turn.ending() == ChatSession.Ending.CONTEXT) {
                err.printf("[the context of %d tokens is full: /reset to start a new conversation]%n", contextTokens);
            }
        }
    }
}
