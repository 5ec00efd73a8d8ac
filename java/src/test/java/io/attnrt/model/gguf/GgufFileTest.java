package io.attnrt.model.gguf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.attnrt.backend.reference.ReferenceBackend;
import io.attnrt.model.LlamaWeights;
import io.attnrt.model.ModelFormatException;
import io.attnrt.text.GgufTokenizer;
import io.attnrt.text.Tokenizer;
import io.attnrt.tensor.DType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The GGUF reader: every value type, and untrusted files refused with its own clear error. */
class GgufFileTest {
    @TempDir
    Path tmp;

    private Path write(byte[] bytes) throws IOException {
        Path f = Files.createTempFile(tmp, "m", ".gguf");
        Files.write(f, bytes);
        return f;
    }

    /** Opening fails with the reader's exception, whose message holds {@code expected}. */
    private void refused(byte[] bytes, String expected) throws IOException {
        Path f = write(bytes);
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> GgufModel.open(f).close());
        assertTrue(e.getMessage().contains(expected), "message '" + e.getMessage() + "' lacks '" + expected + "'");
        assertTrue(e.getMessage().contains(f.toString()), "the message names the file: " + e.getMessage());
    }

    @Test
    void readsEveryMetadataValueTypeAndTheTensorInfos() {
        try (GgufFile f = GgufFile.open(Path.of("test-data", "gguf", "tiny-llama-f32.gguf"))) {
            Map<String, Object> md = f.metadata();
            assertEquals(3, f.version());
            assertEquals(200L, md.get("attnrt.test.uint8"));
            assertEquals(-100L, md.get("attnrt.test.int8"));
            assertEquals(60000L, md.get("attnrt.test.uint16"));
            assertEquals(-30000L, md.get("attnrt.test.int16"));
            assertEquals(4000000000L, md.get("attnrt.test.uint32"));
            assertEquals(-2000000000L, md.get("attnrt.test.int32"));
            assertEquals(0.15625, md.get("attnrt.test.float32"));
            assertEquals(true, md.get("attnrt.test.bool"));
            assertEquals("h\u00e9llo \u2603 \uD83D\uDE00", md.get("attnrt.test.string"));
            assertEquals(Long.parseUnsignedLong("18000000000000000000"), md.get("attnrt.test.uint64"));
            assertEquals(-9000000000000000000L, md.get("attnrt.test.int64"));
            assertEquals(0.1, md.get("attnrt.test.float64"));
            assertEquals(List.of(0L, 1L, 255L), md.get("attnrt.test.array_uint8"));
            assertEquals(List.of(1.5, -2.25), md.get("attnrt.test.array_float64"));
            assertEquals(List.of(), md.get("attnrt.test.array_empty"));
            assertEquals(List.of("a", "", "\u00fc"), md.get("attnrt.test.array_string"));
            // ggml dims are innermost first: an [out, in] weight is stored as ne = {in, out}
            assertArrayEquals(new int[] {64, 64}, f.info("blk.0.attn_q.weight").shape());
            assertArrayEquals(new int[] {176, 64}, f.info("blk.0.ffn_gate.weight").shape());
            assertArrayEquals(new int[] {256, 64}, f.info("token_embd.weight").shape());
            assertEquals(DType.F32, f.info("output.weight").dtype());
            assertEquals(4L * 64 * 176, f.data("blk.0.ffn_up.weight").remaining());
        }
    }

    @Test
    void readsAnArrayOfArrays() throws IOException {
        byte[] inner1 = GgufTestWriter.concat(GgufTestWriter.le(4, 3), GgufTestWriter.le(8, 2), GgufTestWriter.le(2, 1),
                GgufTestWriter.le(2, -2));
        byte[] inner2 = GgufTestWriter.concat(GgufTestWriter.le(4, 8), GgufTestWriter.le(8, 1), GgufTestWriter.string("x"));
        Path f = write(GgufTestWriter.tinyLlama().kv("x.nested", 9, GgufTestWriter.concat(GgufTestWriter.le(4, 9),
                GgufTestWriter.le(8, 2), inner1, inner2)).bytes());
        try (GgufFile g = GgufFile.open(f)) {
            assertEquals(List.of(List.of(1L, -2L), List.of("x")), g.metadata().get("x.nested"));
        }
    }

    @Test
    void theTestWriterMakesALoadableModelWithATokenizer() throws IOException {
        Path f = write(GgufTestWriter.tinyLlama().bytes());
        try (GgufModel g = GgufModel.open(f); ReferenceBackend be = new ReferenceBackend();
             LlamaWeights w = LlamaWeights.load(g, g.config(), be);
             Tokenizer t = GgufTokenizer.fromMetadata(g.metadata(), f.toString())) {
            assertEquals(DType.Q8_0, w.layer(0).wq().dtype());
            assertEquals(8, g.config().vocabSize());
            assertTrue(w.tiedEmbeddings());
            assertArrayEquals(new int[] {1, 6, 4}, t.encode("ab"), "BOS, then the pieces of the little vocabulary");
        }
    }

    @Test
    void badHeadersAreRefusedNamingTheField() throws IOException {
        byte[] good = GgufTestWriter.tinyLlama().bytes();
        byte[] magic = good.clone();
        magic[0] = 'X';
        refused(magic, "not a GGUF file");
        GgufTestWriter v1 = GgufTestWriter.tinyLlama();
        v1.version = 1;
        refused(v1.bytes(), "version 1 is not supported");
        GgufTestWriter v4 = GgufTestWriter.tinyLlama();
        v4.version = 4;
        refused(v4.bytes(), "version 4 is not supported");
        GgufTestWriter manyTensors = GgufTestWriter.tinyLlama();
        manyTensors.tensorCountOverride = Long.MIN_VALUE; // 2^63
        refused(manyTensors.bytes(), "tensor_count 9223372036854775808 is more than");
        GgufTestWriter manyKeys = GgufTestWriter.tinyLlama();
        manyKeys.kvCountOverride = -1L;
        refused(manyKeys.bytes(), "metadata_kv_count 18446744073709551615 is more than");
    }

    @Test
    void lyingLengthsAndCountsAreRefusedBeforeAnythingIsAllocated() throws IOException {
        byte[] hugeKey = GgufTestWriter.concat(GgufTestWriter.le(4, GgufFile.MAGIC), GgufTestWriter.le(4, 3),
                GgufTestWriter.le(8, 0), GgufTestWriter.le(8, 1), GgufTestWriter.le(8, Long.MIN_VALUE), new byte[64]);
        refused(hugeKey, "length 9223372036854775808");
        refused(GgufTestWriter.tinyLlama().kv("x.array", 9, GgufTestWriter.concat(GgufTestWriter.le(4, 0),
                GgufTestWriter.le(8, Long.MIN_VALUE))).bytes(), "array length 9223372036854775808 is more than");
        refused(GgufTestWriter.tinyLlama().kv("x.str", 8, GgufTestWriter.le(8, 1L << 40)).bytes(),
                "metadata 'x.str' has length 1099511627776");
        refused(GgufTestWriter.tinyLlama().kv("x.deep", 9, GgufTestWriter.concat(GgufTestWriter.le(4, 9),
                GgufTestWriter.le(8, 1), GgufTestWriter.le(4, 9), GgufTestWriter.le(8, 1), GgufTestWriter.le(4, 9),
                GgufTestWriter.le(8, 1), GgufTestWriter.le(4, 0), GgufTestWriter.le(8, 0))).bytes(), "nests arrays deeper");
        refused(GgufTestWriter.tinyLlama().kv("x.type", 13, new byte[4]).bytes(), "unknown value type 13");
        refused(GgufTestWriter.tinyLlama().kv("x.bool", 7, new byte[] {2}).bytes(), "BOOL of value 2");
        refused(GgufTestWriter.tinyLlama().str("general.architecture", "llama").bytes(), "appears twice");
        refused(GgufTestWriter.tinyLlama().kv("x.utf8", 8, GgufTestWriter.concat(GgufTestWriter.le(8, 2),
                new byte[] {(byte) 0xC3, 0x28})).bytes(), "is not valid UTF-8");
    }

    @Test
    void badTensorInfosAreRefusedNamingTheTensor() throws IOException {
        byte[] small = new byte[128];
        refused(GgufTestWriter.tinyLlama().tensor("extra", 99, new long[] {32}, small).bytes(),
                "tensor 'extra' has unknown ggml type id 99");
        refused(GgufTestWriter.tinyLlama().tensor("extra", 3, new long[] {32}, small).bytes(),
                "tensor 'extra' has type Q4_1 (id 3), which attnrt does not read");
        refused(GgufTestWriter.tinyLlama().tensor("extra", 0, new long[] {1L << 31}, small).bytes(),
                "ne[0] = 2147483648 is out of range");
        long big = Integer.MAX_VALUE;
        refused(GgufTestWriter.tinyLlama().tensor("extra", 0, new long[] {big, big, big, big}, small).bytes(),
                "overflows 64 bits");
        refused(GgufTestWriter.tinyLlama().tensor("extra", 0, new long[] {1 << 20, 1 << 10}, small).bytes(),
                "lies outside the file");
        refused(GgufTestWriter.tinyLlama().tensorAt("extra", 0, new long[] {32}, small, 1L << 40).bytes(),
                "lies outside the file");
        refused(GgufTestWriter.tinyLlama().tensorAt("extra", 0, new long[] {32}, small, 4).bytes(),
                "not a multiple of the alignment 32");
        refused(GgufTestWriter.tinyLlama().tensor("extra", 8, new long[] {33}, new byte[68]).bytes(),
                "not a whole number of its blocks of 32");
        refused(GgufTestWriter.tinyLlama().tensor("extra", 0, new long[] {1, 1, 1, 1, 1}, small).bytes(),
                "has 5 dimensions");
        refused(GgufTestWriter.tinyLlama().tensor("output_norm.weight", 0, new long[] {32}, small).bytes(),
                "appears twice");
    }

    @Test
    void badModelMetadataIsRefusedNamingTheKey() throws IOException {
        refused(GgufTestWriter.tinyLlama().str("llama.rope.scaling.type", "yarn").bytes(), "rope.scaling.type 'yarn'");
        GgufTestWriter noArch = new GgufTestWriter().u32("llama.block_count", 1);
        refused(noArch.bytes(), "metadata key general.architecture is missing");
        refused(replace("llama.block_count", w -> w.str("llama.block_count", "two")),
                "llama.block_count must be an integer, got String two");
        refused(replace("llama.embedding_length", w -> w), "metadata key llama.embedding_length is missing");
        refused(replace("llama.block_count", w -> w.u32("llama.block_count", 1L << 31)),
                "llama.block_count must be between 1 and 4096, got 2147483648");
        refused(replace("llama.attention.layer_norm_rms_epsilon", w -> w.f32("llama.attention.layer_norm_rms_epsilon",
                Float.NaN)), "layer_norm_rms_epsilon must be finite");
        refused(replace("general.architecture", w -> w.str("general.architecture", "gemma")),
                "general.architecture 'gemma' is not implemented");
        Path f = write(GgufTestWriter.tinyLlama().tensor("blk.0.mystery.weight", 0, new long[] {32}, new byte[128]).bytes());
        try (GgufModel g = GgufModel.open(f); ReferenceBackend be = new ReferenceBackend()) {
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> LlamaWeights.load(g, g.config(), be));
            assertTrue(e.getMessage().contains("blk.0.mystery.weight"), e.getMessage());
        }
    }

    /** Llama 3 scaling arrives as rope_freqs.weight divisors; attnrt finds the parameters that give them. */
    @Test
    void llama3RopeScalingIsRecoveredFromRopeFreqs() throws IOException {
        int half = 8; // head_dim 16
        io.attnrt.backend.RopeScaling s = io.attnrt.backend.RopeScaling.llama3(32, 1, 4, 8192);
        java.nio.ByteBuffer divisors = java.nio.ByteBuffer.allocate(4 * half).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < half; i++) {
            double inv = Math.pow(500000, -2.0 * i / 16);
            divisors.putFloat((float) (inv / s.apply(inv)));
        }
        Path f = write(GgufTestWriter.tinyLlama().without("llama.rope.freq_base").f32("llama.rope.freq_base", 500000f)
                .tensor("rope_freqs.weight", 0, new long[] {half}, divisors.array()).bytes());
        try (GgufModel g = GgufModel.open(f)) {
            assertEquals(s, g.config().ropeScaling());
            assertTrue(!g.names().contains("rope_freqs.weight"), "a config input, not a weight");
        }
        byte[] other = divisors.array().clone();
        other[5] ^= 0x40; // one divisor off: no published parameters give these
        refused(GgufTestWriter.tinyLlama().tensor("rope_freqs.weight", 0, new long[] {half}, other).bytes(),
                "match no Llama 3 rope scaling");
    }

    /** tinyLlama with one key's entry replaced by what {@code edit} appends (or dropped). */
    private static byte[] replace(String key, java.util.function.UnaryOperator<GgufTestWriter> edit) {
        return edit.apply(GgufTestWriter.tinyLlama().without(key)).bytes();
    }

    @Test
    void aFileCutAtAnyByteIsRefusedCleanly() throws IOException {
        byte[] good = GgufTestWriter.tinyLlama().bytes();
        Path f = tmp.resolve("cut.gguf");
        int step = 1;
        for (int len = 0; len < good.length; len += step) {
            Files.write(f, java.util.Arrays.copyOf(good, len));
            assertThrows(ModelFormatException.class, () -> GgufModel.open(f).close(), "cut at " + len);
            step = len < 2048 ? 1 : 97; // every byte of the header, then samples of the data
        }
    }

    /**
     * Thousands of mutated files — random byte flips, truncations, and 8- or 4-byte fields overwritten with
     * huge, negative or zero values — load, or fail with the reader's own exception: never another exception
     * type, an OutOfMemoryError or a hang.
     */
    @Test
    void fuzzedFilesLoadOrFailWithTheReadersOwnError() {
        byte[] good = GgufTestWriter.tinyLlama().bytes();
        int cases = 3000;
        int[] outcome = new int[2];
        assertTimeoutPreemptively(Duration.ofSeconds(120), () -> {
            Path f = tmp.resolve("fuzz.gguf");
            for (int c = 0; c < cases; c++) {
                SplittableRandom r = new SplittableRandom(0x6767L + c);
                byte[] b = mutate(good, r);
                Files.write(f, b);
                try (GgufModel g = GgufModel.open(f); ReferenceBackend be = new ReferenceBackend()) {
                    LlamaWeights.load(g, g.config(), be).close();
                    if (g.metadata().containsKey("tokenizer.ggml.model")) {
                        GgufTokenizer.fromMetadata(g.metadata(), f.toString()).close();
                    }
                    outcome[0]++;
                } catch (IllegalArgumentException expected) { // ModelFormatException and the tokenizer's errors
                    outcome[1]++;
                } catch (Throwable t) {
                    throw new AssertionError("fuzz case " + c + " (seed " + (0x6767L + c) + ") threw " + t, t);
                }
            }
        });
        // the mutations must both break files and leave some loadable, or the test proves little
        assertTrue(outcome[0] > cases / 50 && outcome[1] > cases / 2, "loaded " + outcome[0] + ", refused " + outcome[1]);
    }

    private static byte[] mutate(byte[] good, SplittableRandom r) {
        byte[] b = good.clone();
        int kind = r.nextInt(4);
        int header = Math.min(b.length, 1400); // most of the structure is here
        switch (kind) {
            case 0 -> { // byte flips, mostly in the header
                int n = 1 + r.nextInt(4);
                for (int i = 0; i < n; i++) {
                    int at = r.nextInt(10) < 8 ? r.nextInt(header) : r.nextInt(b.length);
                    b[at] ^= (byte) (1 << r.nextInt(8));
                }
            }
            case 1 -> b = java.util.Arrays.copyOf(b, r.nextInt(b.length)); // truncation
            case 2 -> { // a length/count/offset field overwritten
                long[] values = {Long.MIN_VALUE, -1L, Long.MAX_VALUE, 1L << 32, 1L << 31, 0, 1L << 62, 65536};
                long v = values[r.nextInt(values.length)];
                int at = r.nextInt(header - 8);
                int width = r.nextBoolean() ? 8 : 4;
                for (int i = 0; i < width; i++) {
                    b[at + i] = (byte) (v >>> (8 * i));
                }
            }
            default -> { // a random run of bytes replaced
                int at = r.nextInt(header - 16);
                for (int i = 0; i < 1 + r.nextInt(16); i++) {
                    b[at + i] = (byte) r.nextInt(256);
                }
            }
        }
        return b;
    }
}
