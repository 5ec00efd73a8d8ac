package io.attnrt.model;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The weights of a Hugging Face model directory: either one {@code model.safetensors}, or the shards that
 * {@code model.safetensors.index.json} lists in its {@code weight_map} (tensor name → shard file name).
 * The index is checked when the directory is opened: every shard must exist inside the directory and hold
 * every tensor the index maps to it.
 */
public final class WeightFiles implements AutoCloseable {
    public static final String SINGLE_FILE = "model.safetensors";
    public static final String INDEX_FILE = "model.safetensors.index.json";

    private final Path directory;
    private final List<SafetensorsFile> files;
    private final Map<String, SafetensorsFile> byTensor;

    private WeightFiles(Path directory, List<SafetensorsFile> files, Map<String, SafetensorsFile> byTensor) {
        this.directory = directory;
        this.files = files;
        this.byTensor = byTensor;
    }

    /** Opens the weights of model directory {@code dir}. */
    public static WeightFiles open(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException("model directory " + dir + " does not exist or is not a directory");
        }
        Path index = dir.resolve(INDEX_FILE);
        if (Files.exists(index)) {
            return openSharded(dir, index);
        }
        Path single = dir.resolve(SINGLE_FILE);
        if (Files.exists(single)) {
            SafetensorsFile f = SafetensorsFile.open(single);
            Map<String, SafetensorsFile> byTensor = new LinkedHashMap<>();
            for (String name : f.names()) {
                byTensor.put(name, f);
            }
            return new WeightFiles(dir, List.of(f), Collections.unmodifiableMap(byTensor));
        }
        throw new IllegalArgumentException("model directory " + dir + " has neither " + SINGLE_FILE + " nor "
                + INDEX_FILE);
    }

    private static WeightFiles openSharded(Path dir, Path index) {
        Map<String, String> weightMap = readWeightMap(index);
        Map<String, SafetensorsFile> shards = new LinkedHashMap<>();
        try {
            Path root = dir.toAbsolutePath().normalize();
            Map<String, SafetensorsFile> byTensor = new LinkedHashMap<>();
            for (Map.Entry<String, String> e : weightMap.entrySet()) {
                String tensor = e.getKey();
                String shardName = e.getValue();
                SafetensorsFile shard = shards.get(shardName);
                if (shard == null) {
                    Path shardPath = root.resolve(shardName).normalize();
                    // the index is untrusted: a shard name must not lead out of the model directory
                    if (!shardPath.getParent().equals(root)) {
                        throw new ModelFormatException(index + ": shard '" + shardName + "' of tensor '" + tensor
                                + "' is not a file name inside the model directory");
                    }
                    if (!Files.exists(shardPath)) {
                        throw new ModelFormatException(index + ": shard file '" + shardName + "' (of tensor '"
                                + tensor + "') does not exist in " + dir);
                    }
                    shard = SafetensorsFile.open(dir.resolve(shardName));
                    shards.put(shardName, shard);
                }
                if (!shard.contains(tensor)) {
                    throw new ModelFormatException(index + " maps tensor '" + tensor + "' to shard '" + shardName
                            + "', but " + shard.path() + " does not contain it");
                }
                byTensor.put(tensor, shard);
            }
            return new WeightFiles(dir, List.copyOf(shards.values()), Collections.unmodifiableMap(byTensor));
        } catch (RuntimeException e) {
            for (SafetensorsFile f : shards.values()) {
                try {
                    f.close();
                } catch (RuntimeException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
    }

    private static Map<String, String> readWeightMap(Path index) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(Files.readString(index, StandardCharsets.UTF_8));
        } catch (JsonProcessingException e) {
            throw new ModelFormatException(index + ": not valid JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + index + ": " + e.getMessage(), e);
        }
        JsonNode map = root == null || !root.isObject() ? null : root.get("weight_map");
        if (map == null || !map.isObject()) {
            throw new ModelFormatException(index + ": needs a \"weight_map\" object of tensor name -> shard file");
        }
        if (map.isEmpty()) {
            throw new ModelFormatException(index + ": weight_map is empty");
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isTextual() || e.getValue().asText().isEmpty()) {
                throw new ModelFormatException(index + ": weight_map entry of tensor '" + e.getKey()
                        + "' must be a shard file name, got " + e.getValue());
            }
            out.put(e.getKey(), e.getValue().asText());
        }
        return out;
    }

    public Path directory() {
        return directory;
    }

    /** Every tensor name the directory provides (for a sharded model: the index's weight_map keys). */
    public Set<String> names() {
        return byTensor.keySet();
    }

    public boolean contains(String name) {
        return byTensor.containsKey(name);
    }

    public TensorInfo info(String name) {
        return file(name).info(name);
    }

    /** The tensor's bytes, as {@link SafetensorsFile#data} gives them. */
    public ByteBuffer data(String name) {
        return file(name).data(name);
    }

    private SafetensorsFile file(String name) {
        SafetensorsFile f = byTensor.get(name);
        if (f == null) {
            throw new IllegalArgumentException("tensor '" + name + "' is missing from model directory " + directory);
        }
        return f;
    }

    @Override
    public void close() {
        Release.all(files, SafetensorsFile::close);
    }

    @Override
    public String toString() {
        return "WeightFiles[" + directory + ", " + byTensor.size() + " tensors in " + files.size() + " file(s)]";
    }
}
