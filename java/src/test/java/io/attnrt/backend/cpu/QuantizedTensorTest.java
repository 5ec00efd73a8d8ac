package io.attnrt.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.attnrt.backend.Backend;
import io.attnrt.backend.Tensor;
import io.attnrt.backend.reference.ReferenceBackend;
import io.attnrt.tensor.DType;
import io.attnrt.tensor.Quant;
import java.nio.ByteBuffer;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Quantized tensors on the host backends: what the formats forbid, and where they may be used, is refused clearly. */
class QuantizedTensorTest {
    @Test
    void rowsThatAreNotWholeBlocksAreRefusedNamingTheBlockSize() {
        for (Backend be : List.of(new ReferenceBackend(), new CpuBackend(2, true))) {
            try (be) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> be.allocate(DType.Q4_K, 4, 300));
                assertTrue(e.getMessage().contains("blocks of 256") && e.getMessage().contains("row of 300"), e.getMessage());
                e = assertThrows(IllegalArgumentException.class, () -> be.uploadRaw(ByteBuffer.allocate(34), DType.Q8_0, 33));
                assertTrue(e.getMessage().contains("blocks of 32"), e.getMessage());
                e = assertThrows(IllegalArgumentException.class, () -> be.upload(new float[32], DType.Q8_0, 32));
                assertTrue(e.getMessage().contains("does not quantize"), e.getMessage());
                assertEquals(0, be.bytesInUse(), "a refused tensor holds no memory");
            }
        }
    }

    @Test
    void quantizedTensorsAreLinearWeightsAndEmbeddingTablesOnly() {
        try (CpuBackend be = new CpuBackend(2, true)) {
            byte[] blocks = new byte[(int) DType.Q8_0.bytesFor(64)];
            Quant.fillRandom(DType.Q8_0, blocks, 1, 1);
            Tensor q = be.uploadRaw(ByteBuffer.wrap(blocks), DType.Q8_0, 64);
            assertEquals(68, q.byteSize());
            Tensor x = be.upload(new float[2 * 64], DType.F32, 2, 64);
            Tensor out = be.allocate(DType.F32, 2, 64);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> be.rmsNorm(x, q, 1e-5f, out));
            assertTrue(e.getMessage().contains("block-quantized"), e.getMessage());
            Tensor cache = be.allocate(DType.Q8_0, 2, 4, 1, 32);
            e = assertThrows(IllegalArgumentException.class, () -> be.copyBlocks(new Tensor[] {cache}, new int[] {0},
                    new int[] {1}));
            assertTrue(e.getMessage().contains("block-quantized"), e.getMessage());
        }
    }
}
