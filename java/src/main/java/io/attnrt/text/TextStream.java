package io.attnrt.text;

import java.util.Arrays;

/**
 * Streams the text of tokens as they are generated. A token may end in the middle of a UTF-8 character (byte
 * fallback, byte-level BPE) and a piece's text can depend on its neighbours (SentencePiece drops the space of
 * a text's first piece), so each step decodes a short window twice — the tokens already shown and the same
 * with the new ones — and releases the difference once it does not end in an incomplete character (U+FFFD),
 * as Hugging Face's DecodeStream does. Special tokens are not shown.
 */
public final class TextStream {
    /** Tokens of context before the first new one: enough for any piece to decode as it does mid-text. */
    private static final int CONTEXT = 4;

    private final Tokenizer tokenizer;
    private int[] ids;
    private int size;
    private int prefix;
    private int read;

    TextStream(Tokenizer tokenizer, int[] context) {
        this.tokenizer = tokenizer;
        // Ids past the tokenizer's vocabulary (embedding padding rows) have no text: they are not context.
        int[] valid = Arrays.stream(context).filter(id -> id >= 0 && id <= tokenizer.maxTokenId()).toArray();
        int keep = Math.min(CONTEXT, valid.length);
        this.ids = Arrays.copyOfRange(valid, valid.length - keep, valid.length + 16);
        this.size = keep;
        this.prefix = 0;
        this.read = keep;
    }

    /**
     * Adds one generated token; returns the text it completes (often empty mid-character). An id past the
     * tokenizer's vocabulary (an embedding padding row) has no text.
     */
    public String add(int token) {
        if (token < 0 || token > tokenizer.maxTokenId()) {
            return "";
        }
        if (size == ids.length) {
            ids = Arrays.copyOf(ids, 2 * ids.length);
        }
        ids[size++] = token;
        return release(false);
    }

    /** The text still held back (an incomplete character at the end shows as U+FFFD). */
    public String finish() {
        return release(true);
    }

    private String release(boolean force) {
        String shown = tokenizer.decode(Arrays.copyOfRange(ids, prefix, read), true);
        String all = tokenizer.decode(Arrays.copyOfRange(ids, prefix, size), true);
        if (all.length() <= shown.length() || (!force && all.endsWith("\uFFFD"))) {
            return force && all.length() > shown.length() ? all.substring(shown.length()) : "";
        }
        // The window slides: what is shown becomes the context of the next step.
        prefix = read;
        read = size;
        return all.substring(shown.length());
    }
}
