package io.attnrt.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.attnrt.tensor.DType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SafetensorsFileTest {
    @TempDir
    Path dir;

    private static byte[] randomBytes(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    /** Opening {@code file} fails with a message that names the file and contains every fragment. */
    private static ModelFormatException assertBad(Path file, String... fragments) {
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> SafetensorsFile.open(file).close());
        assertTrue(e.getMessage().contains(file.toString()), () -> "message should name the file: " + e.getMessage());
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), () -> "message should contain '" + f + "': " + e.getMessage());
        }
        return e;
    }

    private Path withHeader(String header, int dataBytes) {
        return SafetensorsTestWriter.writeRaw(dir.resolve("bad.safetensors"), header, new byte[dataBytes]);
    }

    @Test
    void roundTripKeepsEveryByte() {
        byte[] a = randomBytes(3 * 5 * 4, 1);
        byte[] b = randomBytes(7 * 2, 2);
        byte[] c = randomBytes(4 * 2 * 2, 3);
        Path file = new SafetensorsTestWriter()
                .metadata("{\"format\":\"pt\",\"note\":\"round trip\"}")
                .add("w.f32", "F32", new int[] {3, 5}, a)
                .add("w.f16", "F16", new int[] {7}, b)
                .add("w.bf16", "BF16", new int[] {4, 2}, c)
                .add("empty", "F32", new int[] {0, 4}, new byte[0])
                .add("scalar", "F32", new int[] {}, randomBytes(4, 4))
                .write(dir.resolve("ok.safetensors"));
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(List.of("w.f32", "w.f16", "w.bf16", "empty", "scalar"), List.copyOf(f.names()));
            assertEquals(Map.of("format", "pt", "note", "round trip"), f.metadata());
            assertEquals(new TensorInfo("w.f32", DType.F32, new int[] {3, 5}, file), f.info("w.f32"));
            assertEquals(DType.F16, f.info("w.f16").dtype());
            assertArrayEquals(new int[] {4, 2}, f.info("w.bf16").shape());
            assertEquals(0, f.info("scalar").shape().length);
            assertEquals(1, f.info("scalar").numel());
            assertBytes(a, f.data("w.f32"));
            assertBytes(b, f.data("w.f16"));
            assertBytes(c, f.data("w.bf16"));
            assertBytes(new byte[0], f.data("empty"));

            ByteBuffer buf = f.data("w.f32");
            assertTrue(buf.isReadOnly());
            assertEquals(ByteOrder.LITTLE_ENDIAN, buf.order());
            float expected = ByteBuffer.wrap(a).order(ByteOrder.LITTLE_ENDIAN).getFloat(4);
            assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(buf.getFloat(4)));
            // each call is an independent view: reading one does not move another
            buf.getFloat();
            assertEquals(0, f.data("w.f32").position());

            IllegalArgumentException missing = assertThrows(IllegalArgumentException.class, () -> f.info("nope"));
            assertTrue(missing.getMessage().contains("nope") && missing.getMessage().contains(file.toString()));
        }
    }

    @Test
    void paddedHeaderAndUnalignedDataAreRead() {
        // the safetensors library pads headers with spaces; offsets stay relative to the data region
        SafetensorsTestWriter w = new SafetensorsTestWriter().add("x", "F32", new int[] {2}, randomBytes(8, 5));
        Path file = SafetensorsTestWriter.writeRaw(dir.resolve("pad.safetensors"), w.header() + "     ", w.dataRegion());
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertBytes(w.dataRegion(), f.data("x"));
        }
    }

    @Test
    void closedFileHandsOutNoData() {
        Path file = new SafetensorsTestWriter().add("x", "F32", new int[] {1}, randomBytes(4, 6))
                .write(dir.resolve("c.safetensors"));
        SafetensorsFile f = SafetensorsFile.open(file);
        f.close();
        f.close();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> f.data("x"));
        assertTrue(e.getMessage().contains("closed"));
    }

    private static void assertBytes(byte[] expected, ByteBuffer actual) {
        assertEquals(expected.length, actual.remaining());
        byte[] got = new byte[actual.remaining()];
        actual.duplicate().get(got);
        assertArrayEquals(expected, got);
    }

    // ---------------------------------------------------------------- bad input

    @Test
    void missingFile() {
        Path file = dir.resolve("absent.safetensors");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SafetensorsFile.open(file));
        assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains("does not exist"), e.getMessage());
    }

    @Test
    void directoryIsNotAFile() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SafetensorsFile.open(dir));
        assertTrue(e.getMessage().contains("not a regular file"), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 7})
    void fileShorterThanTheLengthField(int size) {
        Path file = SafetensorsTestWriter.writeBytes(dir.resolve("short.safetensors"), new byte[size]);
        assertBad(file, "shorter than", size + " bytes");
    }

    @Test
    void headerLongerThanTheFile() {
        Path file = SafetensorsTestWriter.writeBytes(dir.resolve("h.safetensors"),
                SafetensorsTestWriter.lengthField(100), "{}".getBytes(StandardCharsets.UTF_8));
        assertBad(file, "header length 100", "larger than the 2 bytes");
    }

    @Test
    void absurdHeaderLength() {
        Path big = SafetensorsTestWriter.writeBytes(dir.resolve("big.safetensors"),
                SafetensorsTestWriter.lengthField(200_000_000L), new byte[16]);
        assertBad(big, "header length 200000000", "absurd");
        // the field is unsigned: all ones is 2^64 - 1, not -1
        Path ones = SafetensorsTestWriter.writeBytes(dir.resolve("ones.safetensors"),
                SafetensorsTestWriter.lengthField(-1L), new byte[16]);
        assertBad(ones, "18446744073709551615", "absurd");
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "{", "{\"a\": }", "not json", "{} {}", "{\"x\":1,\"x\":2}"})
    void headerNotJson(String header) {
        assertBad(withHeader(header, 0), "not valid JSON");
    }

    @ParameterizedTest
    @ValueSource(strings = {"[]", "42", "\"text\"", "null"})
    void headerNotAnObject(String header) {
        assertBad(withHeader(header, 0), "must be a JSON object");
    }

    @Test
    void headerNotUtf8() {
        byte[] header = {'{', '"', (byte) 0xC3, (byte) 0x28, '"', ':', '1', '}'};
        Path file = SafetensorsTestWriter.writeBytes(dir.resolve("u.safetensors"),
                SafetensorsTestWriter.lengthField(header.length), header);
        assertBad(file, "not valid UTF-8");
    }

    @ParameterizedTest
    @ValueSource(strings = {"I64", "F64", "U8", "float32", ""})
    void unsupportedDtype(String dtype) {
        Path file = withHeader("{\"t\":{\"dtype\":\"" + dtype + "\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8);
        assertBad(file, "'t'", "\"" + dtype + "\"", "not supported", "F32, F16, BF16");
    }

    @Test
    void dtypeMissingOrNotAString() {
        assertBad(withHeader("{\"t\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8), "'t'", "dtype");
        assertBad(withHeader("{\"t\":{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]}}", 8), "'t'", "dtype");
    }

    @Test
    void entryNotAnObject() {
        assertBad(withHeader("{\"t\":[1,2]}", 0), "'t'", "object");
    }

    @Test
    void negativeShape() {
        Path file = withHeader("{\"t\":{\"dtype\":\"F32\",\"shape\":[2,-3],\"data_offsets\":[0,8]}}", 8);
        assertBad(file, "'t'", "negative dimension -3");
    }

    @Test
    void shapeNotIntegers() {
        assertBad(withHeader("{\"t\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", 8),
                "'t'", "non-integer dimension");
        assertBad(withHeader("{\"t\":{\"dtype\":\"F32\",\"shape\":\"2\",\"data_offsets\":[0,8]}}", 8),
                "'t'", "shape");
        assertBad(withHeader("{\"t\":{\"dtype\":\"F32\",\"shape\":[4294967296],\"data_offsets\":[0,8]}}", 8),
                "'t'", "too large");
    }

    @ParameterizedTest
    @ValueSource(strings = {"[0]", "[0,8,16]", "8", "[0,\"8\"]", "[0.0,8]", "[-8,0]", "null"})
    void dataOffsetsNotTwoIntegers(String offsets) {
        Path file = withHeader("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":" + offsets + "}}", 16);
        assertBad(file, "'t'", "data_offsets must be two non-negative integers");
    }

    @Test
    void dataOffsetsDecreasing() {
        Path file = withHeader("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 16);
        assertBad(file, "'t'", "[8, 0]", "decrease");
    }

    @Test
    void dataOffsetsOutsideTheDataRegion() {
        Path file = withHeader("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 8);
        assertBad(file, "'t'", "[4, 12]", "outside the data region of 8 bytes");
    }

    @Test
    void dataOffsetsDisagreeWithShape() {
        Path file = withHeader("{\"t\":{\"dtype\":\"BF16\",\"shape\":[2,3],\"data_offsets\":[0,8]}}", 16);
        assertBad(file, "'t'", "span 8 bytes", "[2, 3] of BF16 needs 12");
    }

    @Test
    void overlappingTensors() {
        Path file = withHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12);
        assertBad(file, "'a'", "'b'", "overlap");
    }

    @Test
    void adjacentAndEmptyTensorsDoNotOverlap() {
        Path file = withHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16);
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(3, f.names().size());
            assertFalse(f.contains("c"));
        }
    }

    @Test
    void metadataMustBeStrings() {
        assertBad(withHeader("{\"__metadata__\":[1]}", 0), "__metadata__", "object");
        assertBad(withHeader("{\"__metadata__\":{\"k\":1}}", 0), "__metadata__", "'k'", "string");
    }
}
