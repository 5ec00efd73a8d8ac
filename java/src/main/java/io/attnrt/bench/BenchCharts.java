package io.attnrt.bench;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.image.BufferedImage;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.DecimalFormat;
import java.text.DecimalFormatSymbols;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.ToDoubleFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.axis.NumberTickUnit;
import org.jfree.chart.axis.ValueAxis;
import org.jfree.chart.plot.ValueMarker;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.chart.title.TextTitle;
import org.jfree.chart.ui.RectangleAnchor;
import org.jfree.chart.ui.TextAnchor;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/**
 * The bench's sweeps as PNG charts, one per section whose rows sweep a parameter: prefill attention GFLOP/s
 * against L, decode attention GB/s against context with the measured bandwidth as a horizontal line, and
 * whole-model prefill and decode tokens/s against batch, decode beside its bandwidth limit. Each line is one
 * implementation at one shape (the row's config without the swept parameter); the baselines the rows carry
 * (reference backend, naive L×L attention) are dashed. Sections whose rows sweep nothing (gemv, serve, a
 * single batch size) get no chart. Rendered off-screen ({@code java.awt.headless}), so no display is needed.
 */
public final class BenchCharts {
    public static final int WIDTH = 1100;
    public static final int HEIGHT = 650;

    /**
     * How one section is charted.
     *
     * @param section the rows' section
     * @param x       the swept parameter in the row's config (group 1 its value)
     * @param noise   parts of the config that vary with x without making another line (stripped from the key)
     * @param y       the figure plotted
     * @param limit   per-row machine limit in y's unit (NaN: none), drawn as a dashed line of its own
     * @param limitName    what the limit line is called
     * @param limitPerImpl one limit line per impl rather than per shape
     */
    record Spec(String section, String what, Pattern x, String xLabel, List<Pattern> noise, String yLabel,
                ToDoubleFunction<BenchRow> y, ToDoubleFunction<BenchRow> limit, boolean bandwidthMarker,
                String limitName, boolean limitPerImpl) {
        Spec(String section, String what, Pattern x, String xLabel, List<Pattern> noise, String yLabel,
             ToDoubleFunction<BenchRow> y, ToDoubleFunction<BenchRow> limit, boolean bandwidthMarker) {
            this(section, what, x, xLabel, noise, yLabel, y, limit, bandwidthMarker, "bandwidth limit", false);
        }
    }

    private static final Pattern EMULATED = Pattern.compile("\\s*\\[EMULATED[^]]*]");

    static final List<Spec> SPECS = List.of(
            new Spec("prefill-attention", "prefill attention throughput", Pattern.compile("\\bL=(\\d+)"),
                    "sequence length L (tokens)", List.of(Pattern.compile("\\s*x\\d+ seqs"), EMULATED),
                    "GFLOP/s  (4·L²·d·heads, halved when causal)", BenchRow::gflops, r -> Double.NaN, false),
            new Spec("decode-attention", "paged decode attention bandwidth", Pattern.compile("\\bctx=(\\d+)"),
                    "context (tokens per sequence)", List.of(EMULATED), "GB/s of K/V read", BenchRow::gbytes,
                    r -> Double.NaN, true),
            new Spec("model-decode", "whole-model decode throughput", Pattern.compile("\\bbatch (\\d+)"),
                    "batch (sequences decoded together)",
                    List.of(Pattern.compile(",\\s*[\\d.]+ MB weights/step"), EMULATED), "tokens/s",
                    BenchRow::tokensPerS, BenchCharts::decodeLimit, false),
            new Spec("model-prefill", "whole-model prefill throughput", Pattern.compile("\\bbatch (\\d+)"),
                    "batch (sequences prefilled together)", List.of(EMULATED), "tokens/s", BenchRow::tokensPerS,
                    r -> Double.NaN, false),
            new Spec("linear", "F32 projection (GEMV to N ≤ 8, GEMM beyond)", Pattern.compile("\\bN=(\\d+)"),
                    "tokens N", List.of(EMULATED), "GFLOP/s  (2·N·OUT·IN)", BenchRow::gflops,
                    BenchCharts::fmaPeakLimit, false, "FMA peak", true));

    private BenchCharts() {
    }

    /**
     * Writes {@code bench-<section>.png} into {@code dir} for each section of {@code rows} that holds a sweep.
     *
     * @return the files written, in {@link #SPECS} order
     */
    public static List<Path> write(List<BenchRow> rows, MachineInfo machine, Path dir) throws IOException {
        List<Path> written = new ArrayList<>();
        write(rows, machine, dir, written);
        return written;
    }

    private static void write(List<BenchRow> rows, MachineInfo machine, Path dir, List<Path> written)
            throws IOException {
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true");
        }
        for (Spec spec : SPECS) {
            Optional<JFreeChart> chart = chart(spec, rows, machine);
            if (chart.isPresent()) {
                // drawn before the file is opened: a JRE without fonts fails here and leaves no empty file behind
                BufferedImage image = chart.get().createBufferedImage(WIDTH, HEIGHT);
                Files.createDirectories(dir);
                Path file = dir.resolve("bench-" + spec.section() + ".png");
                try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(file))) {
                    ChartUtils.writeBufferedImageAsPNG(out, image);
                }
                written.add(file);
            }
        }
    }

    /**
     * {@link #write}, but a failure to draw (no fonts in a headless JRE, an unwritable directory) is one line on
     * {@code err} instead of an exception: the charts are an extra, the CSV has every figure.
     *
     * @return the files written before any failure
     */
    public static List<Path> writeOrWarn(List<BenchRow> rows, MachineInfo machine, Path dir, PrintWriter err) {
        List<Path> written = new ArrayList<>();
        try {
            write(rows, machine, dir, written);
            return written;
        } catch (Throwable t) {
            // AWT without fonts fails with Errors: InternalError (a VirtualMachineError, though the VM is fine),
            // UnsatisfiedLinkError, NoClassDefFoundError once a font manager failed to initialise
            if (t instanceof VirtualMachineError && !(t instanceof InternalError)) {
                throw (VirtualMachineError) t;
            }
            err.println("bench: charts not drawn (" + describe(t) + ")" + (fontTrouble(t)
                    ? "; the JRE found no usable fonts: install fontconfig and a font (e.g. fonts-dejavu-core)" : "")
                    + "; the CSV has every figure");
            err.flush();
            return written;
        }
    }

    private static String describe(Throwable t) {
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String msg = root.getMessage() == null ? "" : ": " + root.getMessage().lines().findFirst().orElse("");
        return root.getClass().getName() + msg;
    }

    private static boolean fontTrouble(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (String.valueOf(c.getMessage()).toLowerCase(Locale.ROOT).contains("font")) {
                return true;
            }
            for (StackTraceElement e : c.getStackTrace()) {
                if (e.getClassName().startsWith("sun.font.") || e.getClassName().contains("FontManager")
                        || e.getClassName().contains("FontConfiguration")) {
                    return true;
                }
            }
        }
        return false;
    }

    /** A model-decode row's bandwidth limit in tokens/s: its tokens/s ÷ its ratio to that limit. */
    private static double fmaPeakLimit(BenchRow r) {
        return r.versus() != null && r.versus().startsWith("of fma-peak") && r.ratio() > 0
                ? r.gflops() / r.ratio() : Double.NaN;
    }

    private static double decodeLimit(BenchRow r) {
        return r.versus() != null && r.versus().startsWith("of bandwidth limit") && r.ratio() > 0
                ? r.tokensPerS() / r.ratio() : Double.NaN;
    }

    /** What a line is: the backend measured, a baseline measured beside it, or a machine limit. */
    enum Kind { MEASURED, BASELINE, LIMIT }

    /**
     * One line of a chart: its name, the shape it was measured at (lines of one shape share a colour), and its
     * points x → y, sorted by x.
     */
    record Line(String name, String shape, Kind kind, TreeMap<Double, Double> points) {
        boolean baseline() {
            return kind != Kind.MEASURED;
        }
    }

    /** The lines of a section's chart, keyed by impl and the config without the swept parameter. */
    static Map<String, Line> lines(Spec spec, List<BenchRow> rows) {
        Map<String, Line> lines = new LinkedHashMap<>();
        Map<String, Line> limits = new LinkedHashMap<>();
        for (BenchRow r : rows) {
            if (!r.section().equals(spec.section())) {
                continue;
            }
            Matcher m = spec.x().matcher(r.config());
            double y = spec.y().applyAsDouble(r);
            if (!m.find() || !(y > 0) || Double.isInfinite(y)) {
                continue; // a ratio row, an estimate that was not run, a figure that does not apply
            }
            double x = Double.parseDouble(m.group(1));
            String shape = m.replaceFirst("");
            for (Pattern p : spec.noise()) {
                shape = p.matcher(shape).replaceAll("");
            }
            shape = shape.replaceAll("\\s+", " ").replaceAll("^[\\s,]+|[\\s,]+$", "").replaceAll(",\\s*,", ",");
            String name = r.impl() + (shape.isEmpty() ? "" : " — " + shape);
            Kind kind = r.impl().equals("reference") || r.impl().startsWith("naive") ? Kind.BASELINE : Kind.MEASURED;
            String key = shape;
            lines.computeIfAbsent(name, k -> new Line(k, key, kind, new TreeMap<>())).points().put(x, y);
            double limit = spec.limit().applyAsDouble(r);
            if (limit > 0 && !Double.isInfinite(limit)) {
                // per impl where impls differ in it: the FMA peak of one thread and of all
                String lname = spec.limitName() + (spec.limitPerImpl() ? ", " + r.impl() : "") + " — "
                        + (shape.isEmpty() ? r.impl() : shape);
                limits.computeIfAbsent(lname, k -> new Line(k, key, Kind.LIMIT, new TreeMap<>())).points()
                        .put(x, limit);
            }
        }
        lines.putAll(limits);
        return lines;
    }

    /** Whether some line has two or more points: a sweep. */
    static boolean isSweep(Map<String, Line> lines) {
        return lines.values().stream().anyMatch(l -> l.points().size() >= 2);
    }

    /** The machine's measured bandwidth: the bandwidth section's first row with a figure. */
    static Optional<BenchRow> bandwidth(List<BenchRow> rows) {
        return rows.stream().filter(r -> r.section().equals("bandwidth") && r.gbytes() > 0
                && !Double.isInfinite(r.gbytes())).findFirst();
    }

    /** The chart of one section, or empty where its rows sweep nothing. */
    static Optional<JFreeChart> chart(Spec spec, List<BenchRow> rows, MachineInfo machine) {
        Map<String, Line> lines = lines(spec, rows);
        if (!isSweep(lines)) {
            return Optional.empty();
        }
        XYSeriesCollection data = new XYSeriesCollection();
        double minX = Double.MAX_VALUE;
        double maxX = 0;
        double minY = Double.MAX_VALUE;
        double maxY = 0;
        boolean powersOfTwo = true;
        for (Line l : lines.values()) {
            XYSeries s = new XYSeries(l.name(), true, false);
            for (Map.Entry<Double, Double> p : l.points().entrySet()) {
                s.add(p.getKey(), p.getValue());
                minX = Math.min(minX, p.getKey());
                maxX = Math.max(maxX, p.getKey());
                minY = Math.min(minY, p.getValue());
                maxY = Math.max(maxY, p.getValue());
                long xi = (long) (double) p.getKey();
                powersOfTwo &= xi == p.getKey() && xi > 0 && Long.bitCount(xi) == 1;
            }
            data.addSeries(s);
        }
        Optional<BenchRow> bw = spec.bandwidthMarker() ? bandwidth(rows) : Optional.empty();
        double marker = bw.map(BenchRow::gbytes).orElse(Double.NaN);
        if (marker > 0) {
            minY = Math.min(minY, marker);
            maxY = Math.max(maxY, marker);
        }

        ValueAxis xAxis;
        if (powersOfTwo && maxX / minX >= 4) {
            LogAxis log = new LogAxis(spec.xLabel() + "  (log scale)");
            log.setBase(2);
            log.setTickUnit(new NumberTickUnit(1));
            log.setMinorTickCount(1);
            log.setNumberFormatOverride(new DecimalFormat("0", DecimalFormatSymbols.getInstance(Locale.ROOT)));
            log.setRange(minX / Math.sqrt(2), maxX * Math.sqrt(2));
            xAxis = log;
        } else {
            NumberAxis lin = new NumberAxis(spec.xLabel());
            lin.setAutoRangeIncludesZero(false);
            lin.setNumberFormatOverride(integers());
            double pad = Math.max(1, (maxX - minX) * 0.05);
            lin.setRange(minX - pad, maxX + pad);
            xAxis = lin;
        }
        ValueAxis yAxis;
        if (maxY / minY > 30) { // the baselines would sit flat on the axis of a linear scale
            LogAxis log = new LogAxis(spec.yLabel() + "  (log scale)");
            // ticks at powers of two (1, 2, 4 … or every 2nd, 4th … power for wide ranges): round numbers
            int every = (int) Math.ceil(Math.log(maxY / minY) / Math.log(2) / 10);
            log.setBase(10);
            log.setTickUnit(new NumberTickUnit(every * Math.log10(2)));
            log.setMinorTickCount(1);
            log.setNumberFormatOverride(new DecimalFormat("#,##0.###", DecimalFormatSymbols.getInstance(Locale.ROOT)));
            log.setRange(minY / 1.6, maxY * 1.6);
            yAxis = log;
        } else {
            NumberAxis lin = new NumberAxis(spec.yLabel());
            lin.setRange(0, maxY * 1.12);
            yAxis = lin;
        }

        XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(true, true);
        List<String> shapes = lines.values().stream().map(Line::shape).distinct().toList();
        int i = 0;
        for (Line l : lines.values()) {
            renderer.setSeriesPaint(i, PALETTE[shapes.indexOf(l.shape()) % PALETTE.length]);
            renderer.setSeriesStroke(i, switch (l.kind()) {
                case MEASURED -> new BasicStroke(2.6f);
                case BASELINE -> l.name().startsWith("naive")
                        ? new BasicStroke(1.6f, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND, 1f, new float[] {2f, 4f}, 0f)
                        : new BasicStroke(1.6f, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND, 1f, new float[] {7f, 5f}, 0f);
                case LIMIT -> new BasicStroke(1.6f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 1f,
                        new float[] {12f, 4f, 2f, 4f}, 0f);
            });
            i++;
        }
        XYPlot plot = new XYPlot(data, xAxis, yAxis, renderer);
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinePaint(new Color(0xDDDDDD));
        plot.setRangeGridlinePaint(new Color(0xDDDDDD));
        if (marker > 0) {
            ValueMarker m = new ValueMarker(marker, new Color(0xB00020), new BasicStroke(2f, BasicStroke.CAP_BUTT,
                    BasicStroke.JOIN_MITER, 1f, new float[] {10f, 6f}, 0f));
            m.setLabel(String.format(Locale.ROOT, "measured bandwidth limit %.1f GB/s (%s)", marker, bw.get().impl()));
            m.setLabelPaint(new Color(0xB00020));
            m.setLabelFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
            m.setLabelAnchor(RectangleAnchor.TOP_RIGHT);
            m.setLabelTextAnchor(TextAnchor.BOTTOM_RIGHT);
            m.setLabelBackgroundColor(new Color(255, 255, 255, 0));
            plot.addRangeMarker(m);
        }
        JFreeChart chart = new JFreeChart(spec.section() + " — " + machine.summary(),
                new Font(Font.SANS_SERIF, Font.BOLD, 17), plot, true);
        chart.addSubtitle(new TextTitle(spec.what() + "; " + machine.backend() + "; " + machine.jvm(),
                new Font(Font.SANS_SERIF, Font.PLAIN, 12)));
        chart.setBackgroundPaint(Color.WHITE);
        return Optional.of(chart);
    }

    /** Tableau's 10 colours: distinct on white, none of them the default palette's pale yellow. */
    private static final Color[] PALETTE = {new Color(0x1F77B4), new Color(0xD62728), new Color(0x2CA02C),
        new Color(0xFF7F0E), new Color(0x9467BD), new Color(0x8C564B), new Color(0xE377C2), new Color(0x7F7F7F),
        new Color(0xBCBD22), new Color(0x17BECF)};

    private static DecimalFormat integers() {
        return new DecimalFormat("#,##0", DecimalFormatSymbols.getInstance(Locale.ROOT));
    }
}
