package io.attnrt.model;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.attnrt.tensor.DType;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A safetensors file, read through memory mapping. The file is untrusted input: the header is checked in
 * full when the file is opened, and every error names the file (and the tensor).
 *
 * <p>Format: an 8-byte little-endian unsigned header length N, N bytes of UTF-8 JSON
 * {@code {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}}, then the data
 * region; offsets are relative to the start of the data region. Supported dtypes: F32, F16, BF16.
 *
 * <p>Each tensor's bytes are mapped on first use (one mapping per tensor, so the file may exceed 2 GiB while
 * each tensor stays below it). Buffers handed out stay readable after {@link #close()} — the mapping lives
 * until the buffer is garbage-collected — but no new ones are handed out.
 */
public final class SafetensorsFile implements AutoCloseable {
    /** A header larger than this is taken as corrupt rather than allocated. */
    public static final long MAX_HEADER_BYTES = 100_000_000L;

    private static final String METADATA_KEY = "__metadata__";
    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    private final Path path;
    private final FileChannel channel;
    private final long dataStart;
    private final Map<String, Entry> entries;
    private final Map<String, String> metadata;
    private final Map<String, ByteBuffer> mapped = new HashMap<>();
    private boolean closed;

    private record Entry(TensorInfo info, long begin, long end) {
    }

    private SafetensorsFile(Path path, FileChannel channel, long dataStart, Map<String, Entry> entries,
                            Map<String, String> metadata) {
        this.path = path;
        this.channel = channel;
        this.dataStart = dataStart;
        this.entries = entries;
        this.metadata = metadata;
    }

    /** Opens and validates {@code file}; throws {@link ModelFormatException} naming the file when it is bad. */
    public static SafetensorsFile open(Path file) {
        if (!Files.exists(file)) {
            throw new IllegalArgumentException("safetensors file " + file + " does not exist");
        }
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("safetensors file " + file + " is not a regular file");
        }
        FileChannel channel;
        try {
            channel = FileChannel.open(file, StandardOpenOption.READ);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open safetensors file " + file + ": " + e.getMessage(), e);
        }
        try {
            SafetensorsFile f = readHeader(file, channel);
            return f;
        } catch (RuntimeException e) {
            closeQuietly(channel, e);
            throw e;
        } catch (IOException e) {
            closeQuietly(channel, e);
            throw new UncheckedIOException("cannot read safetensors file " + file + ": " + e.getMessage(), e);
        }
    }

    private static SafetensorsFile readHeader(Path file, FileChannel channel) throws IOException {
        long size = channel.size();
        if (size < 8) {
            throw new ModelFormatException("safetensors file " + file + " is " + size
                    + " bytes long, shorter than its 8-byte header length field");
        }
        ByteBuffer lengthField = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(channel, lengthField, 0);
        long headerLength = lengthField.getLong(0);
        if (headerLength < 0 || headerLength > MAX_HEADER_BYTES) {
            throw new ModelFormatException("safetensors file " + file + ": header length "
                    + Long.toUnsignedString(headerLength) + " is absurd (the limit is " + MAX_HEADER_BYTES
                    + " bytes); the file is corrupt or not safetensors");
        }
        if (headerLength > size - 8) {
            throw new ModelFormatException("safetensors file " + file + ": header length " + headerLength
                    + " is larger than the " + (size - 8) + " bytes that follow the length field");
        }
        ByteBuffer headerBytes = ByteBuffer.allocate((int) headerLength);
        readFully(channel, headerBytes, 8);
        headerBytes.flip();
        String header;
        try {
            CharBuffer chars = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(headerBytes);
            header = chars.toString();
        } catch (CharacterCodingException e) {
            throw new ModelFormatException("safetensors file " + file + ": header is not valid UTF-8", e);
        }
        JsonNode root;
        try {
            root = JSON.readTree(header);
        } catch (JsonProcessingException e) {
            throw new ModelFormatException("safetensors file " + file + ": header is not valid JSON: "
                    + UntrustedInput.clipParserMessage(e.getOriginalMessage()), e);
        }
        if (root == null || root.isMissingNode()) {
            throw new ModelFormatException("safetensors file " + file + ": header is not valid JSON: it is empty");
        }
        if (!root.isObject()) {
            throw new ModelFormatException("safetensors file " + file + ": header must be a JSON object, got "
                    + root.getNodeType().toString().toLowerCase());
        }

        long dataStart = 8 + headerLength;
        long dataSize = size - dataStart;
        Map<String, Entry> entries = new LinkedHashMap<>();
        Map<String, String> metadata = Map.of();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> field = it.next();
            if (field.getKey().equals(METADATA_KEY)) {
                metadata = parseMetadata(file, field.getValue());
            } else {
                entries.put(field.getKey(), parseEntry(file, field.getKey(), field.getValue(), dataSize));
            }
        }
        checkNoOverlap(file, entries);
        return new SafetensorsFile(file, channel, dataStart, Collections.unmodifiableMap(entries), metadata);
    }

    private static Map<String, String> parseMetadata(Path file, JsonNode node) {
        if (!node.isObject()) {
            throw new ModelFormatException("safetensors file " + file + ": " + METADATA_KEY
                    + " must be an object of strings, got " + node.getNodeType().toString().toLowerCase());
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isTextual()) {
                throw new ModelFormatException("safetensors file " + file + ": " + METADATA_KEY + " value of "
                        + UntrustedInput.quote(e.getKey()) + " must be a string, got " + UntrustedInput.clip(e.getValue()));
            }
            out.put(e.getKey(), e.getValue().asText());
        }
        return Collections.unmodifiableMap(out);
    }

    private static Entry parseEntry(Path file, String name, JsonNode node, long dataSize) {
        String where = "safetensors file " + file + ": tensor " + UntrustedInput.quote(name);
        if (!node.isObject()) {
            throw new ModelFormatException(where + " must be described by an object, got " + UntrustedInput.clip(node));
        }
        JsonNode dtypeNode = node.get("dtype");
        if (dtypeNode == null || !dtypeNode.isTextual()) {
            throw new ModelFormatException(where + " has no dtype string (got " + UntrustedInput.clip(dtypeNode) + ")");
        }
        DType dtype = switch (dtypeNode.asText()) {
            case "F32" -> DType.F32;
            case "F16" -> DType.F16;
            case "BF16" -> DType.BF16;
            default -> throw new ModelFormatException(where + " has dtype " + UntrustedInput.clip(dtypeNode)
                    + ", which is not supported (supported: F32, F16, BF16)");
        };

        JsonNode shapeNode = node.get("shape");
        if (shapeNode == null || !shapeNode.isArray()) {
            throw new ModelFormatException(where + " has no shape array (got " + UntrustedInput.clip(shapeNode) + ")");
        }
        int[] shape = new int[shapeNode.size()];
        long numel = 1;
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = shapeNode.get(i);
            if (!d.isIntegralNumber() || !d.canConvertToLong()) {
                throw new ModelFormatException(where + " has a non-integer dimension " + UntrustedInput.clip(d) + " in shape "
                        + UntrustedInput.clip(shapeNode));
            }
            long v = d.longValue();
            if (v < 0) {
                throw new ModelFormatException(where + " has a negative dimension " + v + " in shape " + UntrustedInput.clip(shapeNode));
            }
            if (v > Integer.MAX_VALUE) {
                throw new ModelFormatException(where + " has a dimension " + v + " too large in shape " + UntrustedInput.clip(shapeNode));
            }
            shape[i] = (int) v;
            try {
                numel = Math.multiplyExact(numel, v);
            } catch (ArithmeticException e) {
                throw new ModelFormatException(where + " has shape " + UntrustedInput.clip(shapeNode) + " with too many elements");
            }
        }

        JsonNode offsets = node.get("data_offsets");
        if (offsets == null || !offsets.isArray() || offsets.size() != 2
                || !isNonNegativeLong(offsets.get(0)) || !isNonNegativeLong(offsets.get(1))) {
            throw new ModelFormatException(where + ": data_offsets must be two non-negative integers [begin, end], got "
                    + UntrustedInput.clip(offsets));
        }
        long begin = offsets.get(0).longValue();
        long end = offsets.get(1).longValue();
        if (end < begin) {
            throw new ModelFormatException(where + ": data_offsets [" + begin + ", " + end + "] decrease");
        }
        if (end > dataSize) {
            throw new ModelFormatException(where + ": data_offsets [" + begin + ", " + end
                    + "] lie outside the data region of " + dataSize + " bytes");
        }
        long expected;
        try {
            expected = Math.multiplyExact(numel, (long) dtype.byteSize());
        } catch (ArithmeticException e) {
            throw new ModelFormatException(where + " has shape " + UntrustedInput.clip(shapeNode) + " with too many bytes");
        }
        if (end - begin != expected) {
            throw new ModelFormatException(where + ": data_offsets [" + begin + ", " + end + "] span "
                    + (end - begin) + " bytes but shape " + UntrustedInput.clip(Arrays.toString(shape)) + " of " + dtype
                    + " needs " + expected);
        }
        if (expected > Integer.MAX_VALUE) {
            throw new ModelFormatException(where + " is " + expected
                    + " bytes; tensors of 2 GiB or more are not supported");
        }
        return new Entry(new TensorInfo(name, dtype, shape, file), begin, end);
    }

    private static boolean isNonNegativeLong(JsonNode n) {
        return n.isIntegralNumber() && n.canConvertToLong() && n.longValue() >= 0;
    }

    private static void checkNoOverlap(Path file, Map<String, Entry> entries) {
        List<Entry> sorted = new ArrayList<>();
        for (Entry e : entries.values()) {
            if (e.end > e.begin) { // an empty tensor occupies no bytes, so it overlaps nothing
                sorted.add(e);
            }
        }
        sorted.sort(Comparator.comparingLong(Entry::begin));
        for (int i = 1; i < sorted.size(); i++) {
            Entry prev = sorted.get(i - 1);
            Entry cur = sorted.get(i);
            if (cur.begin < prev.end) {
                throw new ModelFormatException("safetensors file " + file + ": tensors " + UntrustedInput.quote(prev.info.name())
                        + " [" + prev.begin + ", " + prev.end + ") and " + UntrustedInput.quote(cur.info.name()) + " [" + cur.begin
                        + ", " + cur.end + ") overlap");
            }
        }
    }

    private static void readFully(FileChannel channel, ByteBuffer dst, long position) throws IOException {
        long pos = position;
        while (dst.hasRemaining()) {
            int n = channel.read(dst, pos);
            if (n < 0) {
                throw new EOFException("unexpected end of file at byte " + pos);
            }
            pos += n;
        }
    }

    private static void closeQuietly(FileChannel channel, Exception primary) {
        try {
            channel.close();
        } catch (IOException suppressed) {
            primary.addSuppressed(suppressed);
        }
    }

    public Path path() {
        return path;
    }

    /** The tensor names, in header order. */
    public Set<String> names() {
        return entries.keySet();
    }

    public boolean contains(String name) {
        return entries.containsKey(name);
    }

    /** The {@code __metadata__} string map (empty when absent). */
    public Map<String, String> metadata() {
        return metadata;
    }

    public TensorInfo info(String name) {
        return entry(name).info;
    }

    /**
     * The tensor's bytes: exactly {@code info(name).byteSize()} of them, little-endian, read-only, position 0.
     * Each call returns an independent buffer over the same mapping.
     */
    public synchronized ByteBuffer data(String name) {
        Entry e = entry(name);
        if (closed) {
            throw new IllegalStateException("safetensors file " + path + " is closed; cannot read tensor '"
                    + name + "'");
        }
        ByteBuffer region = mapped.get(name);
        if (region == null) {
            long length = e.end - e.begin;
            try {
                region = length == 0 ? ByteBuffer.allocate(0)
                        : channel.map(FileChannel.MapMode.READ_ONLY, dataStart + e.begin, length);
            } catch (IOException ex) {
                throw new UncheckedIOException("cannot map tensor '" + name + "' of safetensors file " + path
                        + ": " + ex.getMessage(), ex);
            }
            mapped.put(name, region);
        }
        return region.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    private Entry entry(String name) {
        Entry e = entries.get(name);
        if (e == null) {
            throw new IllegalArgumentException("tensor '" + name + "' is not in safetensors file " + path);
        }
        return e;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        mapped.clear();
        try {
            channel.close();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot close safetensors file " + path + ": " + e.getMessage(), e);
        }
    }

    @Override
    public String toString() {
        return "SafetensorsFile[" + path + ", " + entries.size() + " tensors]";
    }
}
