package io.attnrt.serve;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.attnrt.backend.SamplingParams;
import io.attnrt.backend.cpu.CpuBackend;
import io.attnrt.kv.PagedKvCache;
import io.attnrt.model.GenerationRequest;
import io.attnrt.model.Generator;
import io.attnrt.model.LlamaConfig;
import io.attnrt.model.LlamaModel;
import io.attnrt.model.LlamaWeights;
import io.attnrt.model.WeightFiles;
import io.attnrt.tensor.DType;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The scheduler against the plain {@link Generator} on the tiny model (cpu backend): whatever the batching,
 * chunking, preemption or prefix reuse, every request gets exactly the tokens it gets alone.
 */
class EngineTest {
    static final Path TINY = Path.of("test-data", "tiny-llama");
    static CpuBackend backend;
    static LlamaConfig config;
    static LlamaWeights weights;

    @BeforeAll
    static void load() {
        backend = new CpuBackend(2, CpuBackend.vectorModulePresent());
        config = LlamaConfig.load(TINY.resolve("config.json"));
        try (WeightFiles files = WeightFiles.open(TINY)) {
            weights = LlamaWeights.load(files, config, backend);
        }
    }

    @AfterAll
    static void close() {
        weights.close();
        backend.close();
    }

    /** Prompts of lengths 1..~90 with distinct tokens. */
    static int[] prompt(int i) {
        SplittableRandom r = new SplittableRandom(100 + i);
        int[] p = new int[1 + (i * 37) % 90];
        for (int k = 0; k < p.length; k++) {
            p[k] = r.nextInt(config.vocabSize());
        }
        return p;
    }

    static int[] alone(int[] prompt, int maxTokens, SamplingParams sampling, long seed) {
        try (LlamaModel model = new LlamaModel(config, weights, backend);
             PagedKvCache cache = model.newCache(16, 64, DType.F32)) {
            return new Generator(model, cache).generate(List.of(new GenerationRequest(prompt, maxTokens, sampling, seed,
                    -1))).get(0).generated();
        }
    }

    record Run(Engine engine, LlamaModel model, PagedKvCache cache) implements AutoCloseable {
        @Override
        public void close() {
            engine.close();
            cache.checkInvariants();
            cache.close();
            model.close();
        }
    }

    static Run engine(int blockSize, int blocks, EngineConfig cfg) {
        LlamaModel model = new LlamaModel(config, weights, backend);
        PagedKvCache cache = model.newCache(blockSize, blocks, DType.F32);
        return new Run(new Engine(model, cache, null, cfg), model, cache);
    }

    static Completion greedy(int[] prompt, int maxTokens) {
        return new Completion(prompt, maxTokens, SamplingParams.GREEDY, 0, 1, null, null, -1);
    }

    @Test
    void thirtyTwoConcurrentRequestsGetWhatEachGetsAlone() throws Exception {
        // 8 running at once, 24 tokens per step: prompts are chunked, most requests wait, decode mixes with prefill.
        try (Run run = engine(4, 256, new EngineConfig(8, 24, 64, false))) {
            List<Collector> got = new ArrayList<>();
            for (int i = 0; i < 32; i++) {
                Collector c = new Collector(1);
                run.engine().submit(greedy(prompt(i), 3 + i % 7), c);
                got.add(c);
            }
            for (int i = 0; i < 32; i++) {
                got.get(i).await();
                assertNull(got.get(i).error);
                assertArrayEquals(alone(prompt(i), 3 + i % 7, SamplingParams.GREEDY, 0), got.get(i).tokens(0), "request " + i);
                assertEquals("length", got.get(i).reasons[0]);
                assertEquals(prompt(i).length, got.get(i).usage.promptTokens());
                assertEquals(3 + i % 7, got.get(i).usage.completionTokens());
            }
            waitIdle(run.engine());
            assertEquals(run.cache().totalBlocks(), run.cache().freeBlocks(), "every block back in the pool");
        }
    }

    @Test
    void aTinyPoolPreemptsAndStillCompletesEveryRequestUnchanged() throws Exception {
        // 20 blocks of 4 tokens = 80 tokens for 6 requests needing up to ~110 together: someone must give way.
        try (Run run = engine(4, 20, new EngineConfig(6, 64, 64, false))) {
            List<Collector> got = new ArrayList<>();
            int[][] prompts = new int[6][];
            for (int i = 0; i < 6; i++) {
                prompts[i] = java.util.Arrays.copyOf(prompt(i + 40), 6 + 3 * i);
                Collector c = new Collector(1);
                run.engine().submit(greedy(prompts[i], 12), c);
                got.add(c);
            }
            for (int i = 0; i < 6; i++) {
                got.get(i).await();
                assertNull(got.get(i).error, "request " + i);
                assertArrayEquals(alone(prompts[i], 12, SamplingParams.GREEDY, 0), got.get(i).tokens(0), "request " + i);
            }
            assertTrue(run.engine().preemptions() > 0, "the pool was large enough that nothing was preempted");
        }
    }

    @Test
    void aSharedPrefixIsComputedOnceAndChangesNothing() throws Exception {
        int[] system = prompt(2);               // 75 tokens
        int[] a = concat(system, new int[] {5, 6, 7});
        int[] b = concat(system, new int[] {9, 10});
        try (Run run = engine(4, 128, new EngineConfig(4, 512, 16, true))) {
            Collector first = new Collector(1);
            run.engine().submit(greedy(a, 5), first);
            first.await();
            long before = run.engine().computedPromptTokens();
            assertEquals(a.length, before);
            Collector second = new Collector(1);
            run.engine().submit(greedy(b, 5), second);
            second.await();
            long computed = run.engine().computedPromptTokens() - before;
            // 75 shared tokens = 18 full blocks of 4 cached; only the rest of b runs.
            assertEquals(b.length - 72, computed, "prompt tokens computed for the second request");
            assertEquals(72, second.usage.cachedPromptTokens());
            assertArrayEquals(alone(b, 5, SamplingParams.GREEDY, 0), second.tokens(0));
            assertArrayEquals(alone(a, 5, SamplingParams.GREEDY, 0), first.tokens(0));
        }
    }

    @Test
    void choicesForkFromThePromptAndEachFollowsItsOwnSeed() throws Exception {
        SamplingParams sampled = new SamplingParams(1.0f, 0, 1f);
        int[] p = prompt(5);
        try (Run run = engine(4, 128, new EngineConfig(8, 64, 16, false))) {
            Collector c = new Collector(3);
            run.engine().submit(new Completion(p, 10, sampled, 42, 3, null, null, -1), c);
            c.await();
            for (int i = 0; i < 3; i++) {
                assertArrayEquals(alone(p, 10, sampled, 42 + i), c.tokens(i), "choice " + i);
            }
            assertEquals(30, c.usage.completionTokens());
            assertTrue(!java.util.Arrays.equals(c.tokens(0), c.tokens(1)), "choices 0 and 1 drew the same tokens");
        }
    }

    @Test
    void aCancelledRequestFreesItsBlocksAndOthersGoOn() throws Exception {
        try (Run run = engine(4, 256, new EngineConfig(4, 64, 16, false))) {
            Collector slow = new Collector(1);
            Engine.Handle h = run.engine().submit(greedy(prompt(7), 200), slow);
            Collector other = new Collector(1);
            run.engine().submit(greedy(prompt(8), 6), other);
            slow.awaitTokens(2);
            h.cancel();
            other.await();
            assertArrayEquals(alone(prompt(8), 6, SamplingParams.GREEDY, 0), other.tokens(0));
            waitIdle(run.engine());
            assertEquals(run.cache().totalBlocks(), run.cache().freeBlocks());
            assertTrue(slow.tokens(0).length < 200, "the cancelled request ran to the end");
        }
    }

    @Test
    void aRequestWhoseTokenCannotBeHandedOutFailsAloneAndFreesItsBlocks() throws Exception {
        try (Run run = engine(4, 256, new EngineConfig(4, 64, 16, false))) {
            Collector broken = new Collector(2) {
                @Override
                public synchronized void onToken(int choice, int token, String t, TokenLogprobs logprobs) {
                    super.onToken(choice, token, t, logprobs);
                    if (tokens.get(choice).size() == 3) {
                        throw new IllegalStateException("client gone");
                    }
                }
            };
            Collector other = new Collector(1);
            run.engine().submit(new Completion(prompt(9), 20, SamplingParams.GREEDY, 0, 2, null, null, -1), broken);
            run.engine().submit(greedy(prompt(10), 20), other);
            broken.await();
            other.await();
            assertTrue(broken.error.contains("client gone"), broken.error);
            assertNull(other.error);
            assertArrayEquals(alone(prompt(10), 20, SamplingParams.GREEDY, 0), other.tokens(0));
            waitIdle(run.engine());
            assertEquals(run.cache().totalBlocks(), run.cache().freeBlocks(), "the failed request's blocks came back");
        }
    }

    @Test
    void badRequestsAreRefusedWithTheirReason() {
        try (Run run = engine(4, 8, new EngineConfig(2, 64, 1, false))) {
            Engine e = run.engine();
            assertTrue(assertThrows(IllegalArgumentException.class, () -> e.submit(greedy(new int[] {999}, 1),
                    new Collector(1))).getMessage().contains("token id 999"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> e.submit(greedy(new int[300], 1),
                    new Collector(1))).getMessage().contains("maximum context length is 256"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> e.submit(greedy(new int[40], 1),
                    new Collector(1))).getMessage().contains("does not fit the KV cache of 32 tokens"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> e.submit(
                    new Completion(new int[] {1}, 1, SamplingParams.GREEDY, 0, 3, null, null, -1),
                    new Collector(3))).getMessage().contains("n must be between 1 and 2"));
        }
    }

    static void waitIdle(Engine e) throws InterruptedException {
        for (int i = 0; i < 500 && e.inFlight() > 0; i++) {
            Thread.sleep(10);
        }
        assertEquals(0, e.inFlight(), "requests still in flight");
    }

    static int[] concat(int[] a, int[] b) {
        int[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
