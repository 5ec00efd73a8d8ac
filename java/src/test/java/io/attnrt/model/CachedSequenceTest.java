package io.attnrt.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.attnrt.backend.Backend;
import io.attnrt.backend.Tensor;
import io.attnrt.kv.KvCacheExhaustedException;
import io.attnrt.kv.PagedKvCache;
import io.attnrt.tensor.DType;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A sequence reused across prompts computes what a fresh prefill of each prompt computes: checked against the
 * float64 reference logits, on a model with full attention and one with a sliding window.
 */
class CachedSequenceTest {
    static Stream<Arguments> modelsAndBackends() {
        List<Arguments> args = new ArrayList<>();
        for (Path dir : List.of(TestModels.TINY, TestModels.TINY_MISTRAL_WINDOW)) {
            for (Supplier<Backend> b : TestModels.backends()) {
                args.add(Arguments.of(dir, b));
            }
        }
        return args.stream();
    }

    private static void expect(TestModels.Loaded m, Tensor logits, double[] want, String what) {
        float[] got = m.model().backend().download(logits);
        double err = LlamaModelTest.maxAbsDiff(want, got);
        assertTrue(err <= LlamaModelTest.LOGIT_TOLERANCE, m.model().backend().description() + " " + what
                + ": max |logit error| " + err);
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("modelsAndBackends")
    void laterPromptsRunOnlyWhatDiffersAndMatchTheReference(Path dir, Supplier<Backend> backend) {
        try (Backend be = backend.get(); TestModels.Loaded m = TestModels.load(dir, be);
             PagedKvCache cache = m.model().newCache(4, 16, DType.F32)) {
            List<TestModels.Case> cases = TestModels.cases(dir);
            TestModels.Case c = cases.get(cases.size() - 1);
            int[] p = c.prompt();
            int last = p.length - 1;
            try (CachedSequence s = new CachedSequence(m.model(), cache)) {
                // An earlier prompt that agrees with p on 13 tokens, then goes elsewhere.
                int[] other = Arrays.copyOf(p, 20);
                for (int i = 13; i < other.length; i++) {
                    other[i] = (p[i] + 1) % 256;
                }
                s.extendTo(other).close();
                assertEquals(13, s.reusablePrefix(p));
                expect(m, s.extendTo(p), c.logits()[last], "after a 13-token common prefix");
                assertArrayEquals(p, s.tokens());
                cache.checkInvariants();

                for (int step = 0; step < 4; step++) {
                    expect(m, s.append(c.greedy()[step]), c.greedyStepLogits()[step + 1], "greedy step " + (step + 1));
                }
                assertEquals(p.length + 4, s.length());

                // The same prompt again: everything is held, and only its last token runs for the logits.
                assertEquals(last, s.reusablePrefix(p));
                expect(m, s.extendTo(p), c.logits()[last], "the same prompt again");
                assertEquals(p.length, s.length());

                // A prompt that is a prefix of what is held: the rest is dropped and its blocks come back.
                expect(m, s.extendTo(Arrays.copyOf(p, 5)), c.logits()[4], "a 5-token prefix");
                assertEquals(5, s.length());
                assertEquals(16 - 2, cache.freeBlocks());
                cache.checkInvariants();

                s.clear();
                assertEquals(0, s.length());
                assertEquals(16, cache.freeBlocks());
                expect(m, s.extendTo(p), c.logits()[last], "after clear");
            }
            assertEquals(0, cache.numSequences(), "close frees the sequence");
            assertEquals(16, cache.freeBlocks());
        }
    }

    @Test
    void aPromptTheCacheCannotHoldLeavesTheCommonPrefixHeld() {
        try (Backend be = TestModels.backends().get(1).get(); TestModels.Loaded m = TestModels.load(TestModels.TINY, be);
             PagedKvCache cache = m.model().newCache(4, 3, DType.F32);
             CachedSequence s = new CachedSequence(m.model(), cache)) {
            int[] p = TestModels.cases(TestModels.TINY).get(2).prompt(); // 13 tokens: more than 3 blocks of 4
            s.extendTo(Arrays.copyOf(p, 6)).close();
            assertThrows(KvCacheExhaustedException.class, () -> s.extendTo(p));
            assertArrayEquals(Arrays.copyOf(p, 6), s.tokens());
            assertEquals(6, cache.length(0));
            cache.checkInvariants();
            assertThrows(IllegalArgumentException.class, () -> s.extendTo(new int[0]));
        }
    }
}
