package io.attnrt.model;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Writes safetensors files for tests: well-formed ones tensor by tensor, or crafted bytes for bad-input tests. */
final class SafetensorsTestWriter {
    private record Pending(String name, String dtype, int[] shape, byte[] data) {
    }

    private final List<Pending> tensors = new ArrayList<>();
    private String metadataJson;

    SafetensorsTestWriter add(String name, String dtype, int[] shape, byte[] data) {
        tensors.add(new Pending(name, dtype, shape.clone(), data.clone()));
        return this;
    }

    SafetensorsTestWriter metadata(String json) {
        metadataJson = json;
        return this;
    }

    /** The JSON header these tensors get, offsets laid end to end. */
    String header() {
        StringBuilder sb = new StringBuilder("{");
        if (metadataJson != null) {
            sb.append("\"__metadata__\":").append(metadataJson);
        }
        long offset = 0;
        for (Pending t : tensors) {
            if (sb.length() > 1) {
                sb.append(',');
            }
            sb.append('"').append(t.name).append("\":{\"dtype\":\"").append(t.dtype).append("\",\"shape\":[");
            for (int i = 0; i < t.shape.length; i++) {
                sb.append(i == 0 ? "" : ",").append(t.shape[i]);
            }
            sb.append("],\"data_offsets\":[").append(offset).append(',').append(offset + t.data.length).append("]}");
            offset += t.data.length;
        }
        return sb.append('}').toString();
    }

    byte[] dataRegion() {
        int n = tensors.stream().mapToInt(t -> t.data.length).sum();
        ByteBuffer b = ByteBuffer.allocate(n);
        tensors.forEach(t -> b.put(t.data));
        return b.array();
    }

    Path write(Path file) {
        return writeRaw(file, header(), dataRegion());
    }

    /** A file with the given header text (its true length in the length field) and data region. */
    static Path writeRaw(Path file, String header, byte[] data) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        return writeBytes(file, lengthField(h.length), h, data);
    }

    static byte[] lengthField(long headerLength) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(headerLength).array();
    }

    static Path writeBytes(Path file, byte[]... parts) {
        try {
            int n = 0;
            for (byte[] p : parts) {
                n += p.length;
            }
            ByteBuffer all = ByteBuffer.allocate(n);
            for (byte[] p : parts) {
                all.put(p);
            }
            return Files.write(file, all.array());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
