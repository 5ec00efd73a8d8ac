package io.attnrt.text;

import java.util.List;

/**
 * Watches streamed text for stop strings (OpenAI's {@code stop}): text is released only once it can no longer
 * be the start of a stop string, and a match ends the stream with the stop string and everything after it
 * left out.
 */
public final class StopStrings {
    private final List<String> stops;
    private final StringBuilder held = new StringBuilder();
    private boolean stopped;

    public StopStrings(List<String> stops) {
        this.stops = stops == null ? List.of() : List.copyOf(stops);
        for (int i = 0; i < this.stops.size(); i++) {
            if (this.stops.get(i).isEmpty()) {
                throw new IllegalArgumentException("stop string " + i + " is empty");
            }
        }
    }

    /** Feeds newly decoded text; returns what can be shown now. */
    public String add(String piece) {
        if (stopped) {
            return "";
        }
        held.append(piece);
        int match = -1;
        for (String s : stops) {
            int at = held.indexOf(s);
            if (at >= 0 && (match < 0 || at < match)) {
                match = at;
            }
        }
        if (match >= 0) {
            stopped = true;
            String out = held.substring(0, match);
            held.setLength(0);
            return out;
        }
        String h = held.toString();
        int keep = 0;
        for (String s : stops) {
            for (int k = Math.min(s.length() - 1, h.length()); k > keep; k--) {
                if (h.regionMatches(h.length() - k, s, 0, k)) {
                    keep = k;
                    break;
                }
            }
        }
        String out = held.substring(0, held.length() - keep);
        held.delete(0, held.length() - keep);
        return out;
    }

    public boolean stopped() {
        return stopped;
    }

    /** The text held back at the end of a generation that did not stop. */
    public String finish() {
        String out = stopped ? "" : held.toString();
        held.setLength(0);
        return out;
    }
}
