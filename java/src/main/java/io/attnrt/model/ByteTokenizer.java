package io.attnrt.model;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * The fallback tokenizer: one token per UTF-8 byte (ids 0–255). Right for byte-level test models; for
 * a real checkpoint it only serves token-id prompts' output display.
 */
public final class ByteTokenizer {
    private final int vocabSize;

    public ByteTokenizer(int vocabSize) {
        this.vocabSize = vocabSize;
    }

    public int[] encode(String text) {
        if (vocabSize < 256) {
            throw new IllegalArgumentException("byte-level tokenization needs a vocabulary of at least 256 tokens, "
                    + "the model has " + vocabSize + ": pass token ids instead");
        }
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        int[] ids = new int[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            ids[i] = bytes[i] & 0xff;
        }
        return ids;
    }

    /** Bytes back to text; ids above 255 appear as {@code <id>}. Invalid UTF-8 shows as U+FFFD. */
    public String decode(int[] ids) {
        StringBuilder sb = new StringBuilder();
        ByteArrayOutputStream pending = new ByteArrayOutputStream();
        for (int id : ids) {
            if (id >= 0 && id < 256) {
                pending.write(id);
            } else {
                sb.append(pending.toString(StandardCharsets.UTF_8));
                pending.reset();
                sb.append('<').append(id).append('>');
            }
        }
        sb.append(pending.toString(StandardCharsets.UTF_8));
        return sb.toString();
    }
}
