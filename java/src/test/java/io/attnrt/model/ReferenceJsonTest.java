package io.attnrt.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The reference outputs under test-data/ are well-formed and agree with their model's config. */
class ReferenceJsonTest {

    private static double[] row(JsonNode array) {
        double[] out = new double[array.size()];
        for (int i = 0; i < out.length; i++) {
            assertTrue(array.get(i).isNumber());
            out[i] = array.get(i).doubleValue();
        }
        return out;
    }

    private static int argmax(double[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-llama", "tiny-llama-bf16-sharded"})
    void referenceMatchesTheConfig(String model) throws IOException {
        Path dir = Path.of("test-data", model);
        LlamaConfig cfg = LlamaConfig.load(dir.resolve("config.json"));
        JsonNode ref = new ObjectMapper().readTree(dir.resolve("reference.json").toFile());
        assertEquals("attnrt-reference/1", ref.get("format").asText());
        assertEquals(model, ref.get("model").asText());
        assertEquals(cfg.vocabSize(), ref.get("vocab_size").asInt());
        int vocab = cfg.vocabSize();

        JsonNode cases = ref.get("cases");
        assertTrue(cases.size() >= 3, "at least three prompts");
        Set<Integer> lengths = new HashSet<>();
        for (JsonNode c : cases) {
            int[] prompt = new int[c.get("prompt").size()];
            for (int i = 0; i < prompt.length; i++) {
                prompt[i] = c.get("prompt").get(i).asInt();
                assertTrue(prompt[i] >= 0 && prompt[i] < vocab);
            }
            lengths.add(prompt.length);
            // byte-level: the prompt is the text's UTF-8 bytes
            byte[] text = c.get("text").asText().getBytes(StandardCharsets.UTF_8);
            assertArrayEquals(toInts(text), prompt);

            JsonNode logits = c.get("logits");
            assertEquals(prompt.length, logits.size(), "one logits row per prompt position");
            double[] last = null;
            for (JsonNode r : logits) {
                last = row(r);
                assertEquals(vocab, last.length);
            }
            assertTrue(prompt.length + c.get("greedy").get("new_tokens").asInt() <= cfg.maxPositionEmbeddings());

            JsonNode greedy = c.get("greedy");
            int n = greedy.get("new_tokens").asInt();
            assertEquals(n, greedy.get("tokens").size());
            assertEquals(n, greedy.get("step_logits").size());
            // the first generated token is picked from the prompt's last logits row
            assertArrayEquals(last, row(greedy.get("step_logits").get(0)));
            Set<Integer> distinct = new HashSet<>();
            double minMargin = Double.MAX_VALUE;
            for (int s = 0; s < n; s++) {
                double[] step = row(greedy.get("step_logits").get(s));
                assertEquals(vocab, step.length);
                int token = greedy.get("tokens").get(s).asInt();
                assertEquals(argmax(step), token, "step " + s);
                distinct.add(token);
                double[] sorted = step.clone();
                java.util.Arrays.sort(sorted);
                minMargin = Math.min(minMargin, sorted[vocab - 1] - sorted[vocab - 2]);
            }
            assertEquals(minMargin, greedy.get("min_top2_margin").asDouble(), 1e-12);
            assertTrue(distinct.size() > 1, "continuation is one repeated token");
        }
        assertTrue(lengths.contains(1) && lengths.size() == cases.size(), "prompt lengths " + lengths);
    }

    private static int[] toInts(byte[] b) {
        int[] out = new int[b.length];
        for (int i = 0; i < b.length; i++) {
            out[i] = b[i] & 0xff;
        }
        return out;
    }
}
