package io.attnrt.bench;

import java.io.PrintStream;

/** A one-line progress bar on stderr for long sweeps (rewritten in place with a carriage return). */
public final class Progress {
    private final PrintStream err;
    private final int total;
    private final boolean enabled;
    private int done;

    public Progress(PrintStream err, int total, boolean enabled) {
        this.err = err;
        this.total = total;
        this.enabled = enabled;
    }

    public void step(String label) {
        if (!enabled) {
            return;
        }
        int width = 30;
        int filled = total == 0 ? width : done * width / total;
        err.printf("\r[%s%s] %d/%d %-50s", "#".repeat(filled), " ".repeat(width - filled), done, total,
                label.length() > 50 ? label.substring(0, 50) : label);
        err.flush();
        done++;
    }

    public void finish() {
        if (enabled) {
            err.printf("\r%s\r", " ".repeat(100));
            err.flush();
        }
    }
}
