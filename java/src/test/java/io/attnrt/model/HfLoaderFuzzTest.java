package io.attnrt.model;

import static org.junit.jupiter.api.Assertions.fail;

import ch.qos.logback.classic.Level;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * Mutated copies of the committed test models, loaded the way the CLI loads them (config, weight files,
 * weights on the reference backend): each must load, or fail with the loader's own errors —
 * {@link ModelFormatException} or a plain {@link IllegalArgumentException} — never another exception, an
 * Error, or a hang. Deterministic: case {@code i} draws everything from seed {@code SEED + i}, and
 * {@code -Dattnrt.fuzz.case=i} runs that case alone.
 */
class HfLoaderFuzzTest {
    static final long SEED = 0x5eed_f022L;
    static final int CASES = Integer.getInteger("attnrt.fuzz.cases", 3000);
    static final long CASE_TIMEOUT_S = 10;
    static final String CONFIG = "config.json";

    @TempDir
    Path tmp;

    private Path[] bases;
    private int loaded;
    private int refused;
    private final ObjectMapper json = new ObjectMapper();

    @Test
    void mutatedModelDirectoriesLoadOrFailCleanly() throws Exception {
        bases = new Path[] {
            HfLoaderHardeningTest.copyModel(TestModels.TINY, tmp.resolve("base-single")),
            HfLoaderHardeningTest.copyModel(TestModels.TINY_BF16_SHARDED, tmp.resolve("base-sharded")),
        };
        Integer only = Integer.getInteger("attnrt.fuzz.case");
        // the loader logs every load and every non-finite tensor; thousands of those say nothing here
        ch.qos.logback.classic.Logger log = (ch.qos.logback.classic.Logger) LoggerFactory.getLogger("io.attnrt");
        Level before = log.getLevel();
        log.setLevel(Level.ERROR);
        ExecutorService pool = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "fuzz-case");
            t.setDaemon(true); // a hung case must not keep the test JVM alive
            return t;
        });
        try {
            for (int i = only != null ? only : 0; i < (only != null ? only + 1 : CASES); i++) {
                runCase(pool, i);
            }
        } finally {
            pool.shutdownNow();
            log.setLevel(before);
        }
        if (only == null && (loaded < CASES / 50 || refused < CASES / 2)) {
            // mutations that all fail the same early way (or none that bite) would test nothing
            fail("the mutations are degenerate: " + loaded + " of " + CASES + " cases loaded, " + refused + " were refused");
        }
        System.out.println("HfLoaderFuzzTest: " + CASES + " cases, " + loaded + " loaded, " + refused + " refused");
    }

    private void runCase(ExecutorService pool, int i) throws Exception {
        long seed = SEED + i;
        Random rnd = new Random(seed);
        Path dir = tmp.resolve("case");
        deleteTree(dir);
        List<String> did = new ArrayList<>();
        try {
            Path base = bases[rnd.nextInt(bases.length)];
            did.add(base.getFileName().toString());
            linkCopy(base, dir);
            int mutations = 1 + (rnd.nextInt(4) == 0 ? rnd.nextInt(3) : 0);
            for (int m = 0; m < mutations; m++) {
                did.add(mutate(dir, rnd));
            }
        } catch (IOException | RuntimeException e) {
            throw new AssertionError("case " + i + " (seed " + seed + "): could not prepare " + did, e);
        }
        Future<?> loading = pool.submit(() -> HfLoaderHardeningTest.load(dir));
        try {
            loading.get(CASE_TIMEOUT_S, TimeUnit.SECONDS);
            loaded++;
        } catch (TimeoutException e) {
            loading.cancel(true);
            fail(where(i, seed, did) + " hung for " + CASE_TIMEOUT_S + " s");
        } catch (java.util.concurrent.ExecutionException e) {
            Throwable t = e.getCause();
            if (!(t instanceof ModelFormatException) && t.getClass() != IllegalArgumentException.class) {
                throw new AssertionError(where(i, seed, did) + " threw " + t.getClass().getName(), t);
            }
            refused++;
        }
    }

    private static String where(int i, long seed, List<String> did) {
        String text = String.join("; ", did);
        return "case " + i + " (seed " + seed + ", rerun with -Dattnrt.fuzz.case=" + i + "): "
                + (text.length() > 500 ? text.substring(0, 500) + "..." : text);
    }

    // ------------------------------------------------------------------ preparing a case

    /** {@code to} with hard links to {@code from}'s files: cheap, and every mutation replaces the file first. */
    private static void linkCopy(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        try (Stream<Path> files = Files.list(from)) {
            for (Path f : files.toList()) {
                Files.createLink(to.resolve(f.getFileName()), f);
            }
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> all = Files.walk(dir)) {
            for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    private static List<Path> files(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(Files::isRegularFile).sorted().toList();
        }
    }

    /** Applies one random mutation to {@code dir} and says what it was. */
    private String mutate(Path dir, Random rnd) throws IOException {
        List<Path> files = files(dir);
        if (files.isEmpty()) {
            return "nothing left to mutate";
        }
        Path f = files.get(rnd.nextInt(files.size()));
        String name = f.getFileName().toString();
        byte[] bytes = Files.readAllBytes(f);
        boolean safetensors = name.endsWith(".safetensors");
        int kind = rnd.nextInt(100);
        if (bytes.length == 0 && kind >= 30 && kind < 75) {
            kind = 75; // nothing to flip, cut or overwrite: delete it instead
        }
        String what;
        if (kind < 30) {
            what = editJson(f, bytes, safetensors, rnd);
        } else if (kind < 50) {
            int flips = 1 + rnd.nextInt(8);
            int headerEnd = safetensors && headerEnd(bytes) >= 0 ? headerEnd(bytes) : bytes.length;
            boolean inHeader = headerEnd == bytes.length || rnd.nextBoolean();
            for (int k = 0; k < flips; k++) {
                int at = inHeader ? rnd.nextInt(Math.max(1, headerEnd)) : headerEnd + rnd.nextInt(bytes.length - headerEnd);
                bytes[Math.min(at, bytes.length - 1)] ^= (byte) (1 << rnd.nextInt(8));
            }
            rewrite(f, bytes);
            what = flips + " bit flips in the " + (inHeader ? "header of " : "data of ") + name;
        } else if (kind < 62) {
            int at = rnd.nextInt(bytes.length + 1);
            rewrite(f, Arrays.copyOf(bytes, at));
            what = "truncated " + name + " to " + at + " bytes";
        } else if (kind < 75 && safetensors) {
            long[] lengths = {Long.MAX_VALUE, Long.MIN_VALUE, -1, 0, 1, 1L << 40, SafetensorsFile.MAX_HEADER_BYTES,
                SafetensorsFile.MAX_HEADER_BYTES + 1, bytes.length - 8, bytes.length - 7, headerEnd(bytes) - 8 + 1,
                headerEnd(bytes) - 8 - 1, rnd.nextLong(), rnd.nextInt(bytes.length)};
            long v = lengths[rnd.nextInt(lengths.length)];
            ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putLong(0, v);
            rewrite(f, bytes);
            what = "header length of " + name + " set to " + v;
        } else if (kind < 81) {
            Files.delete(f);
            what = "deleted " + name;
        } else if (kind < 87) {
            Files.delete(f);
            Files.createDirectory(f);
            what = "replaced " + name + " with a directory";
        } else if (kind < 93) {
            rewrite(f, new byte[0]);
            what = "emptied " + name;
        } else if (kind < 95) {
            Files.delete(f);
            if (!HfLoaderHardeningTest.mkfifo(f)) {
                Files.createDirectory(f);
                return "replaced " + name + " with a directory (no mkfifo)";
            }
            what = "replaced " + name + " with a FIFO";
        } else {
            what = addIndex(dir, rnd);
        }
        return what;
    }

    /** A shard index next to a single-file model (or a second look at the sharded one's), with a bad entry. */
    private String addIndex(Path dir, Random rnd) throws IOException {
        Path index = dir.resolve(WeightFiles.INDEX_FILE);
        String shard = pick(rnd, "/", "../../..", "..", ".", "", "a\u0000b", "../x", "model.safetensors",
                "config.json", WeightFiles.INDEX_FILE, "x".repeat(300), "sub/model.safetensors", "\\", "\u00e9");
        String text = "{\"weight_map\": {\"model.embed_tokens.weight\": " + json.writeValueAsString(shard) + "}}";
        Files.deleteIfExists(index);
        Files.writeString(index, text);
        return "index mapping the embedding to " + json.writeValueAsString(shard);
    }

    private static final String RAW = "@@raw@@";

    /** Replaces one value (or key) of a JSON file, or of a safetensors header, with a hostile one. */
    private String editJson(Path f, byte[] bytes, boolean safetensors, Random rnd) throws IOException {
        String name = f.getFileName().toString();
        byte[] data = new byte[0];
        String text;
        if (safetensors) {
            int end = headerEnd(bytes);
            if (end < 0) {
                return "no header to edit in " + name;
            }
            text = new String(bytes, 8, end - 8, StandardCharsets.UTF_8);
            data = Arrays.copyOfRange(bytes, end, bytes.length);
        } else {
            text = new String(bytes, StandardCharsets.UTF_8);
        }
        JsonNode root;
        try {
            root = json.readTree(text);
        } catch (IOException e) {
            return "no JSON to edit in " + name;
        }
        if (!(root instanceof ObjectNode)) {
            return "no JSON object to edit in " + name;
        }
        // descend a random path of objects and arrays, then replace what is there
        JsonNode parent = root;
        String path = "";
        for (int depth = 0; depth < 3; depth++) {
            List<String> keys = new ArrayList<>();
            parent.fieldNames().forEachRemaining(keys::add);
            int size = parent.isArray() ? parent.size() : keys.size();
            if (size == 0) {
                break;
            }
            int pick = rnd.nextInt(size);
            JsonNode child = parent.isArray() ? parent.get(pick) : parent.get(keys.get(pick));
            String step = parent.isArray() ? "[" + pick + "]" : "." + keys.get(pick);
            if (!child.isContainerNode() || child.isEmpty() || rnd.nextInt(3) == 0) {
                rawText = null;
                Object evil = evilValue(rnd);
                String shown = evil instanceof String s && s.length() > 40 ? s.substring(0, 40) + "..." : String.valueOf(evil);
                if (parent instanceof ObjectNode o) {
                    if (rnd.nextInt(6) == 0) {
                        String key = keys.get(pick);
                        o.remove(key);
                        String newKey = rnd.nextBoolean() ? "" : key + "\u0000";
                        o.set(newKey, child);
                        path += "." + json.writeValueAsString(newKey) + " (renamed from " + key + ")";
                        shown = "its old value";
                    } else {
                        o.set(keys.get(pick), node(evil));
                        path += step;
                    }
                } else {
                    ((ArrayNode) parent).set(pick, node(evil));
                    path += step;
                }
                text = json.writeValueAsString(root);
                if (rawText != null) {
                    text = text.replace("\"" + RAW + "\"", rawText);
                }
                if (safetensors) {
                    byte[] h = text.getBytes(StandardCharsets.UTF_8);
                    bytes = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN)
                            .putLong(h.length).put(h).put(data).array();
                } else {
                    bytes = text.getBytes(StandardCharsets.UTF_8);
                }
                rewrite(f, bytes);
                return "set " + name + " " + (path.isEmpty() ? "<root>" : path) + " to " + shown;
            }
            parent = child;
            path += step;
        }
        return "nothing to edit in " + name;
    }

    private String rawText;

    /** A hostile JSON value; raw JSON text (numbers no double holds, deep nesting) goes through {@link #RAW}. */
    private Object evilValue(Random rnd) {
        switch (rnd.nextInt(24)) {
            case 0: return Integer.MAX_VALUE;
            case 1: return Long.MAX_VALUE;
            case 2: return -1;
            case 3: return 0;
            case 4: return 1e39;
            case 5: return -1e-45;
            case 6: return 1e-50;
            case 7: raw("1e400"); return RAW;
            case 8: raw("9".repeat(2000)); return RAW;
            case 9: return "/";
            case 10: return "../x";
            case 11: return "a\u0000b";
            case 12: return "L".repeat(100_000);
            case 13: return "";
            case 14: return true;
            case 15: return null;
            case 16: raw("[]"); return RAW;
            case 17: raw("{}"); return RAW;
            case 18: raw("[".repeat(3000) + "]".repeat(3000)); return RAW;
            case 19: raw("[1,2,3]"); return RAW;
            case 20: return 1 << 20;
            case 21: return 4096;
            case 22: return 2.5;
            default: return rnd.nextInt();
        }
    }

    private void raw(String text) {
        rawText = text;
    }

    private JsonNode node(Object v) {
        return v == null ? com.fasterxml.jackson.databind.node.NullNode.instance : json.valueToTree(v);
    }

    @SafeVarargs
    private static <T> T pick(Random rnd, T... options) {
        return options[rnd.nextInt(options.length)];
    }

    /** Where a safetensors file's data region starts, or -1 when its length field is already nonsense. */
    private static int headerEnd(byte[] bytes) {
        if (bytes.length < 8) {
            return -1;
        }
        long n = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        return n < 0 || n > bytes.length - 8 ? -1 : (int) (8 + n);
    }

    /** Replaces {@code f} (a hard link to the base model) with new contents, leaving the base alone. */
    private static void rewrite(Path f, byte[] bytes) {
        try {
            Files.deleteIfExists(f);
            Files.write(f, bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
