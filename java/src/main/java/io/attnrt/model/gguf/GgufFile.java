package io.attnrt.model.gguf;

import io.attnrt.model.ModelFormatException;
import io.attnrt.model.TensorInfo;
import io.attnrt.model.UntrustedInput;
import io.attnrt.tensor.DType;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A GGUF file (llama.cpp's model format, versions 2 and 3): metadata key/values, tensor infos, and the
 * tensor data, memory-mapped one tensor at a time and never copied wholesale.
 *
 * <pre>
 *  "GGUF" | u32 version | u64 tensor_count | u64 kv_count
 *  kv_count ×     { string key | u32 value_type | value }            string = u64 length | UTF-8 bytes
 *  tensor_count × { string name | u32 n_dims | u64 ne[n_dims] | u32 ggml_type | u64 offset }
 *  padding to general.alignment (default 32) | tensor data, each at data_start + offset (aligned)
 * </pre>
 * ne[0] is the innermost (contiguous) dimension, so a [rows, cols] matrix has ne = {cols, rows};
 * {@link TensorInfo#shape()} is row-major like the rest of attnrt.
 *
 * <p>The file is untrusted: every count, length, dimension, offset and type id is checked against the file's
 * size and the format's limits before anything is allocated or read, and every failure is a
 * {@link ModelFormatException} naming the file and the field.
 *
 * <p>Metadata values become: every integer type → {@link Long} (UINT64 as its two's-complement bits), FLOAT32
 * and FLOAT64 → {@link Double}, BOOL → {@link Boolean}, STRING → {@link String}, ARRAY → an unmodifiable
 * {@link List} of those.
 */
public final class GgufFile implements AutoCloseable {
    static final int MAGIC = 0x46554747; // "GGUF" little-endian
    static final int DEFAULT_ALIGNMENT = 32;
    /** ggml tensors have at most 4 dimensions. */
    static final int MAX_DIMS = 4;
    static final long MAX_STRING = 64L << 20;
    static final int MAX_NESTING = 3;
    private static final int MAX_KEY = 65535;

    private final Path path;
    private final FileChannel channel;
    private final int version;
    private final Map<String, Object> metadata;
    private final Map<String, Entry> tensors;
    private final long dataStart;

    private record Entry(TensorInfo info, long offset, long bytes) {
    }

    private GgufFile(Path path, FileChannel channel, int version, Map<String, Object> metadata,
                     Map<String, Entry> tensors, long dataStart) {
        this.path = path;
        this.channel = channel;
        this.version = version;
        this.metadata = metadata;
        this.tensors = tensors;
        this.dataStart = dataStart;
    }

    /** Whether {@code file} is a regular file that starts with the GGUF magic. */
    public static boolean isGguf(Path file) {
        if (!Files.isRegularFile(file)) {
            return false;
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
            return ch.read(b, 0) == 4 && b.getInt(0) == MAGIC;
        } catch (IOException e) {
            return false;
        }
    }

    /** Opens and validates {@code file}; the tensor data is mapped lazily by {@link #data}. */
    public static GgufFile open(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new ModelFormatException("GGUF file " + file + " does not exist or is not a regular file");
        }
        FileChannel channel;
        try {
            channel = FileChannel.open(file, StandardOpenOption.READ);
        } catch (IOException e) {
            throw new ModelFormatException("cannot open GGUF file " + file + ": " + e.getMessage(), e);
        }
        try {
            return read(file, channel);
        } catch (IOException e) {
            closeQuietly(channel, e);
            throw new ModelFormatException("cannot read GGUF file " + file + ": " + e.getMessage(), e);
        } catch (RuntimeException | Error e) {
            closeQuietly(channel, e);
            throw e;
        }
    }

    private static GgufFile read(Path file, FileChannel channel) throws IOException {
        Cursor in = new Cursor(file, channel);
        long magic = in.u32("magic");
        if (magic != (MAGIC & 0xFFFFFFFFL)) {
            throw in.error("magic", "is not a GGUF file (the first 4 bytes are not \"GGUF\")");
        }
        int version = (int) in.u32("version");
        if (version != 2 && version != 3) {
            throw in.error("version", "GGUF version " + Integer.toUnsignedString(version) + " is not supported (2 and 3 are)");
        }
        long tensorCount = in.count("tensor_count", 32); // a tensor info takes at least 32 bytes
        long kvCount = in.count("metadata_kv_count", 12);
        Map<String, Object> md = new LinkedHashMap<>();
        for (long i = 0; i < kvCount; i++) {
            String key = in.string("key of metadata entry " + i, MAX_KEY);
            if (md.containsKey(key)) {
                throw in.error("metadata key '" + UntrustedInput.clip(key) + "'", "appears twice");
            }
            int type = (int) in.u32("value type of '" + UntrustedInput.clip(key) + "'");
            md.put(key, in.value(key, type, 0));
        }
        int alignment = DEFAULT_ALIGNMENT;
        Object a = md.get("general.alignment");
        if (a != null) {
            if (!(a instanceof Long l) || l <= 0 || l > 1 << 20 || Long.bitCount(l) != 1) {
                throw in.error("general.alignment", "must be a power of two up to 2^20, got "
                        + UntrustedInput.clip(String.valueOf(a)));
            }
            alignment = (int) (long) l;
        }
        Map<String, long[]> raw = new LinkedHashMap<>();
        for (long i = 0; i < tensorCount; i++) {
            String name = in.string("name of tensor " + i, MAX_KEY);
            if (raw.containsKey(name)) {
                throw in.error("tensor '" + UntrustedInput.clip(name) + "'", "appears twice");
            }
            String what = "tensor '" + UntrustedInput.clip(name) + "'";
            long nDims = in.u32(what + " n_dims");
            if (nDims < 1 || nDims > MAX_DIMS) {
                throw in.error(what, "has " + nDims + " dimensions (1 to " + MAX_DIMS + " allowed)");
            }
            long[] rec = new long[(int) nDims + 2];
            for (int d = 0; d < nDims; d++) {
                long ne = in.u64(what + " ne[" + d + "]");
                if (ne < 0 || ne > Integer.MAX_VALUE) {
                    throw in.error(what, "dimension ne[" + d + "] = " + Long.toUnsignedString(ne) + " is out of range");
                }
                rec[d] = ne;
            }
            rec[(int) nDims] = in.u32(what + " type");
            rec[(int) nDims + 1] = in.u64(what + " offset");
            raw.put(name, rec);
        }
        long headerEnd = in.position();
        long dataStart = (headerEnd + alignment - 1) / alignment * alignment;
        long size = channel.size();
        if (dataStart > size) {
            if (tensorCount > 0) {
                throw in.error("tensor data", "is missing: the file ends at byte " + size + " before the data section");
            }
            dataStart = size;
        }
        Map<String, Entry> tensors = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : raw.entrySet()) {
            tensors.put(e.getKey(), entry(file, e.getKey(), e.getValue(), alignment, size - dataStart));
        }
        return new GgufFile(file, channel, version, Collections.unmodifiableMap(md),
                Collections.unmodifiableMap(tensors), dataStart);
    }

    private static Entry entry(Path file, String name, long[] rec, int alignment, long dataBytes) {
        int nDims = rec.length - 2;
        String what = file + ": tensor '" + UntrustedInput.clip(name) + "'";
        int typeId = (int) rec[nDims];
        DType dtype = GgmlType.dtype(typeId);
        if (dtype == null) {
            throw new ModelFormatException(what + " has " + GgmlType.describe(typeId) + ", which attnrt does not "
                    + "read (it reads " + GgmlType.supported() + ")");
        }
        int[] shape = new int[nDims];
        long numel = 1;
        for (int d = 0; d < nDims; d++) {
            shape[nDims - 1 - d] = (int) rec[d];
            try {
                numel = Math.multiplyExact(numel, rec[d]);
            } catch (ArithmeticException overflow) {
                throw new ModelFormatException(what + ": the product of its dimensions overflows 64 bits");
            }
        }
        if (rec[0] % dtype.blockSize() != 0) {
            throw new ModelFormatException(what + " is " + dtype + " with rows of " + rec[0] + " elements, not a "
                    + "whole number of its blocks of " + dtype.blockSize());
        }
        long bytes;
        try {
            bytes = dtype.bytesFor(numel);
        } catch (ArithmeticException overflow) {
            throw new ModelFormatException(what + ": its size in bytes overflows 64 bits");
        }
        long offset = rec[nDims + 1];
        if (offset < 0 || offset % alignment != 0) {
            throw new ModelFormatException(what + " has offset " + Long.toUnsignedString(offset) + ", not a multiple of "
                    + "the alignment " + alignment);
        }
        if (offset > dataBytes || bytes > dataBytes - offset) {
            throw new ModelFormatException(what + " (" + bytes + " bytes at data offset " + offset + ") lies outside "
                    + "the file, whose data section holds " + dataBytes + " bytes: truncated or corrupt");
        }
        return new Entry(new TensorInfo(name, dtype, shape, file), offset, bytes);
    }

    public Path path() {
        return path;
    }

    public int version() {
        return version;
    }

    /** Every metadata key/value, in file order. */
    public Map<String, Object> metadata() {
        return metadata;
    }

    /** Tensor names in file order. */
    public List<String> names() {
        return List.copyOf(tensors.keySet());
    }

    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    public TensorInfo info(String name) {
        return entry(name).info();
    }

    /** The tensor's bytes, little-endian, read-only, mapped from the file. */
    public ByteBuffer data(String name) {
        Entry e = entry(name);
        if (e.bytes() > Integer.MAX_VALUE - 8) {
            throw new ModelFormatException(path + ": tensor '" + name + "' has " + e.bytes() + " bytes, more than "
                    + "one buffer holds");
        }
        try {
            return channel.map(FileChannel.MapMode.READ_ONLY, dataStart + e.offset(), e.bytes())
                    .order(ByteOrder.LITTLE_ENDIAN);
        } catch (IOException ex) {
            throw new UncheckedIOException("cannot map tensor '" + name + "' of " + path + ": " + ex.getMessage(), ex);
        }
    }

    private Entry entry(String name) {
        Entry e = tensors.get(name);
        if (e == null) {
            throw new IllegalArgumentException("tensor '" + name + "' is not in GGUF file " + path);
        }
        return e;
    }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot close " + path + ": " + e.getMessage(), e);
        }
    }

    private static void closeQuietly(FileChannel channel, Throwable primary) {
        try {
            channel.close();
        } catch (IOException suppressed) {
            primary.addSuppressed(suppressed);
        }
    }

    /** Sequential little-endian reads of the header through a window, each bounded by the file's size. */
    private static final class Cursor {
        private final Path file;
        private final FileChannel channel;
        private final long size;
        private final ByteBuffer window = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
        private long windowStart;

        Cursor(Path file, FileChannel channel) throws IOException {
            this.file = file;
            this.channel = channel;
            this.size = channel.size();
            window.limit(0);
        }

        long position() {
            return windowStart + window.position();
        }

        long remaining() {
            return size - position();
        }

        ModelFormatException error(String field, String problem) {
            return new ModelFormatException(file + ": " + field + " " + problem);
        }

        private void need(int n, String field) throws IOException {
            if (window.remaining() >= n) {
                return;
            }
            if (remaining() < n) {
                throw error(field, "is cut off: the file ends at byte " + size + " (truncated)");
            }
            long pos = position();
            window.clear();
            windowStart = pos;
            while (window.position() < n) {
                int r = channel.read(window, pos + window.position());
                if (r < 0) {
                    throw error(field, "is cut off: the file ended while reading it");
                }
            }
            window.flip();
        }

        long u32(String field) throws IOException {
            need(4, field);
            return window.getInt() & 0xFFFFFFFFL;
        }

        long u64(String field) throws IOException {
            need(8, field);
            return window.getLong();
        }

        /** A u64 count of items of at least {@code minBytes} each, bounded by what the rest of the file can hold. */
        long count(String field, long minBytes) throws IOException {
            long n = u64(field);
            if (n < 0 || n > remaining() / minBytes) {
                throw error(field, Long.toUnsignedString(n) + " is more than the " + remaining() + " remaining bytes "
                        + "of the file can hold");
            }
            return n;
        }

        String string(String field, long max) throws IOException {
            long len = u64(field + " length");
            if (len < 0 || len > max || len > remaining()) {
                throw error(field, "has length " + Long.toUnsignedString(len) + ", more than "
                        + (len > max ? "the limit of " + max + " bytes" : "the " + remaining() + " bytes left in the file"));
            }
            byte[] bytes = new byte[(int) len];
            int at = 0;
            while (at < len) {
                need(1, field);
                int take = Math.min(window.remaining(), (int) len - at);
                window.get(bytes, at, take);
                at += take;
            }
            try {
                return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
            } catch (CharacterCodingException e) {
                throw error(field, "is not valid UTF-8");
            }
        }

        Object value(String key, int type, int depth) throws IOException {
            String field = "metadata '" + UntrustedInput.clip(key) + "'";
            switch (type) {
                case 0: need(1, field); return (long) (window.get() & 0xFF);        // UINT8
                case 1: need(1, field); return (long) window.get();                 // INT8
                case 2: need(2, field); return (long) (window.getShort() & 0xFFFF); // UINT16
                case 3: need(2, field); return (long) window.getShort();            // INT16
                case 4: return u32(field);                                           // UINT32
                case 5: need(4, field); return (long) window.getInt();              // INT32
                case 6: need(4, field); return (double) window.getFloat();          // FLOAT32
                case 7: {                                                            // BOOL
                    need(1, field);
                    byte b = window.get();
                    if (b != 0 && b != 1) {
                        throw error(field, "is a BOOL of value " + b + " (0 or 1 expected)");
                    }
                    return b == 1;
                }
                case 8: return string(field, MAX_STRING);                            // STRING
                case 9: {                                                            // ARRAY
                    if (depth >= MAX_NESTING) {
                        throw error(field, "nests arrays deeper than " + MAX_NESTING);
                    }
                    int elementType = (int) u32(field + " element type");
                    long min = switch (elementType) {
                        case 0, 1, 7 -> 1;
                        case 2, 3 -> 2;
                        case 4, 5, 6 -> 4;
                        case 8, 10, 11, 12 -> 8;
                        case 9 -> 12;
                        default -> throw error(field, "is an array of unknown value type " + elementType);
                    };
                    long n = count(field + " array length", min);
                    List<Object> out = new ArrayList<>((int) Math.min(n, 1 << 20));
                    for (long i = 0; i < n; i++) {
                        out.add(value(key, elementType, depth + 1));
                    }
                    return Collections.unmodifiableList(out);
                }
                case 10: return u64(field);                                          // UINT64
                case 11: return u64(field);                                          // INT64
                case 12: need(8, field); return window.getDouble();                 // FLOAT64
                default: throw error(field, "has unknown value type " + Integer.toUnsignedString(type));
            }
        }
    }
}
