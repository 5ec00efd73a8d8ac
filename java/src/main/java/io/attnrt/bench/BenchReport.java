package io.attnrt.bench;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** Collects rows, prints them as they come, and writes the CSV. */
public final class BenchReport {
    private final PrintWriter out;
    private final List<BenchRow> rows = new ArrayList<>();

    public BenchReport(PrintWriter out) {
        this.out = out;
        out.printf(Locale.ROOT, "%-17s %-16s %-44s %10s %9s %8s %10s %9s  %s%n", "section", "impl", "config",
                "time ms", "GFLOP/s", "GB/s", "tokens/s", "peak MiB", "ratio");
        out.flush();
    }

    public void add(BenchRow r) {
        rows.add(r);
        String ratio = Double.isNaN(r.ratio()) ? "" : String.format(Locale.ROOT, "%.2fx %s", r.ratio(), r.versus());
        out.printf(Locale.ROOT, "%-17s %-16s %-44s %10s %9s %8s %10s %9s  %s%n", r.section(), r.impl(), r.config(),
                fmt(r.seconds() * 1e3), fmt(r.gflops()), fmt(r.gbytes()), fmt(r.tokensPerS()), fmt(r.peakMemMb()),
                ratio);
        out.flush();
    }

    public List<BenchRow> rows() {
        return List.copyOf(rows);
    }

    public void writeCsv(Path file) throws IOException {
        writeCsv(file, List.of());
    }

    /** The CSV, after {@code comments} (lines starting with {@code #}, such as {@link MachineInfo#csvComments()}). */
    public void writeCsv(Path file, List<String> comments) throws IOException {
        List<String> lines = new ArrayList<>();
        for (String c : comments) {
            if (!c.startsWith("#")) {
                throw new IllegalArgumentException("a CSV comment line must start with #: " + c);
            }
            lines.add(c);
        }
        lines.add(BenchRow.CSV_HEADER);
        for (BenchRow r : rows) {
            lines.add(r.csv());
        }
        Files.write(file, lines);
    }

    private static String fmt(double v) {
        if (Double.isNaN(v)) {
            return "-";
        }
        return v >= 100 ? String.format(Locale.ROOT, "%.0f", v) : String.format(Locale.ROOT, "%.3g", v);
    }
}
