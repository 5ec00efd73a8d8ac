package io.attnrt.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.attnrt.tensor.DType;
import io.attnrt.tensor.Quant;
import io.attnrt.tensor.QuantBlocksTest;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The Vector API decoder gives the very bits of the scalar one (and so of ggml) on every reference block. */
class QuantSimdTest {
    @Test
    void vectorDecodeEqualsTheReferenceBitsOnEveryBlock() throws Exception {
        assertTrue(CpuBackend.vectorModulePresent(), "the test JVM runs with jdk.incubator.vector");
        Kernels simd = CpuBackend.loadKernels(true);
        List<QuantBlocksTest.Block> blocks = QuantBlocksTest.blocks();
        for (QuantBlocksTest.Block b : blocks) {
            // three copies in a row at an odd offset: the vector loads must stay inside their block
            byte[] src = new byte[1 + 3 * b.raw().length];
            for (int c = 0; c < 3; c++) {
                System.arraycopy(b.raw(), 0, src, 1 + c * b.raw().length, b.raw().length);
            }
            float[] out = new float[3 * b.type().blockSize()];
            simd.dequantize(b.type(), src, 1, out, 0, out.length);
            for (int i = 0; i < out.length; i++) {
                int want = b.bits()[i % b.type().blockSize()];
                assertEquals(want, Float.floatToRawIntBits(out[i]), b + " element " + i);
            }
        }
    }

    @Test
    void vectorDecodeEqualsScalarOnRandomRows() {
        Kernels simd = CpuBackend.loadKernels(true);
        for (DType t : List.of(DType.Q8_0, DType.Q4_0, DType.Q4_K, DType.Q5_K, DType.Q6_K)) {
            byte[] raw = new byte[(int) t.bytesFor(4096)];
            new java.util.SplittableRandom(t.ordinal()).nextBytes(raw); // any bytes are a block; scales may be Inf/NaN
            float[] a = new float[4096], b = new float[4096];
            Quant.dequantize(t, raw, 0, a, 0, a.length);
            simd.dequantize(t, raw, 0, b, 0, b.length);
            for (int i = 0; i < a.length; i++) {
                assertEquals(Float.floatToRawIntBits(a[i]), Float.floatToRawIntBits(b[i]), t + " element " + i);
            }
        }
    }
}
