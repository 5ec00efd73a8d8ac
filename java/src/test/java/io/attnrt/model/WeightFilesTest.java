package io.attnrt.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.attnrt.tensor.DType;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WeightFilesTest {
    static final Path TINY = LlamaConfigTest.TINY;
    static final Path SHARDED = LlamaConfigTest.TINY_BF16;
    static final String SHARD1 = "model-00001-of-00002.safetensors";
    static final String SHARD2 = "model-00002-of-00002.safetensors";

    @TempDir
    Path dir;

    @Test
    void singleFile() {
        try (WeightFiles w = WeightFiles.open(TINY)) {
            assertEquals(2 * 9 + 3, w.names().size());
            assertTrue(w.contains("lm_head.weight"));
            TensorInfo k = w.info("model.layers.1.self_attn.k_proj.weight");
            assertEquals(TINY.resolve("model.safetensors"), k.file());
            assertEquals(DType.F32, k.dtype());
            assertTrue(k.hasShape(32, 64));
            assertEquals(32 * 64 * 4, w.data("model.layers.1.self_attn.k_proj.weight").remaining());
        }
    }

    @Test
    void shardedDirectoryReadsEachTensorFromItsShard() {
        try (WeightFiles w = WeightFiles.open(SHARDED);
             SafetensorsFile s1 = SafetensorsFile.open(SHARDED.resolve(SHARD1));
             SafetensorsFile s2 = SafetensorsFile.open(SHARDED.resolve(SHARD2))) {
            assertEquals(2 * 9 + 2, w.names().size());
            assertFalse(w.contains("lm_head.weight"));
            assertEquals(s1.names().size() + s2.names().size(), w.names().size());
            for (String name : w.names()) {
                SafetensorsFile holder = s1.contains(name) ? s1 : s2;
                assertEquals(holder.info(name), w.info(name));
                assertEquals(DType.BF16, w.info(name).dtype());
                assertEquals(holder.data(name), w.data(name), name);
            }
            assertEquals(SHARDED.resolve(SHARD1), w.info("model.embed_tokens.weight").file());
            assertEquals(SHARDED.resolve(SHARD2), w.info("model.norm.weight").file());
        }
    }

    @Test
    void missingTensorNamesTensorAndDirectory() {
        try (WeightFiles w = WeightFiles.open(SHARDED)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> w.data("lm_head.weight"));
            assertTrue(e.getMessage().contains("lm_head.weight") && e.getMessage().contains(SHARDED.toString()),
                    e.getMessage());
        }
    }

    private Path copyOfSharded(String index) throws IOException {
        Files.copy(SHARDED.resolve(SHARD1), dir.resolve(SHARD1));
        Files.copy(SHARDED.resolve(SHARD2), dir.resolve(SHARD2));
        Files.writeString(dir.resolve(WeightFiles.INDEX_FILE), index);
        return dir;
    }

    private String index() throws IOException {
        return Files.readString(SHARDED.resolve(WeightFiles.INDEX_FILE));
    }

    private static void assertMessage(Exception e, String... fragments) {
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), () -> "should contain '" + f + "': " + e.getMessage());
        }
    }

    @Test
    void copiedShardsOpen() throws IOException {
        try (WeightFiles w = WeightFiles.open(copyOfSharded(index()))) {
            assertEquals(20, w.names().size());
        }
    }

    @Test
    void missingShardFile() throws IOException {
        copyOfSharded(index());
        Files.delete(dir.resolve(SHARD2));
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> WeightFiles.open(dir));
        assertMessage(e, SHARD2, "does not exist", WeightFiles.INDEX_FILE);
    }

    @Test
    void tensorMappedToAShardWithoutIt() throws IOException {
        String moved = index().replace("\"model.norm.weight\": \"" + SHARD2 + "\"", "\"model.norm.weight\": \"" + SHARD1 + "\"");
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> WeightFiles.open(copyOfSharded(moved)));
        assertMessage(e, "model.norm.weight", SHARD1, "does not contain it");
    }

    @Test
    void shardOutsideTheDirectory() throws IOException {
        String escaped = index().replace("\"model.norm.weight\": \"" + SHARD2 + "\"",
                "\"model.norm.weight\": \"../" + SHARD2 + "\"");
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> WeightFiles.open(copyOfSharded(escaped)));
        assertMessage(e, "../" + SHARD2, "inside the model directory");
    }

    @Test
    void badIndex() throws IOException {
        assertMessage(assertThrows(ModelFormatException.class, () -> WeightFiles.open(copyOfSharded("{\"metadata\":{}}"))),
                "weight_map");
        Files.writeString(dir.resolve(WeightFiles.INDEX_FILE), "{\"weight_map\": {\"a\": 5}}");
        assertMessage(assertThrows(ModelFormatException.class, () -> WeightFiles.open(dir)), "'a'", "shard file name");
        Files.writeString(dir.resolve(WeightFiles.INDEX_FILE), "{\"weight_map\": ");
        assertMessage(assertThrows(ModelFormatException.class, () -> WeightFiles.open(dir)), "not valid JSON");
    }

    @Test
    void directoryWithoutWeights() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> WeightFiles.open(dir));
        assertMessage(e, dir.toString(), WeightFiles.SINGLE_FILE, WeightFiles.INDEX_FILE);
        Path absent = dir.resolve("nope");
        assertMessage(assertThrows(IllegalArgumentException.class, () -> WeightFiles.open(absent)), absent.toString());
    }

    @Test
    void corruptShardIsReportedByName() throws IOException {
        copyOfSharded(index());
        Files.write(dir.resolve(SHARD2), new byte[] {1, 2, 3});
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> WeightFiles.open(dir));
        assertMessage(e, SHARD2, "shorter than");
    }

    @Test
    void returnedBuffersAreExactlyTheTensorBytes() {
        try (WeightFiles w = WeightFiles.open(TINY)) {
            ByteBuffer b = w.data("model.norm.weight");
            assertEquals(64 * 4, b.remaining());
            assertTrue(b.isReadOnly());
        }
    }
}
