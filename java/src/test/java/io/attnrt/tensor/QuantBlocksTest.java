package io.attnrt.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Every quantized type decodes bit-exactly like ggml: the blocks of test-data/gguf/blocks.json (negative
 * scales, zero and subnormal d, all-0 and all-1 quants, 6-bit scales and mins of 63, every packing case)
 * were decoded by an independent writer (scripts/make_test_gguf.py) in float32 in ggml's operation order.
 */
public class QuantBlocksTest {
    static final Path BLOCKS = Path.of("test-data", "gguf", "blocks.json");

    /** One reference block: its type, name, raw bytes and the float32 bits it decodes to. */
    public record Block(DType type, String name, byte[] raw, int[] bits) {
        @Override
        public String toString() {
            return type + " " + name;
        }
    }

    public static List<Block> blocks() throws IOException {
        JsonNode root = new ObjectMapper().readTree(BLOCKS.toFile());
        List<Block> out = new ArrayList<>();
        root.get("types").fields().forEachRemaining(t -> {
            DType type = DType.valueOf(t.getKey());
            assertEquals(type.blockSize(), t.getValue().get("block_elements").asInt(), type + " block size");
            assertEquals(type.blockBytes(), t.getValue().get("block_bytes").asInt(), type + " block bytes");
            for (JsonNode b : t.getValue().get("blocks")) {
                String hex = b.get("f32_bits").asText();
                int[] bits = new int[hex.length() / 8];
                for (int i = 0; i < bits.length; i++) {
                    bits[i] = (int) Long.parseLong(hex.substring(8 * i, 8 * i + 8), 16);
                }
                out.add(new Block(type, b.get("name").asText(), HexFormat.of().parseHex(b.get("hex").asText()), bits));
            }
        });
        return out;
    }

    @Test
    void everyReferenceBlockDecodesBitExactly() throws IOException {
        List<Block> blocks = blocks();
        assertTrue(blocks.size() >= 30, "blocks.json holds " + blocks.size() + " blocks");
        for (DType t : List.of(DType.Q8_0, DType.Q4_0, DType.Q4_K, DType.Q5_K, DType.Q6_K)) {
            assertTrue(blocks.stream().filter(b -> b.type() == t).count() >= 4, "too few " + t + " blocks");
        }
        for (Block b : blocks) {
            float[] out = new float[b.type().blockSize() + 3];
            // at an offset inside a larger buffer, as a row of many blocks is decoded
            byte[] src = new byte[b.raw().length + 5];
            System.arraycopy(b.raw(), 0, src, 5, b.raw().length);
            Quant.dequantize(b.type(), src, 5, out, 3, b.type().blockSize());
            for (int i = 0; i < b.bits().length; i++) {
                assertEquals(b.bits()[i], Float.floatToRawIntBits(out[3 + i]), b + " element " + i + ": expected "
                        + Float.intBitsToFloat(b.bits()[i]) + ", got " + out[3 + i]);
            }
        }
    }

    @Test
    void sizesAndRefusals() {
        assertEquals(34, DType.Q8_0.bytesFor(32));
        assertEquals(144 * 3, DType.Q4_K.bytesFor(768));
        assertEquals(4 * 7, DType.F32.bytesFor(7));
        assertThrows(IllegalArgumentException.class, () -> DType.Q4_K.bytesFor(300));
        assertThrows(UnsupportedOperationException.class, DType.Q6_K::byteSize);
        assertThrows(IllegalArgumentException.class, () -> Quant.dequantize(DType.Q8_0, new byte[34], 0, new float[32], 0, 31));
    }

    @Test
    void randomBlocksHaveTheRequestedSpreadAndAreCountedFiniteUnlessTheirScaleIsNot() {
        for (DType t : List.of(DType.Q8_0, DType.Q4_0, DType.Q4_K, DType.Q5_K, DType.Q6_K)) {
            byte[] raw = new byte[(int) t.bytesFor(256 * 64)];
            Quant.fillRandom(t, raw, 7, 0.5);
            float[] v = new float[256 * 64];
            Quant.dequantize(t, raw, 0, v, 0, v.length);
            double sum = 0, sq = 0;
            for (float x : v) {
                sum += x;
                sq += x * x;
            }
            double mean = sum / v.length, std = Math.sqrt(sq / v.length - mean * mean);
            // Q4_0's quants q − 8 span [−8, 7], so its random blocks lean by half a step: mean ≈ −0.05 here
            assertTrue(Math.abs(mean) < 0.08 && std > 0.3 && std < 0.8, t + ": mean " + mean + ", std " + std);
            assertEquals(0L, Quant.countNonFinite(t, java.nio.ByteBuffer.wrap(raw)), t.name());
            int scaleAt = t == DType.Q6_K ? 208 : 0;
            raw[t.blockBytes() + scaleAt + 1] = (byte) 0x7C; // block 1's d becomes Inf
            raw[t.blockBytes() + scaleAt] = 0;
            assertEquals((long) t.blockSize(), Quant.countNonFinite(t, java.nio.ByteBuffer.wrap(raw)), t.name());
        }
    }
}
