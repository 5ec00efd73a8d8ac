package io.attnrt.cli;

import io.attnrt.backend.SamplingParams;
import io.attnrt.backend.Tensor;
import io.attnrt.kv.PagedKvCache;
import io.attnrt.model.CachedSequence;
import io.attnrt.model.LlamaModel;
import io.attnrt.tensor.DType;
import io.attnrt.text.ChatTemplate;
import io.attnrt.text.StopStrings;
import io.attnrt.text.TextStream;
import io.attnrt.text.Tokenizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * A conversation with a chat model, independent of any terminal. Each turn renders the whole history through
 * the chat template, as the model was trained to see it, but runs only the tokens after what the KV cache
 * already holds for this conversation: a turn costs its own tokens, not the conversation's.
 *
 * <p>The cache lives as long as the session and is sized for the whole context, so one conversation always
 * fits it. Not thread-safe.
 */
final class ChatSession implements AutoCloseable {
    /**
     * @param system       a system message before the conversation, or null
     * @param maxNewTokens tokens per answer at most
     * @param context      tokens the conversation may hold (at most the model's max_position_embeddings)
     */
    record Settings(String system, int maxNewTokens, SamplingParams sampling, long seed, List<String> stops,
                    int context, int blockSize, DType kvDtype) {
    }

    /** Why an answer ended; {@code NO_ROOM}: the conversation no longer fits the context, nothing ran. */
    enum Ending { STOP_TOKEN, STOP_STRING, MAX_TOKENS, CONTEXT, NO_ROOM }

    /**
     * One turn.
     *
     * @param promptTokens  the rendered conversation, in tokens
     * @param cachedTokens  of those, the ones the cache already held
     * @param prefillNanos  running the new prompt tokens and drawing the first answer token
     * @param decodeSteps   model steps after that, one token each
     */
    record Turn(String answer, int[] generated, Ending ending, int promptTokens, int cachedTokens,
                long prefillNanos, int decodeSteps, long decodeNanos) {
        int prefilledTokens() {
            return promptTokens - cachedTokens;
        }

        double decodeTokensPerSecond() {
            return decodeNanos == 0 ? 0 : decodeSteps * 1e9 / decodeNanos;
        }
    }

    private final LlamaModel model;
    private final Tokenizer tokenizer;
    private final ChatTemplate template;
    private final Settings settings;
    private final int[] stopTokens;
    private final SplittableRandom random;
    private final PagedKvCache cache;
    private final CachedSequence sequence;
    private final List<ChatTemplate.Message> history = new ArrayList<>();

    ChatSession(LlamaModel model, Tokenizer tokenizer, ChatTemplate template, Settings settings) {
        int modelContext = model.config().maxPositionEmbeddings();
        if (settings.context() < 1 || settings.context() > modelContext) {
            throw new IllegalArgumentException("the context must be 1 to the model's " + modelContext + " tokens, got "
                    + settings.context());
        }
        if (settings.maxNewTokens() < 1) {
            throw new IllegalArgumentException("-n must be at least 1, got " + settings.maxNewTokens());
        }
        new StopStrings(settings.stops()); // refuses a bad stop now rather than at the first answer
        this.model = model;
        this.tokenizer = tokenizer;
        this.template = template;
        this.settings = settings;
        this.stopTokens = tokenizer.stopTokenIds();
        this.random = new SplittableRandom(settings.seed());
        int blocks = (settings.context() + settings.blockSize() - 1) / settings.blockSize();
        this.cache = model.newCache(settings.blockSize(), blocks, settings.kvDtype());
        try {
            this.sequence = new CachedSequence(model, cache);
        } catch (RuntimeException e) {
            cache.close();
            throw e;
        }
    }

    /** The conversation so far, without the system message. */
    List<ChatTemplate.Message> history() {
        return List.copyOf(history);
    }

    /** Tokens whose K/V the cache holds for this conversation. */
    int cachedTokens() {
        return sequence.length();
    }

    PagedKvCache cache() {
        return cache;
    }

    /** Forgets the conversation and gives its KV blocks back. */
    void reset() {
        history.clear();
        sequence.clear();
    }

    /**
     * Adds the user's message and answers it, handing the answer's text to {@code out} as it is generated.
     * The answer joins the history; a turn that does not fit ({@link Ending#NO_ROOM}) or that the template
     * refuses leaves the history as it was.
     */
    Turn turn(String userText, Consumer<String> out) {
        history.add(new ChatTemplate.Message("user", userText));
        int[] ids;
        try {
            ids = tokenizer.encode(template.render(messages(), true), false);
            if (ids.length == 0) {
                throw new IllegalArgumentException("the chat template rendered the conversation as no tokens");
            }
        } catch (RuntimeException e) {
            history.remove(history.size() - 1);
            throw e;
        }
        // As in run: an answer may fill the context, its last token drawn but never run.
        int room = Math.min(settings.maxNewTokens(), settings.context() - ids.length);
        if (room < 1) {
            history.remove(history.size() - 1);
            return new Turn("", new int[0], Ending.NO_ROOM, ids.length, 0, 0, 0, 0);
        }
        int cached = sequence.reusablePrefix(ids);
        TextStream stream = tokenizer.stream(ids);
        StopStrings stops = new StopStrings(settings.stops());
        StringBuilder answer = new StringBuilder();
        Consumer<String> emit = text -> {
            if (!text.isEmpty()) {
                answer.append(text);
                out.accept(text);
            }
        };
        int[] generated = new int[room];
        int count = 0;
        long t0 = System.nanoTime();
        int token = draw(sequence.extendTo(ids));
        long t1 = System.nanoTime();
        Ending ending;
        while (true) {
            generated[count++] = token;
            if (isStopToken(token)) {
                ending = Ending.STOP_TOKEN;
                break;
            }
            emit.accept(stops.add(stream.add(token)));
            if (stops.stopped()) {
                ending = Ending.STOP_STRING;
                break;
            }
            if (count == room) {
                ending = room == settings.maxNewTokens() ? Ending.MAX_TOKENS : Ending.CONTEXT;
                break;
            }
            token = draw(sequence.append(token));
        }
        emit.accept(stops.add(stream.finish()));
        emit.accept(stops.finish());
        long t2 = System.nanoTime();
        history.add(new ChatTemplate.Message("assistant", answer.toString()));
        return new Turn(answer.toString(), Arrays.copyOf(generated, count), ending, ids.length, cached, t1 - t0,
                count - 1, t2 - t1);
    }

    private List<ChatTemplate.Message> messages() {
        if (settings.system() == null) {
            return history;
        }
        List<ChatTemplate.Message> all = new ArrayList<>(history.size() + 1);
        all.add(new ChatTemplate.Message("system", settings.system()));
        all.addAll(history);
        return all;
    }

    private int draw(Tensor logits) {
        return model.backend().sample(logits, new SamplingParams[] {settings.sampling()},
                new double[] {random.nextDouble()})[0];
    }

    private boolean isStopToken(int token) {
        for (int s : stopTokens) {
            if (s == token) {
                return true;
            }
        }
        return false;
    }

    @Override
    public void close() {
        try {
            sequence.close();
        } finally {
            cache.close();
        }
    }
}
