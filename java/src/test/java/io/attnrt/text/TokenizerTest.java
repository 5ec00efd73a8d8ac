package io.attnrt.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The tokenizers of test-data/tokenizers against what Hugging Face's tokenizers library itself produced
 * for them (expected.json, written by scripts/tokenizer_reference.mjs through the library's Node binding):
 * ids with and without special tokens, pieces, decoded text, and streamed decoding.
 */
class TokenizerTest {
    static final Path ROOT = Path.of("test-data", "tokenizers");

    @TempDir
    Path tmp;

    static Stream<Arguments> cases() throws IOException {
        JsonNode expected = new ObjectMapper().readTree(ROOT.resolve("expected.json").toFile());
        List<Arguments> out = new ArrayList<>();
        expected.get("tokenizers").fields().forEachRemaining(e -> {
            for (JsonNode c : e.getValue()) {
                out.add(Arguments.of(e.getKey(), c));
            }
        });
        assertTrue(out.size() >= 20, "expected.json lists " + out.size() + " cases");
        return out.stream();
    }

    private static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).intValue();
        }
        return out;
    }

    @ParameterizedTest(name = "{0}: {1}")
    @MethodSource("cases")
    void encodesAndDecodesExactlyAsHuggingFaceTokenizers(String name, JsonNode c) {
        try (Tokenizer t = Tokenizer.load(ROOT.resolve(name))) {
            String text = c.get("text").asText();
            assertArrayEquals(ints(c.get("ids_with_special_tokens")), t.encode(text), "with special tokens");
            int[] ids = ints(c.get("ids"));
            Tokenizer.Pieces p = t.pieces(text, false);
            assertArrayEquals(ids, p.ids(), "ids");
            List<String> pieces = new ArrayList<>();
            c.get("tokens").forEach(n -> pieces.add(n.asText()));
            assertEquals(pieces, List.of(p.pieces()), "pieces");
            assertEquals(c.get("decoded").asText(), t.decode(ids, false), "decoded");
        }
    }

    @ParameterizedTest(name = "{0}: {1}")
    @MethodSource("cases")
    void streamingReleasesTheSameTextAsDecodingAtOnceAndNeverAHalfCharacter(String name, JsonNode c) {
        try (Tokenizer t = Tokenizer.load(ROOT.resolve(name))) {
            int[] ids = ints(c.get("ids"));
            // the first ids up to a whole character are the context (as the prompt would be); the rest arrive
            // one by one
            int k = 1;
            while (k < ids.length && t.decode(java.util.Arrays.copyOf(ids, k), true).endsWith("\uFFFD")) {
                k++;
            }
            if (k >= ids.length) {
                return;
            }
            int[] context = java.util.Arrays.copyOf(ids, k);
            TextStream s = t.stream(context);
            StringBuilder streamed = new StringBuilder();
            for (int i = k; i < ids.length; i++) {
                String piece = s.add(ids[i]);
                assertTrue(!piece.contains("\uFFFD") || c.get("decoded").asText().contains("\uFFFD"),
                        "step " + i + " released a broken character: " + piece);
                streamed.append(piece);
            }
            int beforeFinish = streamed.length();
            streamed.append(s.finish());
            assertTrue(ids.length - k < 3 || beforeFinish > 0, "nothing was released before finish()");
            String whole = t.decode(ids, true);
            String first = t.decode(context, true);
            assertEquals(whole, first + streamed, "streamed text after the context");
        }
    }

    @Test
    void stopTokensComeFromTheConfigFilesAndBadFilesAreNamed() throws IOException {
        try (Tokenizer t = Tokenizer.load(ROOT.resolve("byte-level-bpe"))) {
            assertArrayEquals(t.encode("<|eot_id|>", false), t.stopTokenIds(), "eos_token of tokenizer_config.json");
        }
        Path dir = Files.createDirectories(tmp.resolve("m"));
        Files.copy(ROOT.resolve("sentencepiece-bpe").resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
        Files.writeString(dir.resolve("generation_config.json"), "{\"eos_token_id\": [2, 7]}");
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"eos_token\": {\"content\": \"</s>\"}}");
        try (Tokenizer t = Tokenizer.load(dir)) {
            assertArrayEquals(new int[] {2, 7}, t.stopTokenIds());
        }
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"eos_token\": \"two tokens\"}");
        String notOne = assertThrows(IllegalArgumentException.class, () -> Tokenizer.load(dir)).getMessage();
        assertTrue(notOne.contains("tokenizer_config.json") && notOne.contains("not a single token"), notOne);

        Files.writeString(dir.resolve("tokenizer.json"), "{\"model\": {\"type\": \"NoSuchModel\"}}");
        String bad = assertThrows(IllegalArgumentException.class, () -> Tokenizer.load(dir)).getMessage();
        assertTrue(bad.contains(dir.resolve("tokenizer.json").toString()), bad);
        assertThrows(IllegalArgumentException.class, () -> Tokenizer.load(tmp.resolve("nothing")));
    }

    @Test
    void aStreamAfterIdsPastTheVocabularySkipsThem() {
        // A prompt given as ids may hold embedding padding rows (Qwen's 151,936 rows > its tokenizer's ids).
        try (Tokenizer t = Tokenizer.load(ROOT.resolve("bytes-256"))) {
            TextStream s = t.stream(new int[] {t.maxTokenId() + 5, 'a', t.maxTokenId() + 1});
            assertEquals("B", s.add('B') + s.finish());
        }
    }
}
