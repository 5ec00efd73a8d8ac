package io.attnrt.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.attnrt.backend.RopeStyle;
import io.attnrt.backend.cpu.CpuBackend;
import io.attnrt.backend.reference.ReferenceBackend;
import io.attnrt.tensor.DType;
import org.junit.jupiter.api.Test;

/** The warm-up model keeps the real model's head geometry, runs its iterations, and stays out of small runs. */
class WarmupTest {

    @Test
    void theTinyModelKeepsHeadDimGqaRatioAndFlags() {
        LlamaConfig real = LlamaConfig.builder().vocabSize(128256).hiddenSize(4096).numHiddenLayers(32)
                .numAttentionHeads(32).numKeyValueHeads(8).intermediateSize(14336).ropeTheta(500000)
                .qkvBias(true).ropeStyle(RopeStyle.INTERLEAVED).slidingWindow(4096).build();
        for (DType type : new DType[] {DType.F32, DType.BF16, DType.Q4_K, DType.Q6_K}) {
            LlamaConfig tiny = Warmup.tinyLike(real, type);
            assertEquals(128, tiny.headDim());
            assertEquals(4, tiny.numAttentionHeads() / tiny.numKeyValueHeads(), type + ": GQA ratio");
            assertTrue(tiny.qkvBias() && tiny.ropeStyle() == RopeStyle.INTERLEAVED && tiny.slidingWindow() == 4096);
            assertEquals(500000, tiny.ropeTheta());
            assertEquals(0, tiny.qWidth() % 256, type + ": whole quantization blocks");
            assertTrue(tiny.parameterCount() < 2_000_000, "tiny: " + tiny.parameterCount());
        }
        LlamaConfig mha80 = LlamaConfig.builder().vocabSize(32000).hiddenSize(2560).numHiddenLayers(2)
                .numAttentionHeads(32).numKeyValueHeads(32).headDim(80).intermediateSize(6912).build();
        LlamaConfig q = Warmup.tinyLike(mha80, DType.Q8_0);
        assertEquals(1, q.numAttentionHeads() / q.numKeyValueHeads());
        assertEquals(0, q.qWidth() % 256, "head dim 80 still gives whole blocks: " + q.qWidth());
    }

    @Test
    void runsItsIterationsOnTheCpuBackendAndSkipsSmallModelsAndOtherBackends() {
        try (CpuBackend cpu = new CpuBackend(2, true); ReferenceBackend ref = new ReferenceBackend()) {
            LlamaConfig bench = LlamaConfig.benchmark();
            assertNull(Warmup.start(ref, bench, DType.F32), "only JIT-compiled kernels need it");
            LlamaConfig small = LlamaConfig.builder().vocabSize(256).hiddenSize(64).numHiddenLayers(2)
                    .numAttentionHeads(4).numKeyValueHeads(2).intermediateSize(128).build();
            assertNull(Warmup.start(cpu, small, DType.F32), "a model this small prefills fast cold");
            for (DType type : new DType[] {DType.F32, DType.Q4_K}) {
                Warmup w = Warmup.start(cpu, bench, type);
                assertNotNull(w);
                w.await();
                assertNull(w.failure(), type + ": " + w.failure());
                assertTrue(w.iterations() >= Warmup.MIN_ITERATIONS, type + ": " + w.iterations());
            }
            assertEquals(0, cpu.bytesInUse(), "the warm-up model frees everything it allocated");
            String old = System.getProperty("attnrt.warmup");
            try {
                System.setProperty("attnrt.warmup", "false");
                assertFalse(Warmup.applies(cpu, bench));
            } finally {
                if (old == null) {
                    System.clearProperty("attnrt.warmup");
                } else {
                    System.setProperty("attnrt.warmup", old);
                }
            }
        }
    }
}
