package io.attnrt.model;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Reading the small JSON files of a model directory, and quoting their contents in errors. A model directory
 * or GGUF file is downloaded from anywhere, so every file in it may be huge, endless, not a file at all, or not
 * text. {@link #clip(String)} is public for the GGUF reader's errors.
 */
public final class UntrustedInput {
    /** Characters of an untrusted string an error message repeats; the rest is elided. */
    static final int MAX_QUOTED = 64;

    private UntrustedInput() {
    }

    /** {@code s} as an error message may quote it: at most {@link #MAX_QUOTED} characters, then "…". */
    public static String clip(String s) {
        return clip(s, MAX_QUOTED);
    }

    /**
     * A parser's message, which quotes the offending token: Jackson bounds it, but to a length meant for logs
     * rather than one-line errors.
     */
    static String clipParserMessage(String s) {
        return clip(s, 300);
    }

    private static String clip(String s, int max) {
        if (s == null || s.length() <= max) {
            return s;
        }
        int end = max;
        if (Character.isHighSurrogate(s.charAt(end - 1))) {
            end--; // half a surrogate pair would print as garbage
        }
        return s.substring(0, end) + "…";
    }

    /** A JSON value as an error message may quote it (its JSON text, clipped). */
    static String clip(JsonNode n) {
        return n == null ? "nothing" : clip(n.toString());
    }

    /** A single-quoted, clipped name (a tensor, a shard, a key). */
    static String quote(String s) {
        return "'" + clip(s) + "'";
    }

    /**
     * The text of {@code file}, which {@code what} ("config file") describes in errors: refused unless it is a
     * regular file (a FIFO or device would block or never end) of at most {@code maxBytes} bytes of UTF-8.
     * The size is checked before reading and again while reading, since the file may grow in between.
     */
    static String readJsonText(Path file, long maxBytes, String what) {
        if (!Files.exists(file)) {
            throw new ModelFormatException(what + " " + file + " does not exist");
        }
        if (!Files.isRegularFile(file)) {
            throw new ModelFormatException(what + " " + file + " is not a regular file"
                    + (Files.isDirectory(file) ? " (it is a directory)" : ""));
        }
        byte[] bytes;
        try {
            if (Files.size(file) > maxBytes) {
                throw tooLarge(file, maxBytes, what);
            }
            try (InputStream in = Files.newInputStream(file)) {
                bytes = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, maxBytes + 1));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + what + " " + file + ": " + e.getMessage(), e);
        }
        if (bytes.length > maxBytes) {
            throw tooLarge(file, maxBytes, what);
        }
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new ModelFormatException(what + " " + file + " is not valid UTF-8 JSON", e);
        }
    }

    private static ModelFormatException tooLarge(Path file, long maxBytes, String what) {
        return new ModelFormatException(what + " " + file + " is larger than the limit of " + mib(maxBytes)
                + "; it is corrupt or not a " + what);
    }

    private static String mib(long bytes) {
        return bytes % (1 << 20) == 0 ? (bytes >> 20) + " MiB" : bytes + " bytes";
    }
}
