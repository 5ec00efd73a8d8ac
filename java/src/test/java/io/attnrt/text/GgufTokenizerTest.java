package io.attnrt.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * GGUF tokenizer metadata built from real Hugging Face tokenizers the way llama.cpp's converter writes it, then
 * tokenized through {@link GgufTokenizer}: the ids must be Hugging Face's own over the family corpus (263 strings),
 * and the metadata's other keys (BOS, stop tokens, chat template) and its errors behave as llama.cpp's do.
 */
class GgufTokenizerTest {
    static final Path TOKENIZERS = Path.of("test-data", "tokenizers");
    static final Path FAMILIES = TOKENIZERS.resolve("families");
    static final ObjectMapper JSON = new ObjectMapper();

    static JsonNode expected;
    static JsonNode llama2;
    static JsonNode qwen3;

    @BeforeAll
    static void read() throws IOException {
        expected = gunzip(FAMILIES.resolve("expected.json.gz"));
        llama2 = gunzip(FAMILIES.resolve("llama2").resolve("tokenizer.json.gz"));
        qwen3 = gunzip(FAMILIES.resolve("qwen3").resolve("tokenizer.json.gz"));
    }

    private static JsonNode gunzip(Path p) throws IOException {
        try (InputStream in = new GZIPInputStream(Files.newInputStream(p))) {
            return JSON.readTree(in);
        }
    }

    /** The vocabulary in id order, added tokens included (they sit in these files' model vocab or after it). */
    private static List<String> tokensById(JsonNode tj, int size) {
        String[] byId = new String[size];
        tj.get("model").get("vocab").fields().forEachRemaining(e -> byId[e.getValue().intValue()] = e.getKey());
        for (JsonNode t : tj.get("added_tokens")) {
            byId[t.get("id").intValue()] = t.get("content").asText();
        }
        List<String> out = new ArrayList<>();
        for (int i = 0; i < size; i++) {
            // convert_hf_to_gguf.py's filler for ids the tokenizer does not use (Qwen pads to its embedding size)
            out.add(byId[i] != null ? byId[i] : "[PAD" + i + "]");
        }
        return out;
    }

    private static List<String> merges(JsonNode tj) {
        List<String> out = new ArrayList<>();
        for (JsonNode m : tj.get("model").get("merges")) {
            out.add(m.isArray() ? m.get(0).asText() + " " + m.get(1).asText() : m.asText());
        }
        return out;
    }

    /**
     * Llama 2 as a {@code llama} (SentencePiece) GGUF. This tokenizer.json has no SentencePiece scores, only the
     * merges HF derived from them, so each piece's score is minus the rank of the first merge that makes it: that
     * is the order the scores had. (Scoring by -id, as a BPE vocabulary might suggest, is wrong here: the
     * whitespace pieces ▁▁ (259) and ▁▁▁▁ (260) merge last, rank 58876 on; and convert_hf_to_gguf.py's
     * LlamaHfVocab writes a flat -1000 that loses the order altogether.) Byte, unknown and control pieces get 0,
     * as sentencepiece gives them.
     */
    static Map<String, Object> llamaMetadata() {
        JsonNode vocab = llama2.get("model").get("vocab");
        List<String> tokens = tokensById(llama2, vocab.size());
        Map<String, Integer> firstRank = new HashMap<>();
        List<String> merges = merges(llama2);
        for (int r = 0; r < merges.size(); r++) {
            firstRank.putIfAbsent(merges.get(r).replace(" ", ""), r);
        }
        List<Double> scores = new ArrayList<>();
        List<Long> types = new ArrayList<>();
        for (int i = 0; i < tokens.size(); i++) {
            String t = tokens.get(i);
            long type = i == 0 ? 2 : (i == 1 || i == 2) ? 3 : t.matches("<0x[0-9A-F]{2}>") ? 6 : 1;
            types.add(type);
            Integer rank = firstRank.get(t);
            scores.add(type != 1 ? 0.0 : rank != null ? -rank : -(double) (merges.size() + i));
        }
        Map<String, Object> md = new LinkedHashMap<>();
        md.put("general.architecture", "llama");
        md.put("tokenizer.ggml.model", "llama");
        md.put("tokenizer.ggml.tokens", tokens);
        md.put("tokenizer.ggml.scores", scores);
        md.put("tokenizer.ggml.token_type", types);
        md.put("tokenizer.ggml.bos_token_id", 1L);
        md.put("tokenizer.ggml.eos_token_id", 2L);
        md.put("tokenizer.ggml.unknown_token_id", 0L);
        md.put("tokenizer.ggml.add_bos_token", true);
        md.put("tokenizer.ggml.add_eos_token", false);
        return md;
    }

    /** Qwen3 as a {@code gpt2} GGUF with pre-tokenizer qwen2, padded to its 151,936 embedding rows. */
    static Map<String, Object> qwenMetadata() {
        List<String> tokens = tokensById(qwen3, 151936);
        List<Long> types = new ArrayList<>();
        Map<Integer, JsonNode> added = new HashMap<>();
        qwen3.get("added_tokens").forEach(t -> added.put(t.get("id").intValue(), t));
        for (int i = 0; i < tokens.size(); i++) {
            JsonNode a = added.get(i);
            String t = tokens.get(i);
            // the converter: special or special-looking (<|...|>) added tokens are control, other added ones
            // user-defined, the padding unused
            types.add(a != null ? (a.get("special").asBoolean() || t.startsWith("<|") && t.endsWith("|>") ? 3L : 4L)
                    : t.startsWith("[PAD") ? 5L : 1L);
        }
        Map<String, Object> md = new LinkedHashMap<>();
        md.put("tokenizer.ggml.model", "gpt2");
        md.put("tokenizer.ggml.pre", "qwen2");
        md.put("tokenizer.ggml.tokens", tokens);
        md.put("tokenizer.ggml.token_type", types);
        md.put("tokenizer.ggml.merges", merges(qwen3));
        md.put("tokenizer.ggml.eos_token_id", 151645L);
        md.put("tokenizer.ggml.padding_token_id", 151643L);
        md.put("tokenizer.ggml.bos_token_id", 151643L);
        md.put("tokenizer.ggml.add_bos_token", false);
        return md;
    }

    private static int[] ints(JsonNode a) {
        int[] out = new int[a.size()];
        for (int j = 0; j < out.length; j++) {
            out[j] = a.get(j).intValue();
        }
        return out;
    }

    @Test
    void llamaSentencePieceGivesHuggingFaceIdsOverTheCorpus() {
        JsonNode corpus = expected.get("corpus");
        JsonNode rows = expected.get("tokenizers").get("llama2");
        try (Tokenizer t = GgufTokenizer.fromMetadata(llamaMetadata(), "llama2.gguf")) {
            for (int i = 0; i < corpus.size(); i++) {
                String text = corpus.get(i).asText();
                String what = "llama2 string " + i + " " + quote(text);
                int[] ids = t.encode(text);
                assertArrayEquals(ints(rows.get(i).get("ids")), ids, what);
                assertEquals(rows.get(i).get("decoded").asText(), t.decode(ids, false), what + " decoded");
            }
            assertArrayEquals(new int[] {2}, t.stopTokenIds());
            assertEquals(31999, t.maxTokenId());
        }
    }

    @Test
    void qwenByteLevelGivesHuggingFaceIdsOverTheCorpusExceptWhereHuggingFaceNormalizes() {
        JsonNode corpus = expected.get("corpus");
        JsonNode rows = expected.get("tokenizers").get("qwen3");
        int unnormalized = 0;
        try (Tokenizer t = GgufTokenizer.fromMetadata(qwenMetadata(), "qwen3.gguf")) {
            for (int i = 0; i < corpus.size(); i++) {
                String text = corpus.get(i).asText();
                String what = "qwen3 string " + i + " " + quote(text);
                int[] want = ints(rows.get(i).get("ids"));
                int[] ids = t.encode(text);
                String nfc = Normalizer.normalize(text, Normalizer.Form.NFC);
                if (!nfc.equals(text)) {
                    // Qwen's tokenizer.json composes to NFC first; llama.cpp normalizes nothing, so decomposed
                    // text (e + combining acute) keeps its own bytes. Composed, it is HF's ids again.
                    unnormalized++;
                    assertFalse(Arrays.equals(want, ids), what + " should keep its decomposed bytes");
                    assertArrayEquals(want, t.encode(nfc), what + " composed");
                    assertEquals(text, t.decode(ids, false), what + " decoded");
                    continue;
                }
                assertArrayEquals(want, ids, what);
                assertEquals(rows.get(i).get("decoded").asText(), t.decode(ids, false), what + " decoded");
            }
            assertEquals(9, unnormalized, "corpus strings that NFC changes");
            assertArrayEquals(new int[] {151645, 151643}, t.stopTokenIds());
            assertEquals(151935, t.maxTokenId());
            assertEquals("<think>hi</think>", t.decode(t.encode("<think>hi</think>"), true),
                    "user-defined tokens are not special");
            assertEquals("hi", t.decode(t.encode("<|im_start|>hi<|im_end|>"), true));
            assertArrayEquals(new int[] {151644, 6023, 151645}, t.encode("<|im_start|>hi<|im_end|>"));
        }
    }

    /** The generated byte-level tokenizer with Llama 3's split, as a llama-bpe GGUF: BOS by llama.cpp's default. */
    @Test
    void llama3PreTokenizerAddsBosByDefaultAndGivesHuggingFaceIds() throws IOException {
        JsonNode tj = JSON.readTree(TOKENIZERS.resolve("byte-level-bpe").resolve("tokenizer.json").toFile());
        int size = tj.get("model").get("vocab").size() + tj.get("added_tokens").size();
        List<String> tokens = tokensById(tj, size);
        List<Long> types = new ArrayList<>();
        for (int i = 0; i < size; i++) {
            types.add(tokens.get(i).startsWith("<|") ? 3L : 1L);
        }
        Map<String, Object> md = new LinkedHashMap<>();
        md.put("tokenizer.ggml.model", "gpt2");
        md.put("tokenizer.ggml.pre", "llama-bpe");
        md.put("tokenizer.ggml.tokens", tokens);
        md.put("tokenizer.ggml.token_type", types);
        md.put("tokenizer.ggml.merges", merges(tj));
        md.put("tokenizer.ggml.bos_token_id", 471L);
        md.put("tokenizer.ggml.eos_token_id", 472L);
        try (Tokenizer t = GgufTokenizer.fromMetadata(md, "llama3.gguf")) {
            JsonNode cases = JSON.readTree(TOKENIZERS.resolve("expected.json").toFile()).get("tokenizers")
                    .get("byte-level-bpe");
            for (JsonNode c : cases) {
                String text = c.get("text").asText();
                assertArrayEquals(ints(c.get("ids_with_special_tokens")), t.encode(text), quote(text));
                assertArrayEquals(ints(c.get("ids")), t.encode(text, false), quote(text));
                assertEquals(c.get("decoded").asText(), t.decode(ints(c.get("ids")), false), quote(text));
            }
            assertArrayEquals(new int[] {472, 473}, t.stopTokenIds(), "eos and <|eot_id|>");
        }
    }

    @Test
    void bosOnlyWhenTheFileAsksAndEosWhenItAsks() {
        Map<String, Object> md = llamaMetadata();
        md.put("tokenizer.ggml.add_bos_token", false);
        int hello;
        try (Tokenizer t = GgufTokenizer.fromMetadata(md, "llama2.gguf")) {
            int[] ids = t.encode("Hello");
            assertEquals(1, ids.length, "▁Hello is one piece, no BOS: " + Arrays.toString(ids));
            hello = ids[0];
        }
        md.remove("tokenizer.ggml.add_bos_token"); // llama's default: add it
        md.put("tokenizer.ggml.add_eos_token", true);
        try (Tokenizer t = GgufTokenizer.fromMetadata(md, "llama2.gguf")) {
            assertArrayEquals(new int[] {1, hello, 2}, t.encode("Hello"));
            assertArrayEquals(new int[] {hello}, t.encode("Hello", false));
            assertEquals("Hello", t.decode(t.encode("Hello"), true));
            assertEquals("<s> Hello</s>", t.decode(t.encode("Hello"), false));
        }
        Map<String, Object> q = qwenMetadata();
        try (Tokenizer t = GgufTokenizer.fromMetadata(q, "qwen3.gguf")) {
            int[] ids = t.encode("Hello");
            assertEquals(1, ids.length, "Hello is one piece, no BOS: " + Arrays.toString(ids));
            hello = ids[0];
        }
        q.put("tokenizer.ggml.add_bos_token", true);
        try (Tokenizer t = GgufTokenizer.fromMetadata(q, "qwen3.gguf")) {
            assertArrayEquals(new int[] {151643, hello}, t.encode("Hello"));
            assertArrayEquals(new int[] {hello}, t.encode("Hello", false));
        }
        q.remove("tokenizer.ggml.add_bos_token"); // gpt2's default: do not
        try (Tokenizer t = GgufTokenizer.fromMetadata(q, "qwen3.gguf")) {
            assertArrayEquals(new int[] {hello}, t.encode("Hello"));
        }
    }

    /** Names llama.cpp maps to the same pre-tokenizer give the same ids (DeepSeek-R1's Qwen distills: deepseek-r1-qwen). */
    @Test
    void preTokenizerAliasesSplitAsTheirFamily() {
        Map<String, Object> q = qwenMetadata();
        String text = "DeepSeek-R1 (thinks) -- steps\n\n  ahead.x's";
        int[] qwen2;
        try (Tokenizer t = GgufTokenizer.fromMetadata(q, "qwen.gguf")) {
            qwen2 = t.encode(text);
        }
        q.put("tokenizer.ggml.pre", "deepseek-r1-qwen");
        try (Tokenizer t = GgufTokenizer.fromMetadata(q, "r1-distill.gguf")) {
            assertArrayEquals(qwen2, t.encode(text));
        }
        q.put("tokenizer.ggml.pre", "gpt-2"); // GPT-2's split keeps "-" apart from "R": not Qwen's
        try (Tokenizer t = GgufTokenizer.fromMetadata(q, "other.gguf")) {
            assertFalse(Arrays.equals(qwen2, t.encode(text)), "the alias test must be able to fail");
        }
    }

    @Test
    void noSpacePrefixWhenTheFileSaysSo() {
        Map<String, Object> md = llamaMetadata();
        int[] prefixed;
        try (Tokenizer t = GgufTokenizer.fromMetadata(md, "llama2.gguf")) {
            prefixed = t.encode("Hello", false);
        }
        md.put("tokenizer.ggml.add_space_prefix", false);
        try (Tokenizer t = GgufTokenizer.fromMetadata(md, "llama2.gguf")) {
            int[] ids = t.encode("Hello", false);
            assertFalse(Arrays.equals(prefixed, ids), "▁Hello is not what Hello without a prefix gives");
            assertFalse(t.pieces("Hello", false).pieces()[0].startsWith("▁"), "no ▁ in front");
            assertEquals("Hello", t.decode(ids, false));
        }
    }

    @Test
    void stopTokensAddEotEomAndEndOfTurnTexts() {
        Map<String, Object> md = qwenMetadata();
        md.put("tokenizer.ggml.eot_token_id", 151644L);
        md.put("tokenizer.ggml.eom_token_id", 151646L);
        try (Tokenizer t = GgufTokenizer.fromMetadata(md, "qwen3.gguf")) {
            assertArrayEquals(new int[] {151645, 151644, 151646, 151643}, t.stopTokenIds());
        }
    }

    @Test
    void chatTemplateFromTheMetadataWithItsBosAndEos() {
        Map<String, Object> md = llamaMetadata();
        assertNull(GgufTokenizer.chatTemplate(md, "llama2.gguf"));
        md.put("tokenizer.chat_template", "{{ bos_token }}{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}"
                + "{{ eos_token }}{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}");
        ChatTemplate c = GgufTokenizer.chatTemplate(md, "llama2.gguf");
        assertEquals("<s>[user] hi</s>[assistant]", c.render(List.of(new ChatTemplate.Message("user", "hi")), true));

        Map<String, Object> q = qwenMetadata();
        q.put("tokenizer.chat_template", "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n"
                + "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}");
        assertEquals("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", GgufTokenizer.chatTemplate(q)
                .render(List.of(new ChatTemplate.Message("user", "hi")), true));
        q.put("tokenizer.chat_template", 7L);
        assertBad(q, "tokenizer.chat_template", md2 -> GgufTokenizer.chatTemplate(md2, "x.gguf"));
    }

    // ---- untrusted metadata ----

    private static void assertBad(Map<String, Object> md, String key) {
        assertBad(md, key, m -> GgufTokenizer.fromMetadata(m, "x.gguf").close());
    }

    private static void assertBad(Map<String, Object> md, String key, Consumer<Map<String, Object>> use) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> use.accept(md));
        assertTrue(e.getMessage().contains(key), e.getMessage());
        assertTrue(e.getMessage().startsWith("x.gguf"), e.getMessage());
    }

    /** Refused for its type: the message says what the key should be. */
    private static void assertWrongType(Map<String, Object> md, String key) {
        assertBad(md, key + " should be");
    }

    /** A small SentencePiece vocabulary: cheap to break one key at a time. */
    static Map<String, Object> tiny() {
        List<String> tokens = new ArrayList<>(List.of("<unk>", "<s>", "</s>"));
        List<Long> types = new ArrayList<>(List.of(2L, 3L, 3L));
        List<Double> scores = new ArrayList<>(List.of(0.0, 0.0, 0.0));
        for (int b = 0; b < 256; b++) {
            tokens.add(String.format("<0x%02X>", b));
            types.add(6L);
            scores.add(0.0);
        }
        for (String p : List.of("▁", "h", "i", "▁h", "▁hi")) {
            tokens.add(p);
            types.add(1L);
            scores.add(-(double) tokens.size());
        }
        Map<String, Object> md = new LinkedHashMap<>();
        md.put("tokenizer.ggml.model", "llama");
        md.put("tokenizer.ggml.tokens", tokens);
        md.put("tokenizer.ggml.scores", scores);
        md.put("tokenizer.ggml.token_type", types);
        return md;
    }

    @Test
    void tinyVocabularyWorksWithLlamaDefaults() {
        try (Tokenizer t = GgufTokenizer.fromMetadata(tiny(), "x.gguf")) {
            int[] ids = t.encode("hi hé");
            assertEquals(1, ids[0], "BOS 1 by llama.cpp's default");
            assertArrayEquals(new int[] {1, 263, 262, 3 + 0xC3, 3 + 0xA9}, ids, "▁hi ▁h and é's two bytes");
            assertEquals("hi hé", t.decode(ids, true));
            assertArrayEquals(new int[] {2}, t.stopTokenIds(), "EOS 2 by llama.cpp's default");
        }
    }

    @Test
    @SuppressWarnings("unchecked")
    void missingOrMistypedKeysAreRefusedNamingTheKey() {
        Map<String, Object> md = tiny();
        md.remove("tokenizer.ggml.model");
        assertBad(md, "tokenizer.ggml.model");
        md = tiny();
        md.put("tokenizer.ggml.model", "t5");
        assertBad(md, "tokenizer.ggml.model");
        md.put("tokenizer.ggml.model", 3L);
        assertWrongType(md, "tokenizer.ggml.model");
        md = tiny();
        md.remove("tokenizer.ggml.tokens");
        assertBad(md, "tokenizer.ggml.tokens");
        md = tiny();
        md.put("tokenizer.ggml.tokens", "abc");
        assertWrongType(md, "tokenizer.ggml.tokens");
        md = tiny();
        md.put("tokenizer.ggml.tokens", List.of("a", 5L));
        assertWrongType(md, "tokenizer.ggml.tokens[1]");
        md = tiny();
        md.remove("tokenizer.ggml.scores");
        assertBad(md, "tokenizer.ggml.scores");
        md = tiny();
        ((List<Object>) md.get("tokenizer.ggml.scores")).set(7, 0L);
        assertWrongType(md, "tokenizer.ggml.scores[7]");
        md = tiny();
        md.put("tokenizer.ggml.add_bos_token", "yes");
        assertWrongType(md, "tokenizer.ggml.add_bos_token");
        md = tiny();
        md.put("tokenizer.ggml.bos_token_id", 1.0);
        assertWrongType(md, "tokenizer.ggml.bos_token_id");
        md = tiny();
        md.put("tokenizer.ggml.add_space_prefix", 1L);
        assertWrongType(md, "tokenizer.ggml.add_space_prefix");
        md = tiny();
        ((List<Object>) md.get("tokenizer.ggml.token_type")).set(0, 1.5);
        assertWrongType(md, "tokenizer.ggml.token_type[0]");
    }

    @Test
    @SuppressWarnings("unchecked")
    void inconsistentListsAndIdsAreRefusedNamingTheKey() {
        Map<String, Object> md = tiny();
        ((List<Object>) md.get("tokenizer.ggml.scores")).remove(0);
        assertBad(md, "tokenizer.ggml.scores");
        md = tiny();
        ((List<Object>) md.get("tokenizer.ggml.token_type")).add(1L);
        assertBad(md, "tokenizer.ggml.token_type");
        md = tiny();
        ((List<Object>) md.get("tokenizer.ggml.token_type")).set(5, 9L);
        assertBad(md, "tokenizer.ggml.token_type[5]");
        md = tiny();
        ((List<Object>) md.get("tokenizer.ggml.token_type")).set(260, 6L); // "h" as a byte token
        assertBad(md, "tokenizer.ggml.token_type[260]");
        for (String key : List.of("tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.padding_token_id", "tokenizer.ggml.eot_token_id",
                "tokenizer.ggml.eom_token_id")) {
            md = tiny();
            md.put(key, 264L);
            assertBad(md, key);
            md.put(key, -1L);
            assertBad(md, key);
        }
        md = tiny();
        ((List<Object>) md.get("tokenizer.ggml.tokens")).set(262, "h");
        assertBad(md, "tokenizer.ggml.tokens");
    }

    @Test
    void badByteLevelMetadataIsRefusedNamingTheKey() {
        Map<String, Object> md = byteLevelTiny();
        try (Tokenizer t = GgufTokenizer.fromMetadata(md, "x.gguf")) {
            assertArrayEquals(new int[] {256}, t.encode("ab"));
        }
        md.put("tokenizer.ggml.pre", "mystery-" + "x".repeat(200));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> GgufTokenizer.fromMetadata(md, "x.gguf"));
        assertTrue(e.getMessage().contains("tokenizer.ggml.pre \"mystery-xxx"), e.getMessage());
        assertTrue(e.getMessage().length() < 260 && !e.getMessage().contains("x".repeat(100)),
                "the untrusted value is cut: " + e.getMessage());
        md.put("tokenizer.ggml.pre", 2L);
        assertBad(md, "tokenizer.ggml.pre");
        Map<String, Object> m2 = byteLevelTiny();
        m2.remove("tokenizer.ggml.merges");
        assertBad(m2, "tokenizer.ggml.merges");
        m2.put("tokenizer.ggml.merges", List.of("a q"));
        assertBad(m2, "tokenizer.ggml.merges[0]");
        m2.put("tokenizer.ggml.merges", List.of("ab"));
        assertBad(m2, "tokenizer.ggml.merges[0]");
        Map<String, Object> m3 = byteLevelTiny();
        m3.put("tokenizer.ggml.add_bos_token", true); // no BOS id to add
        assertBad(m3, "tokenizer.ggml.bos_token_id");
    }

    /** The 256 byte-level characters and one merge. */
    static Map<String, Object> byteLevelTiny() {
        List<String> tokens = new ArrayList<>();
        for (int b = 0; b < 256; b++) {
            tokens.add(byteChar(b));
        }
        tokens.add("ab");
        Map<String, Object> md = new LinkedHashMap<>();
        md.put("tokenizer.ggml.model", "gpt2");
        md.put("tokenizer.ggml.pre", "gpt-2");
        md.put("tokenizer.ggml.tokens", tokens);
        md.put("tokenizer.ggml.merges", new ArrayList<>(List.of("a b")));
        return md;
    }

    /** GPT-2's byte-to-character map. */
    private static String byteChar(int b) {
        if (b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE) {
            return String.valueOf((char) b);
        }
        int n = 0;
        for (int c = 0; c < b; c++) {
            if (!(c >= '!' && c <= '~' || c >= 0xA1 && c <= 0xAC || c >= 0xAE)) {
                n++;
            }
        }
        return String.valueOf((char) (256 + n));
    }

    private static String quote(String s) {
        try {
            return JSON.writeValueAsString(s.length() > 80 ? s.substring(0, 80) + "..." : s);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
