package io.attnrt.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.attnrt.model.gguf.GgufFile;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link GgufTokenizer} against real llama.cpp on a real vocabulary: test-data/gguf/vocab-llama2.gguf (the Llama 2
 * family tokenizer as a vocab-only GGUF, scripts/make_gguf_vocab.py) tokenized by llama.cpp itself
 * (scripts/llama_cpp_reference.mjs tokenize, through node-llama-cpp) over the 263-string family corpus, as
 * {@code llama_tokenize(add_special=true, parse_special=false)} and {@code (add_special=true, parse_special=true)}.
 *
 * <p>attnrt always matches control and unknown-typed token text ({@code <s>}, {@code </s>}, {@code <unk>}) in the
 * input, as llama.cpp does with parse_special=true (what llama-server and llama-cli use for prompts). With
 * parse_special=false llama.cpp skips exactly those tokens when it splits the text (llama-vocab.cpp
 * tokenizer_st_partition: "Ignore control and unknown tokens when parse_special == false") and spells them as plain
 * text; those strings are listed below with llama.cpp's ids, and must keep differing.
 */
class GgufTokenizerLlamaCppTest {
    static final Path GGUF_DIR = Path.of("test-data", "gguf");
    static final Path VOCAB = GGUF_DIR.resolve("vocab-llama2.gguf");
    static final ObjectMapper JSON = new ObjectMapper();

    /**
     * The corpus strings llama.cpp tokenizes differently with parse_special=false: their control / unknown token
     * text is split as plain text ("<" "s" ">", with "▁<" where the space prefix or a space precedes it), where
     * attnrt (and llama.cpp with parse_special=true) gives the token. Values: llama.cpp's parse_special=false ids.
     */
    static final Map<String, int[]> PLAIN_TEXT_SPECIALS = new LinkedHashMap<>();

    static {
        PLAIN_TEXT_SPECIALS.put("<s>", new int[] {1, 523, 28713, 28767});
        PLAIN_TEXT_SPECIALS.put(" <s>", new int[] {1, 28705, 523, 28713, 28767});
        PLAIN_TEXT_SPECIALS.put("<s>\n<s>", new int[] {1, 523, 28713, 28767, 13, 28789, 28713, 28767});
        PLAIN_TEXT_SPECIALS.put("</s>", new int[] {1, 1867, 28713, 28767});
        PLAIN_TEXT_SPECIALS.put(" </s>", new int[] {1, 28705, 1867, 28713, 28767});
        PLAIN_TEXT_SPECIALS.put("</s>\n</s>", new int[] {1, 1867, 28713, 28767, 13, 700, 28713, 28767});
        PLAIN_TEXT_SPECIALS.put("<unk>", new int[] {1, 523, 2060, 28767});
        PLAIN_TEXT_SPECIALS.put(" <unk>", new int[] {1, 28705, 523, 2060, 28767});
        PLAIN_TEXT_SPECIALS.put("<unk>\n<unk>", new int[] {1, 523, 2060, 28767, 13, 28789, 2060, 28767});
    }

    static List<String> corpus;
    static JsonNode plain;
    static JsonNode parsed;
    static Map<String, Object> metadata;
    static Tokenizer tokenizer;

    @BeforeAll
    static void read() throws IOException {
        corpus = new ArrayList<>();
        gunzip(Path.of("test-data", "tokenizers", "families", "expected.json.gz")).get("corpus")
                .forEach(s -> corpus.add(s.asText()));
        plain = JSON.readTree(GGUF_DIR.resolve("vocab-llama2.llamacpp.json").toFile());
        parsed = JSON.readTree(GGUF_DIR.resolve("vocab-llama2.llamacpp-parse-special.json").toFile());
        try (GgufFile f = GgufFile.open(VOCAB)) {
            metadata = f.metadata();
        }
        tokenizer = GgufTokenizer.fromMetadata(metadata, VOCAB.getFileName().toString());
    }

    @AfterAll
    static void close() {
        if (tokenizer != null) {
            tokenizer.close();
        }
    }

    private static JsonNode gunzip(Path p) throws IOException {
        try (InputStream in = new GZIPInputStream(Files.newInputStream(p))) {
            return JSON.readTree(in);
        }
    }

    private static int[] ints(JsonNode a) {
        int[] out = new int[a.size()];
        for (int j = 0; j < out.length; j++) {
            out[j] = a.get(j).intValue();
        }
        return out;
    }

    private static void checkHeader(JsonNode doc, boolean parseSpecial) {
        assertEquals("attnrt-llamacpp-tokens/1", doc.get("format").asText());
        assertTrue(doc.get("add_special").asBoolean());
        assertEquals(parseSpecial, doc.get("parse_special").asBoolean());
        JsonNode cases = doc.get("cases");
        assertEquals(263, corpus.size());
        assertEquals(corpus.size(), cases.size(), "one case per corpus string");
        for (int i = 0; i < cases.size(); i++) {
            assertEquals(corpus.get(i), cases.get(i).get("text").asText(), "case " + i);
        }
    }

    /** The file holds the metadata GgufTokenizerTest builds from the same tokenizer.json (plus pre "default"). */
    @Test
    void ggufHoldsTheMetadataGgufTokenizerTestBuilds() throws IOException {
        GgufTokenizerTest.read();
        Map<String, Object> want = GgufTokenizerTest.llamaMetadata();
        for (Map.Entry<String, Object> e : want.entrySet()) {
            assertEquals(normalize(e.getValue()), normalize(metadata.get(e.getKey())), e.getKey());
        }
        assertEquals("default", metadata.get("tokenizer.ggml.pre"));
        assertEquals(0L, ((Number) metadata.get("tokenizer.ggml.unknown_token_id")).longValue());
        assertEquals(31999, tokenizer.maxTokenId());
        assertArrayEquals(new int[] {2}, tokenizer.stopTokenIds());
    }

    /** Integers as long and floats as double, so a u32 in the file equals the test's Long and an f32 its Double. */
    private static Object normalize(Object v) {
        if (v instanceof List<?> l) {
            return l.stream().map(GgufTokenizerLlamaCppTest::normalize).toList();
        }
        if (v instanceof Float || v instanceof Double) {
            return ((Number) v).doubleValue();
        }
        if (v instanceof Number n) {
            return n.longValue();
        }
        return v;
    }

    /** llama_tokenize(add_special=true, parse_special=true): every corpus string, exactly. */
    @Test
    void sameIdsAsLlamaCppParsingSpecialTokens() {
        checkHeader(parsed, true);
        JsonNode cases = parsed.get("cases");
        for (int i = 0; i < cases.size(); i++) {
            String text = corpus.get(i);
            assertArrayEquals(ints(cases.get(i).get("ids")), tokenizer.encode(text),
                    "string " + i + " " + GgufTokenizer.quote(text));
        }
    }

    /**
     * llama_tokenize(add_special=true, parse_special=false): every corpus string exactly, except the nine whose
     * special-token text llama.cpp then reads as plain text; those keep llama.cpp's listed ids and attnrt gives
     * the parse_special=true ids instead.
     */
    @Test
    void sameIdsAsLlamaCppWithoutParsingSpecialTokensExceptSpecialTokenText() {
        checkHeader(plain, false);
        JsonNode cases = plain.get("cases");
        JsonNode parsedCases = parsed.get("cases");
        int same = 0;
        List<String> differing = new ArrayList<>();
        for (int i = 0; i < cases.size(); i++) {
            String text = corpus.get(i);
            String what = "string " + i + " " + GgufTokenizer.quote(text);
            int[] llamaCpp = ints(cases.get(i).get("ids"));
            int[] ids = tokenizer.encode(text);
            int[] known = PLAIN_TEXT_SPECIALS.get(text);
            if (known == null) {
                assertArrayEquals(llamaCpp, ids, what);
                same++;
                continue;
            }
            differing.add(text);
            assertArrayEquals(known, llamaCpp, what + ": llama.cpp's parse_special=false ids");
            assertFalse(Arrays.equals(llamaCpp, ids), what + " no longer differs: " + Arrays.toString(ids));
            assertArrayEquals(ints(parsedCases.get(i).get("ids")), ids, what + ": the parse_special=true ids");
        }
        assertEquals(List.copyOf(PLAIN_TEXT_SPECIALS.keySet()), differing, "the known differences, in corpus order");
        assertEquals(254, same);
    }
}
