package io.attnrt.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.attnrt.backend.Backend;
import io.attnrt.backend.SamplingParams;
import io.attnrt.backend.reference.ReferenceBackend;
import io.attnrt.kv.PagedKvCache;
import io.attnrt.model.GenerationRequest;
import io.attnrt.model.Generator;
import io.attnrt.model.LlamaModel;
import io.attnrt.tensor.DType;
import io.attnrt.text.ChatTemplate;
import io.attnrt.text.Tokenizer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The turn logic without a terminal, on the reference backend. */
class ChatSessionTest {
    /** Refuses a message "bad", as real templates refuse roles that do not alternate. */
    private static final String PICKY_TEMPLATE = "{% for m in messages %}{% if m.content == 'bad' %}"
            + "{{ raise_exception('no bad messages') }}{% endif %}<{{ m.role }}>{{ m.content }}{% endfor %}"
            + "{% if add_generation_prompt %}<assistant>{% endif %}";

    private static ChatSession.Settings settings(String system, int maxNewTokens, int context) {
        return new ChatSession.Settings(system, maxNewTokens, SamplingParams.GREEDY, 0, null, context, 4, DType.F32);
    }

    private static int[] bytes(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        int[] ids = new int[b.length];
        for (int i = 0; i < b.length; i++) {
            ids[i] = b[i] & 0xff;
        }
        return ids;
    }

    private static int commonPrefix(int[] a, int[] b) {
        int i = 0;
        while (i < a.length && i < b.length && a[i] == b[i]) {
            i++;
        }
        return i;
    }

    private static int[] concat(int[] a, int[] b) {
        int[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    @Test
    void aTurnRunsOnlyWhatTheCacheLacksAndAnswersAsAFreshGenerationWould(@TempDir Path tmp) throws Exception {
        Path dir = ChatCommandTest.chatModel(tmp);
        try (Backend be = new ReferenceBackend(); ModelSource.Loaded loaded = ModelSource.load(dir, be);
             LlamaModel model = new LlamaModel(loaded.config(), loaded.weights(), be);
             Tokenizer tokenizer = ModelSource.tokenizer(loaded);
             ChatSession session = new ChatSession(model, tokenizer, ModelSource.chatTemplate(loaded, tokenizer, "chat"),
                     settings("Be brief", 10, 256))) {
            StringBuilder streamed = new StringBuilder();
            ChatSession.Turn t1 = session.turn("first question", streamed::append);
            int[] p1 = bytes("<system>Be brief<user>first question<assistant>");
            assertEquals(p1.length, t1.promptTokens());
            assertEquals(0, t1.cachedTokens());
            assertEquals(ChatSession.Ending.MAX_TOKENS, t1.ending());
            assertEquals(10, t1.generated().length);
            assertEquals(t1.answer(), streamed.toString());
            // The last token drawn never ran: the cache holds the prompt and the answer but for it.
            int[] held = concat(p1, Arrays.copyOf(t1.generated(), 9));
            assertEquals(held.length, session.cachedTokens());

            ChatSession.Turn t2 = session.turn("second", s -> { });
            int[] p2 = bytes("<system>Be brief<user>first question<assistant>" + t1.answer()
                    + "<user>second<assistant>");
            assertEquals(p2.length, t2.promptTokens());
            assertEquals(commonPrefix(held, p2), t2.cachedTokens());
            assertTrue(t2.cachedTokens() >= p1.length, "the first prompt at least is reused");
            assertEquals(List.of(new ChatTemplate.Message("user", "first question"),
                    new ChatTemplate.Message("assistant", t1.answer()), new ChatTemplate.Message("user", "second"),
                    new ChatTemplate.Message("assistant", t2.answer())), session.history());

            // The same conversation from nothing, through the generator's own prefill and decode.
            try (PagedKvCache fresh = model.newCache(16, 16, DType.F32)) {
                int[] expected = new Generator(model, fresh).generate(List.of(GenerationRequest.greedy(p2, 10)))
                        .get(0).generated();
                assertArrayEquals(expected, t2.generated());
            }

            session.reset();
            assertEquals(0, session.cachedTokens());
            assertEquals(List.of(), session.history());
            assertEquals(session.cache().totalBlocks(), session.cache().freeBlocks(), "reset gives every block back");
            session.cache().checkInvariants();
            ChatSession.Turn t3 = session.turn("first question", s -> { });
            assertEquals(0, t3.cachedTokens());
            assertArrayEquals(t1.generated(), t3.generated(), "a reset conversation starts as the first did");
        }
    }

    @Test
    void turnsThatDoNotFitOrThatTheTemplateRefusesLeaveTheHistoryAsItWas(@TempDir Path tmp) throws Exception {
        Path dir = ChatCommandTest.chatModel(tmp);
        try (Backend be = new ReferenceBackend(); ModelSource.Loaded loaded = ModelSource.load(dir, be);
             LlamaModel model = new LlamaModel(loaded.config(), loaded.weights(), be);
             Tokenizer tokenizer = ModelSource.tokenizer(loaded);
             ChatSession session = new ChatSession(model, tokenizer, new ChatTemplate(PICKY_TEMPLATE, "test", null, null),
                     settings(null, 4, 64))) {
            ChatSession.Turn t1 = session.turn("hi", s -> { });
            assertEquals(ChatSession.Ending.MAX_TOKENS, t1.ending());
            List<ChatTemplate.Message> before = new ArrayList<>(session.history());

            var refused = assertThrows(IllegalArgumentException.class, () -> session.turn("bad", s -> { }));
            assertTrue(refused.getMessage().contains("no bad messages"), refused.getMessage());
            assertEquals(before, session.history());

            ChatSession.Turn tooLong = session.turn("x".repeat(64), s -> { });
            assertEquals(ChatSession.Ending.NO_ROOM, tooLong.ending());
            assertTrue(tooLong.promptTokens() > 64);
            assertEquals(before, session.history());

            // A message that leaves room for 2 of the 4 tokens asked: the context ends the answer.
            int rest = bytes("<user>hi<assistant>" + t1.answer() + "<user><assistant>").length;
            ChatSession.Turn t2 = session.turn("y".repeat(64 - 2 - rest), s -> { });
            assertEquals(62, t2.promptTokens());
            assertEquals(ChatSession.Ending.CONTEXT, t2.ending());
            assertEquals(2, t2.generated().length);
        }
    }
}
