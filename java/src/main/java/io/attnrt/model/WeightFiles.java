package io.attnrt.model;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
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
public final class WeightFiles implements TensorSource, AutoCloseable {
    public static final String SINGLE_FILE = "model.safetensors";
    public static final String INDEX_FILE = "model.safetensors.index.json";

    /**
     * An index lists one line per tensor (a 2,000-tensor model's is about 200 KiB); anything near this is not
     * an index, and is not read into memory.
     */
    public static final long MAX_INDEX_BYTES = 64L << 20;

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
        // not Files.exists alone: an index that is a directory or dangling link must not pass for no index
        if (Files.exists(index, LinkOption.NOFOLLOW_LINKS)) {
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
                    Path shardPath = shardPath(index, root, tensor, shardName);
                    if (!Files.exists(shardPath)) {
                        throw new ModelFormatException(index + ": shard file " + UntrustedInput.quote(shardName)
                                + " (of tensor " + UntrustedInput.quote(tensor) + ") does not exist in " + dir);
                    }
                    shard = SafetensorsFile.open(dir.resolve(shardName)); // the path as the caller spelled it
                    shards.put(shardName, shard);
                }
                if (!shard.contains(tensor)) {
                    throw new ModelFormatException(index + " maps tensor " + UntrustedInput.quote(tensor)
                            + " to shard " + UntrustedInput.quote(shardName) + ", but " + shard.path()
                            + " does not contain it");
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

    /**
     * Where shard {@code name} lies. The index is untrusted, and Hugging Face writes shards next to it, so a
     * name must be a plain file name: a separator or ".." could reach any file on the machine, and a name
     * that normalises to the root ("/", "../..") has no parent to compare against.
     */
    private static Path shardPath(Path index, Path root, String tensor, String name) {
        String why = null;
        if (name.isEmpty()) {
            why = "is empty";
        } else if (name.indexOf('\0') >= 0) {
            why = "contains a NUL character";
        } else if (name.indexOf('/') >= 0 || name.indexOf('\\') >= 0) {
            why = "contains a path separator";
        } else if (name.equals(".") || name.equals("..")) {
            why = "names a directory";
        }
        Path p = null;
        if (why == null) {
            try {
                p = root.resolve(name).normalize();
            } catch (InvalidPathException e) {
                why = "is not a valid file name here (" + UntrustedInput.clip(e.getReason()) + ")";
            }
        }
        if (why == null && !root.equals(p.getParent())) {
            why = "is not a file name inside the model directory";
        }
        if (why != null) {
            throw new ModelFormatException(index + ": the weight_map entry " + UntrustedInput.quote(name)
                    + " of tensor " + UntrustedInput.quote(tensor) + " " + why
                    + "; a shard must be a plain file name inside the model directory");
        }
        return p;
    }

    private static Map<String, String> readWeightMap(Path index) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(UntrustedInput.readJsonText(index, MAX_INDEX_BYTES, "shard index"));
        } catch (JsonProcessingException e) {
            throw new ModelFormatException(index + ": not valid JSON: " + UntrustedInput.clipParserMessage(e.getOriginalMessage()),
                    e);
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
            if (!e.getValue().isTextual()) {
                throw new ModelFormatException(index + ": weight_map entry of tensor " + UntrustedInput.quote(e.getKey())
                        + " must be a shard file name, got " + UntrustedInput.clip(e.getValue()));
            }
            out.put(e.getKey(), e.getValue().asText());
        }
        return out;
    }

    @Override
    public String label() {
        return directory.toString();
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
