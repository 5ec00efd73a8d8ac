package io.attnrt.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.attnrt.backend.Backend;
import io.attnrt.backend.SamplingParams;
import io.attnrt.backend.cpu.CpuBackend;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Request handling around the model: bad input, isolation when the cache runs out, determinism. */
class GeneratorTest {
    private static Backend cpu() {
        return new CpuBackend(2, CpuBackend.vectorModulePresent());
    }

    @Test
    void tokenOutsideTheVocabularyIsRejectedNamingTheToken() {
        try (Backend be = cpu(); TestModels.Loaded m = TestModels.load(TestModels.TINY, be)) {
            var e = assertThrows(IllegalArgumentException.class, () -> m.generator(16, 8)
                    .generate(List.of(GenerationRequest.greedy(new int[] {5, 256, 7}, 3))));
            assertTrue(e.getMessage().contains("token id 256") && e.getMessage().contains("position 1")
                    && e.getMessage().contains("[0, 256)"), e.getMessage());
        }
    }

    @Test
    void promptLongerThanTheContextIsRejected() {
        try (Backend be = cpu(); TestModels.Loaded m = TestModels.load(TestModels.TINY, be)) {
            int[] prompt = new int[250];
            var e = assertThrows(IllegalArgumentException.class,
                    () -> m.generator(16, 32).generate(List.of(GenerationRequest.greedy(prompt, 10))));
            assertTrue(e.getMessage().contains("250 tokens") && e.getMessage().contains("context of 256"), e.getMessage());
            assertThrows(IllegalArgumentException.class,
                    () -> m.generator(16, 32).generate(List.of(GenerationRequest.greedy(new int[0], 10))));
        }
    }

    @Test
    void aRequestTheCacheCannotHoldFailsAloneAndTheOthersAreUnaffected() {
        try (Backend be = cpu(); TestModels.Loaded m = TestModels.load(TestModels.TINY, be)) {
            int[] small = {72, 105};
            int[] big = new int[40];
            for (int i = 0; i < big.length; i++) {
                big[i] = (i * 37) % 256;
            }
            GenerationResult alone = m.generator(4, 64).generate(List.of(GenerationRequest.greedy(small, 6))).get(0);
            // 3 blocks of 4 tokens: enough for small (2 + 6 = 8 tokens), not for big (40 tokens)
            List<GenerationResult> rs = m.generator(4, 3).generate(
                    List.of(GenerationRequest.greedy(big, 4), GenerationRequest.greedy(small, 6)));
            assertNotNull(rs.get(0).error());
            assertTrue(rs.get(0).error().contains("blocks"), rs.get(0).error());
            assertNull(rs.get(1).error());
            assertArrayEquals(alone.generated(), rs.get(1).generated());
        }
    }

    @Test
    void runningOutOfCacheDuringDecodeStopsOnlyThatRequest() {
        try (Backend be = cpu(); TestModels.Loaded m = TestModels.load(TestModels.TINY, be)) {
            int[] a = {1, 2, 3};
            int[] b = {9, 8, 7};
            GenerationResult aloneA = m.generator(4, 64).generate(List.of(GenerationRequest.greedy(a, 10))).get(0);
            // 3 blocks of 4 tokens. After prefill a and b hold one block each; at the second decode step both
            // cross into a new block: a (first in the batch) takes the last free one, b runs out and stops.
            // Its freed block then lets a finish (a stores 3 + 9 tokens = 3 blocks).
            List<GenerationResult> rs = m.generator(4, 3).generate(
                    List.of(GenerationRequest.greedy(a, 10), GenerationRequest.greedy(b, 4)));
            assertNull(rs.get(0).error());
            assertArrayEquals(aloneA.generated(), rs.get(0).generated());
            assertNotNull(rs.get(1).error());
            assertTrue(rs.get(1).error().contains("decode step"), rs.get(1).error());
            assertEquals(2, rs.get(1).generated().length);
        }
    }

    @Test
    void samplingIsReproducibleBySeedAndIdenticalAcrossBackends() {
        SamplingParams p = new SamplingParams(1.2f, 40, 0.9f);
        int[] prompt = {65, 66, 67, 68};
        int[] first;
        try (Backend be = cpu(); TestModels.Loaded m = TestModels.load(TestModels.TINY, be)) {
            first = m.generator(16, 8).generate(List.of(new GenerationRequest(prompt, 20, p, 99, -1))).get(0).generated();
            int[] again = m.generator(16, 8).generate(List.of(new GenerationRequest(prompt, 20, p, 99, -1))).get(0).generated();
            int[] other = m.generator(16, 8).generate(List.of(new GenerationRequest(prompt, 20, p, 100, -1))).get(0).generated();
            assertArrayEquals(first, again);
            assertTrue(!java.util.Arrays.equals(first, other), "a different seed should change a 20-token sample");
        }
        try (Backend be = new io.attnrt.backend.reference.ReferenceBackend();
             TestModels.Loaded m = TestModels.load(TestModels.TINY, be)) {
            int[] ref = m.generator(16, 8).generate(List.of(new GenerationRequest(prompt, 20, p, 99, -1))).get(0).generated();
            assertArrayEquals(ref, first);
        }
    }

    @Test
    void stopTokenEndsTheRequest() {
        try (Backend be = cpu(); TestModels.Loaded m = TestModels.load(TestModels.TINY, be)) {
            int[] prompt = TestModels.cases(TestModels.TINY).get(0).prompt();
            int[] greedy = TestModels.cases(TestModels.TINY).get(0).greedy();
            GenerationResult r = m.generator(16, 8).generate(List.of(
                    new GenerationRequest(prompt, 16, SamplingParams.GREEDY, 0, greedy[1]))).get(0);
            assertEquals(2, r.generated().length);
        }
    }
    @Test
    void aTokenListenerEndsOneRequestEarlyAndItsBlocksAreFreedAtOnce() {
        try (Backend be = cpu(); TestModels.Loaded m = TestModels.load(TestModels.TINY, be);
             io.attnrt.kv.PagedKvCache cache = m.model().newCache(4, 32, io.attnrt.tensor.DType.F32)) {
            int[] a = TestModels.cases(TestModels.TINY).get(1).prompt();
            int[] b = TestModels.cases(TestModels.TINY).get(2).prompt();
            Generator g = new Generator(m.model(), cache);
            GenerationResult aloneA = g.generate(List.of(GenerationRequest.greedy(a, 12))).get(0);
            GenerationResult aloneB = g.generate(List.of(GenerationRequest.greedy(b, 12))).get(0);
            int[] freeAtStep = new int[13];
            // request 1 (b) ends after its 4th token (step 3); request 0 runs on to its 12 tokens
            List<GenerationResult> rs = g.generate(List.of(GenerationRequest.greedy(a, 12),
                    GenerationRequest.greedy(b, 12)), null, (req, step, token) -> {
                        freeAtStep[step] = cache.freeBlocks();
                        return req == 1 && step == 3;
                    });
            assertArrayEquals(aloneA.generated(), rs.get(0).generated());
            assertArrayEquals(java.util.Arrays.copyOf(aloneB.generated(), 4), rs.get(1).generated());
            assertNull(rs.get(1).error());
            // b held 4 blocks (13 prompt + 3 tokens of 4); from step 4 on only a's blocks are taken
            int aBlocksAtStep4 = (a.length + 4 + 3) / 4;
            assertEquals(32 - aBlocksAtStep4, freeAtStep[4]);
            assertEquals(32, cache.freeBlocks());
        }
    }
}
