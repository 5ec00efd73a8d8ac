package io.attnrt.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.attnrt.backend.reference.ReferenceBackend;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/** One case per kind of failure a fuzz campaign over mutated Hugging Face model directories found. */
class HfLoaderHardeningTest {
    static final String SHARD1 = "model-00001-of-00002.safetensors";

    @TempDir
    Path tmp;

    /** A writable copy of a test model's loader files (not its reference outputs). */
    static Path copyModel(Path from, Path to) {
        try {
            Files.createDirectories(to);
            try (Stream<Path> files = Files.list(from)) {
                for (Path f : files.toList()) {
                    String name = f.getFileName().toString();
                    if (name.equals("config.json") || name.endsWith(".safetensors") || name.endsWith(".index.json")) {
                        Files.copy(f, to.resolve(name));
                    }
                }
            }
            return to;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Loads {@code dir} as the CLI does; the weights are closed again. */
    static void load(Path dir) {
        LlamaConfig cfg = LlamaConfig.load(dir.resolve("config.json"));
        try (WeightFiles files = WeightFiles.open(dir)) {
            LlamaWeights.load(files, cfg, new ReferenceBackend()).close();
        }
    }

    static boolean mkfifo(Path p) {
        try {
            Process proc = new ProcessBuilder("mkfifo", p.toString()).redirectErrorStream(true).start();
            return proc.waitFor(10, TimeUnit.SECONDS) && proc.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private Path sharded() {
        return copyModel(TestModels.TINY_BF16_SHARDED, tmp.resolve("sharded"));
    }

    private Path single() {
        return copyModel(TestModels.TINY, tmp.resolve("single"));
    }

    private static ModelFormatException refused(Path dir) {
        return assertTimeoutPreemptively(Duration.ofSeconds(20),
                () -> assertThrows(ModelFormatException.class, () -> load(dir)));
    }

    private static void editIndex(Path dir, java.util.function.Consumer<ObjectNode> edit) throws IOException {
        Path index = dir.resolve(WeightFiles.INDEX_FILE);
        ObjectNode root = (ObjectNode) new ObjectMapper().readTree(index.toFile());
        edit.accept((ObjectNode) root.get("weight_map"));
        Files.writeString(index, root.toString());
    }

    private static void editConfig(Path dir, java.util.function.Consumer<ObjectNode> edit) throws IOException {
        Path config = dir.resolve("config.json");
        ObjectNode root = (ObjectNode) new ObjectMapper().readTree(config.toFile());
        edit.accept(root);
        Files.writeString(config, root.toString());
    }

    // 1 ------------------------------------------------------------------ unbounded reads

    @Test
    void indexThatIsAFifoIsRefusedRatherThanReadForever() throws IOException {
        Path dir = sharded();
        Path index = dir.resolve(WeightFiles.INDEX_FILE);
        Files.delete(index);
        assumeTrue(mkfifo(index), "mkfifo is not available");
        ModelFormatException e = refused(dir);
        assertTrue(e.getMessage().contains(index.toString()) && e.getMessage().contains("not a regular file"),
                e.getMessage());
    }

    @Test
    void configThatIsAFifoIsRefusedRatherThanReadForever() throws IOException {
        Path dir = single();
        Path config = dir.resolve("config.json");
        Files.delete(config);
        assumeTrue(mkfifo(config), "mkfifo is not available");
        ModelFormatException e = refused(dir);
        assertTrue(e.getMessage().contains(config.toString()) && e.getMessage().contains("not a regular file"),
                e.getMessage());
    }

    @Test
    void hugeIndexAndConfigAreRefusedBeforeTheyAreRead() throws IOException {
        Path dir = sharded();
        // sparse: gigabytes on paper, nothing on disk; reading them whole would exhaust the heap
        try (RandomAccessFile f = new RandomAccessFile(dir.resolve(WeightFiles.INDEX_FILE).toFile(), "rw")) {
            f.setLength(5L << 30);
        }
        ModelFormatException e = refused(dir);
        assertTrue(e.getMessage().contains(WeightFiles.INDEX_FILE) && e.getMessage().contains("64 MiB"),
                e.getMessage());

        Path single = single();
        try (RandomAccessFile f = new RandomAccessFile(single.resolve("config.json").toFile(), "rw")) {
            f.setLength(3L << 30);
        }
        e = refused(single);
        assertTrue(e.getMessage().contains("config.json") && e.getMessage().contains("4 MiB"), e.getMessage());
    }

    // 2 ------------------------------------------------------------------ shard names leading out

    @Test
    void shardNamesThatNormaliseToTheRootAreRefusedNamingTensorAndEntry() throws IOException {
        for (String bad : List.of("/", "../../..", "..", ".", "sub/" + SHARD1, "../sharded/" + SHARD1, "")) {
            Path dir = copyModel(TestModels.TINY_BF16_SHARDED, tmp.resolve("s" + Integer.toHexString(bad.hashCode())));
            editIndex(dir, m -> m.put("model.norm.weight", bad));
            ModelFormatException e = refused(dir);
            assertTrue(e.getMessage().contains("model.norm.weight") && e.getMessage().contains("'" + bad + "'"),
                    bad + ": " + e.getMessage());
        }
    }

    // 3 ------------------------------------------------------------------ absurd config integers

    @Test
    void absurdLayerCountIsRefusedNamingTheFieldBeforeAnythingIsBuilt() throws IOException {
        Path dir = single();
        editConfig(dir, c -> c.put("num_hidden_layers", Integer.MAX_VALUE));
        ModelFormatException e = assertTimeoutPreemptively(Duration.ofSeconds(5),
                () -> assertThrows(ModelFormatException.class, () -> load(dir)));
        assertTrue(e.getMessage().contains("num_hidden_layers") && e.getMessage().contains("4096"), e.getMessage());
    }

    @Test
    void everyConfigIntegerIsBounded() throws IOException {
        for (String field : List.of("hidden_size", "intermediate_size", "num_attention_heads", "num_key_value_heads",
                "head_dim", "vocab_size", "max_position_embeddings")) {
            Path dir = copyModel(TestModels.TINY, tmp.resolve(field));
            editConfig(dir, c -> c.put(field, Integer.MAX_VALUE));
            ModelFormatException e = refused(dir);
            assertTrue(e.getMessage().contains(field) && e.getMessage().contains("at most"), e.getMessage());
        }
    }

    // 4 ------------------------------------------------------------------ NUL in a shard name

    @Test
    void nulInAShardNameIsAModelFormatErrorNamingTensorAndFile() throws IOException {
        Path dir = sharded();
        editIndex(dir, m -> m.put("model.norm.weight", "model\u0000.safetensors"));
        ModelFormatException e = refused(dir);
        assertTrue(e.getMessage().contains("model.norm.weight") && e.getMessage().contains(WeightFiles.INDEX_FILE),
                e.getMessage());
    }

    // 5 ------------------------------------------------------------------ not a file, not UTF-8

    @Test
    void indexThatIsADirectoryIsRefusedNamingIt() throws IOException {
        Path dir = sharded();
        Path index = dir.resolve(WeightFiles.INDEX_FILE);
        Files.delete(index);
        Files.createDirectory(index);
        ModelFormatException e = refused(dir);
        assertTrue(e.getMessage().contains(index.toString()), e.getMessage());
    }

    @Test
    void invalidUtf8InIndexOrConfigIsRefusedNamingTheFile() throws IOException {
        Path dir = sharded();
        Path index = dir.resolve(WeightFiles.INDEX_FILE);
        byte[] bytes = Files.readAllBytes(index);
        int at = new String(bytes, StandardCharsets.ISO_8859_1).indexOf("model.norm.weight");
        bytes[at] = (byte) 0xff;
        Files.write(index, bytes);
        ModelFormatException e = refused(dir);
        assertTrue(e.getMessage().contains(index.toString()) && e.getMessage().contains("not valid UTF-8"),
                e.getMessage());

        Path single = single();
        Path config = single.resolve("config.json");
        bytes = Files.readAllBytes(config);
        bytes[new String(bytes, StandardCharsets.ISO_8859_1).indexOf("llama")] = (byte) 0xc3; // a truncated sequence
        Files.write(config, bytes);
        e = refused(single);
        assertTrue(e.getMessage().contains(config.toString()) && e.getMessage().contains("not valid UTF-8"),
                e.getMessage());
    }

    // 6 ------------------------------------------------------------------ floats that are not floats

    @Test
    void floatFieldsMustBeRepresentableAsFloat() throws IOException {
        for (String field : List.of("rms_norm_eps", "rope_theta")) {
            for (double v : new double[] {1e39, 1e-50, -1.0}) {
                Path dir = copyModel(TestModels.TINY, tmp.resolve(field + v));
                editConfig(dir, c -> c.put(field, v));
                ModelFormatException e = refused(dir);
                assertTrue(e.getMessage().contains(field), e.getMessage());
            }
        }
        Path dir = copyModel(TestModels.TINY, tmp.resolve("linear"));
        editConfig(dir, c -> c.putObject("rope_scaling").put("rope_type", "linear").put("factor", 1e39));
        ModelFormatException e = refused(dir);
        assertTrue(e.getMessage().contains("factor"), e.getMessage());
    }

    // 7 ------------------------------------------------------------------ huge strings quoted in errors

    @Test
    void hugeUntrustedStringsAreTruncatedInErrors() throws IOException {
        String huge = "X".repeat(10_000_000);
        Path dir = single();
        Path st = dir.resolve(WeightFiles.SINGLE_FILE);
        String header = "{\"model.norm.weight\":{\"dtype\":\"" + huge + "\",\"shape\":[64],\"data_offsets\":[0,256]}}";
        SafetensorsTestWriter.writeRaw(st, header, new byte[256]);
        ModelFormatException e = refused(dir);
        assertTrue(e.getMessage().length() < 1000 && e.getMessage().contains("…"), head(e));

        Path cfgDir = copyModel(TestModels.TINY, tmp.resolve("act"));
        editConfig(cfgDir, c -> c.put("hidden_act", huge.substring(0, 3_000_000))); // under the size cap
        e = refused(cfgDir);
        assertTrue(e.getMessage().length() < 1000 && e.getMessage().contains("hidden_act"),
                head(e));

        Path idxDir = copyModel(TestModels.TINY_BF16_SHARDED, tmp.resolve("idx"));
        editIndex(idxDir, m -> m.put("model.norm.weight", huge));
        e = refused(idxDir);
        assertTrue(e.getMessage().length() < 1000 && e.getMessage().contains("model.norm.weight"),
                head(e));
    }

    private static String head(Exception e) {
        String m = e.getMessage();
        return m.length() > 300 ? m.substring(0, 300) : m;
    }

    // non-finite weights: loaded, but said so

    @Test
    void nonFiniteWeightsLoadWithOneWarningNamingTensorAndCount() throws IOException {
        for (Path model : List.of(TestModels.TINY, TestModels.TINY_BF16_SHARDED)) {
            Path dir = copyModel(model, tmp.resolve(model.getFileName()));
            String tensor = "model.layers.1.mlp.up_proj.weight"; // fused with gate_proj on upload
            poison(dir, tensor, 5);
            ch.qos.logback.classic.Logger log = (ch.qos.logback.classic.Logger) LoggerFactory.getLogger(LlamaWeights.class);
            ListAppender<ILoggingEvent> events = new ListAppender<>();
            events.start();
            log.addAppender(events);
            try {
                load(dir);
            } finally {
                log.detachAppender(events);
            }
            List<String> warnings = events.list.stream().filter(ev -> ev.getLevel() == Level.WARN)
                    .map(ILoggingEvent::getFormattedMessage).toList();
            assertEquals(1, warnings.size(), warnings.toString());
            assertTrue(warnings.get(0).contains(tensor) && warnings.get(0).contains(" 5 "), warnings.get(0));
        }
    }

    /** Overwrites the first {@code count} values of {@code tensor} with NaN, +Inf and -Inf in turn. */
    private static void poison(Path dir, String tensor, int count) throws IOException {
        Path file;
        Path index = dir.resolve(WeightFiles.INDEX_FILE);
        if (Files.exists(index)) {
            file = dir.resolve(new ObjectMapper().readTree(index.toFile()).get("weight_map").get(tensor).asText());
        } else {
            file = dir.resolve(WeightFiles.SINGLE_FILE);
        }
        byte[] bytes = Files.readAllBytes(file);
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        long headerLength = b.getLong(0);
        JsonNode entry = new ObjectMapper().readTree(new String(bytes, 8, (int) headerLength, StandardCharsets.UTF_8))
                .get(tensor);
        int at = (int) (8 + headerLength + entry.get("data_offsets").get(0).asLong());
        float[] values = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY};
        for (int i = 0; i < count; i++) {
            float v = values[i % values.length];
            if (entry.get("dtype").asText().equals("F32")) {
                b.putFloat(at + 4 * i, v);
            } else {
                b.putShort(at + 2 * i, (short) (Float.floatToRawIntBits(v) >>> 16));
            }
        }
        Files.write(file, bytes);
    }
}
