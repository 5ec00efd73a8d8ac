package io.attnrt.text;

import java.util.List;

/**
 * Ends a streamed generation at stop strings, as OpenAI's {@code stop} does: the matched stop string and
 * everything after it are never emitted. Text is fed as it is decoded, in pieces of any size; a stop may
 * span many pieces, so the tail that could still turn into one is held back until it can't (or until
 * {@link #finish}).
 *
 * <p>When several stops match, the one that completes first in the text wins (of those completing at the
 * same character, the one starting first). That is what a character-by-character stream would report, so the
 * result does not depend on how the text was cut into pieces; and nothing emitted ever contains a stop,
 * since a stop inside the emitted text would have completed earlier.
 *
 * <p>Not thread-safe: one instance per generation.
 */
public final class StopStrings {
    private final String[] stops;
    private final int longest;
    private final StringBuilder pending = new StringBuilder();
    private boolean stopped;

    /** {@code stops}: null or empty for none; an empty or null entry is refused (it would match everywhere). */
    public StopStrings(List<String> stops) {
        this.stops = stops == null ? new String[0] : stops.toArray(new String[0]);
        int max = 0;
        for (int i = 0; i < this.stops.length; i++) {
            if (this.stops[i] == null || this.stops[i].isEmpty()) {
                throw new IllegalArgumentException("stop string " + i + " is " + (this.stops[i] == null ? "null"
                        : "empty") + ": a stop must have at least one character");
            }
            max = Math.max(max, this.stops[i].length());
        }
        this.longest = max;
    }

    /**
     * Adds newly decoded text and returns what may be emitted now: everything except a tail that could still
     * begin a stop; once a stop matches, only the text before it, and {@link #stopped()} turns true. After
     * that, always "".
     */
    public String add(String piece) {
        if (stopped || piece == null || piece.isEmpty()) {
            return "";
        }
        if (stops.length == 0) {
            return piece;
        }
        int searchedUpTo = pending.length();
        pending.append(piece);
        // Earlier ends were checked when their text arrived; only matches ending in the new piece are new.
        for (int end = searchedUpTo + 1; end <= pending.length(); end++) {
            int start = earliestStartEndingAt(end);
            if (start >= 0) {
                stopped = true;
                String before = pending.substring(0, start);
                pending.setLength(0);
                return before;
            }
        }
        int keep = heldBackLength();
        String out = pending.substring(0, pending.length() - keep);
        pending.delete(0, pending.length() - keep);
        return out;
    }

    /** Whether a stop has matched. */
    public boolean stopped() {
        return stopped;
    }

    /** The end of the generation without a match: the text held back (an unfinished stop is just text). */
    public String finish() {
        String rest = stopped ? "" : pending.toString();
        pending.setLength(0);
        return rest;
    }

    /** The start of the longest stop that ends at {@code end} of the pending text, or -1. */
    private int earliestStartEndingAt(int end) {
        int best = -1;
        for (String s : stops) {
            int start = end - s.length();
            if (start >= 0 && (best < 0 || start < best) && regionEquals(start, s, s.length())) {
                best = start;
            }
        }
        return best;
    }

    /** Length of the longest pending tail that is a proper prefix of some stop. */
    private int heldBackLength() {
        int n = pending.length();
        for (int k = Math.min(n, longest - 1); k > 0; k--) {
            for (String s : stops) {
                if (s.length() > k && regionEquals(n - k, s, k)) {
                    return k;
                }
            }
        }
        // A lone high surrogate at the end is half a character: its other half comes with the next piece.
        return n > 0 && Character.isHighSurrogate(pending.charAt(n - 1)) ? 1 : 0;
    }

    private boolean regionEquals(int from, String s, int length) {
        for (int i = 0; i < length; i++) {
            if (pending.charAt(from + i) != s.charAt(i)) {
                return false;
            }
        }
        return true;
    }
}
