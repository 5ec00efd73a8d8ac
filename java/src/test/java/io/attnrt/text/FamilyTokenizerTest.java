package io.attnrt.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real family tokenizers — Qwen3's byte-level BPE (151k ids, its own split regex, chat and think markers) and
 * a Llama 2 SentencePiece-style BPE with byte fallback — over a corpus of 263 strings (whitespace runs, CRLF,
 * numbers, contractions, code, URLs, ZWJ emoji, CJK, Arabic, Hindi, combining marks, literal special tokens,
 * the empty string, a 5,000-character paragraph), against the ids and decodings Hugging Face's tokenizers
 * library gives (expected.json.gz, from scripts/family_tokenizer_reference.mjs); streaming decode of each
 * never releases a broken character.
 */
class FamilyTokenizerTest {
    static final Path ROOT = Path.of("test-data", "tokenizers", "families");

    @TempDir
    Path tmp;

    private static JsonNode expected() throws IOException {
        try (InputStream in = new GZIPInputStream(Files.newInputStream(ROOT.resolve("expected.json.gz")))) {
            return new ObjectMapper().readTree(in);
        }
    }

    private Tokenizer unpack(String name) throws IOException {
        Path dir = Files.createDirectories(tmp.resolve(name));
        try (InputStream in = new GZIPInputStream(Files.newInputStream(ROOT.resolve(name).resolve("tokenizer.json.gz")))) {
            Files.copy(in, dir.resolve("tokenizer.json"));
        }
        Files.copy(ROOT.resolve(name).resolve("tokenizer_config.json"), dir.resolve("tokenizer_config.json"));
        return Tokenizer.load(dir);
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen3", "llama2"})
    void everyCorpusStringEncodesDecodesAndStreamsAsHuggingFaceTokenizers(String name) throws IOException {
        JsonNode all = expected();
        JsonNode corpus = all.get("corpus");
        JsonNode rows = all.get("tokenizers").get(name);
        assertTrue(corpus.size() >= 200, corpus.size() + " strings");
        try (Tokenizer t = unpack(name)) {
            int streamed = 0;
            for (int i = 0; i < corpus.size(); i++) {
                String text = corpus.get(i).asText();
                int[] want = new int[rows.get(i).get("ids").size()];
                for (int j = 0; j < want.length; j++) {
                    want[j] = rows.get(i).get("ids").get(j).intValue();
                }
                String what = name + " string " + i + " " + new ObjectMapper().writeValueAsString(text);
                int[] ids = t.encode(text);
                assertArrayEquals(want, ids, what);
                assertEquals(rows.get(i).get("decoded").asText(), t.decode(ids, false), what + " decoded");
                streamed += checkStream(t, ids, what);
            }
            assertTrue(streamed > 200, "streamed " + streamed + " strings");
        }
    }

    /** Streams ids after the first whole-character prefix; asserts no broken character, the same text. */
    private static int checkStream(Tokenizer t, int[] ids, String what) {
        int k = 1;
        while (k < ids.length && t.decode(Arrays.copyOf(ids, k), true).endsWith("\uFFFD")) {
            k++;
        }
        if (k >= ids.length) {
            return 0;
        }
        String whole = t.decode(ids, true);
        int[] context = Arrays.copyOf(ids, k);
        TextStream s = t.stream(context);
        StringBuilder out = new StringBuilder(t.decode(context, true));
        for (int i = k; i < ids.length; i++) {
            String piece = s.add(ids[i]);
            assertTrue(!piece.contains("\uFFFD") || whole.contains("\uFFFD"), what + ": step " + i + " released "
                    + piece);
            out.append(piece);
        }
        out.append(s.finish());
        assertEquals(whole, out.toString(), what + " streamed");
        return 1;
    }
}
