package io.attnrt.text;

import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * A GGUF file's tokenizer metadata is untrusted and reaches native code (Hugging Face's tokenizers through
 * DJL): mutated vocabularies — odd, empty, duplicate, huge or invalid-Unicode tokens, non-finite scores, wild
 * token types and ids, broken merges, wrong value types, missing keys — must build a working tokenizer or
 * fail with IllegalArgumentException, never another exception, a native crash or a hang.
 */
class GgufTokenizerFuzzTest {
    private static final String[] ODD = {"", " ", "\u0000", "\uD800", "a\uDFFFb", "<s>", "\u2581", "x".repeat(10_000),
        "a b", "\n", "\u00e9", "\uD83D\uDE00", "<0x41>", "<0xZZ>", "[", "\\", "\"", "{{"};

    @Test
    void mutatedTokenizerMetadataBuildsOrFailsWithItsOwnError() {
        int cases = 3000;
        int[] outcome = new int[2];
        assertTimeoutPreemptively(Duration.ofSeconds(120), () -> {
            for (int c = 0; c < cases; c++) {
                SplittableRandom r = new SplittableRandom(0x70cL + c);
                Map<String, Object> md = mutate(r.nextBoolean() ? GgufTokenizerTest.tiny()
                        : GgufTokenizerTest.byteLevelTiny(), r);
                try (Tokenizer t = GgufTokenizer.fromMetadata(md, "fuzz case " + c)) {
                    for (String text : List.of("hi", " hi there", "ab\u00e9\uD83D\uDE00", "", "<s>x</s>")) {
                        int[] ids = t.encode(text);
                        t.decode(ids, false);
                    }
                    outcome[0]++;
                } catch (IllegalArgumentException expected) {
                    outcome[1]++;
                } catch (Throwable e) {
                    throw new AssertionError("fuzz case " + c + " (seed " + (0x70cL + c) + ") threw " + e, e);
                }
            }
        });
        assertTrue(outcome[0] > cases / 20 && outcome[1] > cases / 5, "built " + outcome[0] + ", refused " + outcome[1]);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> mutate(Map<String, Object> base, SplittableRandom r) {
        Map<String, Object> md = new LinkedHashMap<>();
        base.forEach((k, v) -> md.put(k, v instanceof List<?> l ? new ArrayList<>(l) : v));
        int n = 1 + r.nextInt(3);
        for (int i = 0; i < n; i++) {
            md.replaceAll((k, v) -> v instanceof List<?> l ? new ArrayList<>(l) : v); // earlier steps may put List.of
            Object tokens = md.get("tokenizer.ggml.tokens");
            switch (r.nextInt(10)) {
                case 0, 1 -> { // a token replaced by an odd string or another token (a duplicate)
                    if (tokens instanceof List<?> l && !l.isEmpty()) {
                        List<Object> list = (List<Object>) l;
                        list.set(r.nextInt(list.size()), r.nextBoolean() ? ODD[r.nextInt(ODD.length)]
                                : list.get(r.nextInt(list.size())));
                    }
                }
                case 2 -> { // scores and token types gone wild
                    Object s = md.get("tokenizer.ggml.scores");
                    if (s instanceof List<?> l && !l.isEmpty()) {
                        double[] wild = {Double.NaN, Double.POSITIVE_INFINITY, -1e300, 0};
                        ((List<Object>) l).set(r.nextInt(l.size()), wild[r.nextInt(wild.length)]);
                    } else {
                        md.put("tokenizer.ggml.token_type", List.of(99L, -3L));
                    }
                }
                case 3 -> md.put("tokenizer.ggml." + (r.nextBoolean() ? "bos" : "eos") + "_token_id",
                        new long[] {-1, 1L << 40, 0, 300, Long.MIN_VALUE}[r.nextInt(5)]);
                case 4 -> md.put("tokenizer.ggml.add_bos_token", r.nextBoolean() ? (Object) 1L : "yes");
                case 5 -> md.put("tokenizer.ggml.merges", List.of(ODD[r.nextInt(ODD.length)], "a b", "zz qq"));
                case 6 -> md.put("tokenizer.ggml.pre", ODD[r.nextInt(ODD.length)]);
                case 7 -> { // a key of the wrong value type
                    String[] keys = {"tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type",
                        "tokenizer.ggml.model", "tokenizer.ggml.merges"};
                    Object[] values = {42L, "text", List.of(1L, "x"), List.of(), 1.5, List.of(List.of("a"))};
                    md.put(keys[r.nextInt(keys.length)], values[r.nextInt(values.length)]);
                }
                case 8 -> md.remove(new ArrayList<>(md.keySet()).get(r.nextInt(md.size())));
                default -> { // a list cut short
                    String[] keys = {"tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type"};
                    Object v = md.get(keys[r.nextInt(keys.length)]);
                    if (v instanceof List<?> l && l.size() > 1) {
                        l.remove(r.nextInt(l.size()));
                    }
                }
            }
        }
        return md;
    }
}
