package io.attnrt.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.attnrt.backend.Backend;
import io.attnrt.backend.cpu.CpuBackend;
import io.attnrt.backend.reference.ReferenceBackend;
import io.attnrt.tensor.DType;
import io.attnrt.tensor.HalfFloats;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model stored in F16: the committed F32 test model rewritten with every tensor rounded to IEEE half,
 * loaded through the same safetensors path, run on every CPU backend.
 */
class F16ModelTest {
    @TempDir
    static Path dir;

    @BeforeAll
    static void writeF16Copy() throws Exception {
        Files.copy(TestModels.TINY.resolve("config.json"), dir.resolve("config.json"));
        SafetensorsTestWriter writer = new SafetensorsTestWriter();
        try (WeightFiles f32 = WeightFiles.open(TestModels.TINY)) {
            for (String name : f32.names()) {
                TensorInfo info = f32.info(name);
                assertEquals(DType.F32, info.dtype(), name);
                ByteBuffer src = f32.data(name).order(ByteOrder.LITTLE_ENDIAN);
                ByteBuffer dst = ByteBuffer.allocate((int) info.numel() * 2).order(ByteOrder.LITTLE_ENDIAN);
                for (int i = 0; i < info.numel(); i++) {
                    dst.putShort(HalfFloats.floatToF16(src.getFloat(i * 4)));
                }
                writer.add(name, "F16", info.shape(), dst.array());
            }
        }
        writer.write(dir.resolve("model.safetensors"));
    }

    private static float[][] logits(Backend be, int[] prompt) {
        try (TestModels.Loaded m = TestModels.load(dir, be)) {
            assertEquals(DType.F16, m.weights().layer(0).wq().dtype());
            return LlamaModelTest.allLogits(m, prompt);
        }
    }

    @Test
    void everyCpuBackendMatchesTheReferenceOnTheSameHalfWeights() {
        List<Supplier<Backend>> cpus = List.of(() -> new CpuBackend(2, CpuBackend.vectorModulePresent()),
                () -> new CpuBackend(2, false));
        for (TestModels.Case c : TestModels.cases(TestModels.TINY)) {
            float[][] want;
            try (Backend ref = new ReferenceBackend()) {
                want = logits(ref, c.prompt());
            }
            for (Supplier<Backend> cpu : cpus) {
                try (Backend be = cpu.get()) {
                    float[][] got = logits(be, c.prompt());
                    for (int p = 0; p < got.length; p++) {
                        // both read the same half values; only fp32 vs double accumulation differs (as for F32)
                        double err = LlamaModelTest.maxAbsDiff(LlamaModelTest.toDouble(want[p]), got[p]);
                        assertTrue(err <= LlamaModelTest.LOGIT_TOLERANCE,
                                be.description() + " '" + c.text() + "' position " + p + ": " + err);
                    }
                }
            }
        }
    }

    @Test
    void halfWeightsStayCloseToTheFullPrecisionReference() {
        try (Backend be = new CpuBackend(2, CpuBackend.vectorModulePresent())) {
            double worst = 0;
            for (TestModels.Case c : TestModels.cases(TestModels.TINY)) {
                float[][] got = logits(be, c.prompt());
                for (int p = 0; p < got.length; p++) {
                    worst = Math.max(worst, LlamaModelTest.maxAbsDiff(c.logits()[p], got[p]));
                }
            }
            // Rounding every weight to half (relative error ≤ 2^-11) moves these logits (|logit| ≤ ~13) by
            // up to ~0.02 (measured 0.019); a misread tensor (byte order, offsets, wrong dtype) moves them by units.
            assertTrue(worst < 0.05, "F16 model vs F32 float64 reference: max |logit error| " + worst);
            assertTrue(worst > 0, "the half rounding must show: identical logits mean F32 weights were read");
        }
    }
}
