package io.attnrt.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BenchChartsTest {
    static final double NaN = Double.NaN;
    static final MachineInfo MACHINE = new MachineInfo("Test CPU 9000", 2, "avx2 fma", "2", "32", 256,
            "cpu: SIMD 256-bit (8 float lanes), 2 threads", "2", "OpenJDK 64-Bit Server VM 17 (Test)", "Linux", 512);
    static final byte[] PNG_SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

    static BenchRow gflops(String section, String impl, String config, double gflops) {
        return new BenchRow(section, impl, config, 1e-3, gflops, NaN, NaN, 10, null, NaN);
    }

    /** What AttentionBench emits for a sweep over L: backend, reference, naive, ratio rows and an estimate. */
    static List<BenchRow> prefill() {
        List<BenchRow> rows = new ArrayList<>();
        for (int l : new int[] {128, 256, 512, 1024}) {
            for (String shape : new String[] {" d=128 h=8/2 causal", " d=64 h=8/8 causal"}) {
                String c = "L=" + l + shape;
                double f = shape.contains("d=64") ? 0.6 : 1;
                rows.add(gflops("prefill-attention", "cpu", c, f * (50 + l / 10.0)));
                rows.add(gflops("prefill-attention", "reference", c, f * 2.5));
                rows.add(new BenchRow("prefill-attention", "cpu/reference", c, 1e-3, NaN, NaN, NaN, NaN,
                        "faster than reference", 20));
                if (l <= 512) {
                    rows.add(gflops("prefill-attention", "naive-LxL", c, 3));
                } else {
                    rows.add(new BenchRow("prefill-attention", "naive-LxL(est)", c + " not run", NaN, NaN, NaN, NaN,
                            64, null, NaN));
                }
            }
        }
        return rows;
    }

    static void assertPng(Path file) throws Exception {
        byte[] bytes = Files.readAllBytes(file);
        assertArrayEquals(PNG_SIGNATURE, Arrays.copyOf(bytes, 8), file + " is not a PNG");
        BufferedImage img = ImageIO.read(file.toFile());
        assertEquals(BenchCharts.WIDTH, img.getWidth());
        assertEquals(BenchCharts.HEIGHT, img.getHeight());
        // something was drawn: not a blank canvas
        int first = img.getRGB(0, 0);
        boolean varied = false;
        for (int y = 0; y < img.getHeight() && !varied; y += 7) {
            for (int x = 0; x < img.getWidth() && !varied; x += 7) {
                varied = img.getRGB(x, y) != first;
            }
        }
        assertTrue(varied, file + " is blank");
    }

    @Test
    void prefillLinesAreOnePerImplAndShapeWithoutRatiosOrEstimates() {
        Map<String, BenchCharts.Line> lines = BenchCharts.lines(BenchCharts.SPECS.get(0), prefill());
        assertEquals(List.of("cpu — d=128 h=8/2 causal", "reference — d=128 h=8/2 causal",
                "naive-LxL — d=128 h=8/2 causal", "cpu — d=64 h=8/8 causal", "reference — d=64 h=8/8 causal",
                "naive-LxL — d=64 h=8/8 causal"), List.copyOf(lines.keySet()));
        BenchCharts.Line cpu = lines.get("cpu — d=128 h=8/2 causal");
        assertFalse(cpu.baseline());
        assertEquals(List.of(128.0, 256.0, 512.0, 1024.0), List.copyOf(cpu.points().keySet()));
        assertEquals(152.4, cpu.points().get(1024.0), 1e-9);
        assertTrue(lines.get("naive-LxL — d=128 h=8/2 causal").baseline());
        assertEquals(3, lines.get("naive-LxL — d=128 h=8/2 causal").points().size());
    }

    @Test
    void writesAPngOfThePrefillAndDecodeSweeps(@TempDir Path dir) throws Exception {
        List<BenchRow> rows = new ArrayList<>();
        rows.add(new BenchRow("bandwidth", "stream-read", "all cores", NaN, NaN, 35.2, NaN, NaN, null, NaN));
        rows.addAll(prefill());
        for (int ctx : new int[] {512, 4096, 16384}) {
            for (int b : new int[] {1, 8}) {
                rows.add(new BenchRow("decode-attention", "cpu", "B=" + b + " ctx=" + ctx + " d=128 h=32/8 blk=16",
                        1e-3, NaN, 12 + b, NaN, NaN, "of measured bandwidth", (12 + b) / 35.2));
            }
        }
        List<Path> files = BenchCharts.write(rows, MACHINE, dir.resolve("charts"));
        assertEquals(List.of(dir.resolve("charts/bench-prefill-attention.png"),
                dir.resolve("charts/bench-decode-attention.png")), files);
        for (Path f : files) {
            assertPng(f);
        }
    }

    @Test
    void modelDecodeIsChartedBesideItsBandwidthLimitAndOnlyWhenBatchIsSwept(@TempDir Path dir) throws Exception {
        List<BenchRow> rows = new ArrayList<>();
        for (int b : new int[] {1, 4}) {
            rows.add(new BenchRow("model-prefill", "cpu", "56.4M params F32, prompt 128, batch " + b, 0.05, 180, NaN,
                    2200.0 * b, NaN, null, NaN));
            rows.add(new BenchRow("model-decode", "cpu", "56.4M params F32, prompt 128, batch " + b
                    + ", 160 MB weights/step", 0.005, NaN, 30, 190.0 * b, NaN,
                    "of bandwidth limit 220 tok/s (35.2 GB/s measured alongside)", 0.5));
        }
        Map<String, BenchCharts.Line> lines = BenchCharts.lines(BenchCharts.SPECS.get(2), rows);
        assertEquals(List.of("cpu — 56.4M params F32, prompt 128", "bandwidth limit — 56.4M params F32, prompt 128"),
                List.copyOf(lines.keySet()));
        assertEquals(1520.0, lines.get("bandwidth limit — 56.4M params F32, prompt 128").points().get(4.0), 1e-9);
        List<Path> files = BenchCharts.write(rows, MACHINE, dir);
        assertEquals(List.of(dir.resolve("bench-model-decode.png"), dir.resolve("bench-model-prefill.png")), files);
        assertPng(files.get(0));

        // one batch size (the quick run, the quant section): a point per line, no sweep, no chart
        Path single = Files.createDirectory(dir.resolve("single"));
        List<BenchRow> one = rows.stream().filter(r -> r.config().contains("batch 1")).toList();
        assertEquals(List.of(), BenchCharts.write(one, MACHINE, single));
        try (var listing = Files.list(single)) {
            assertEquals(0, listing.count());
        }
    }

    @Test
    void linearIsChartedAgainstTokensBesideTheFmaPeakOfItsOwnThreadCount(@TempDir Path dir) throws Exception {
        List<BenchRow> rows = new ArrayList<>();
        for (int n : new int[] {1, 128}) {
            rows.add(new BenchRow("linear", "cpu 1 thread", "F32 OUT=512 IN=512 N=" + n, 1e-4, n == 1 ? 20 : 100,
                    5, NaN, NaN, "of fma-peak 1t", (n == 1 ? 20 : 100) / 200.0));
            rows.add(new BenchRow("linear", "cpu 2 threads", "F32 OUT=512 IN=512 N=" + n, 1e-4, n == 1 ? 35 : 180,
                    9, NaN, NaN, "of fma-peak 2t", (n == 1 ? 35 : 180) / 400.0));
        }
        BenchCharts.Spec spec = BenchCharts.SPECS.stream().filter(s -> s.section().equals("linear")).findFirst()
                .orElseThrow();
        Map<String, BenchCharts.Line> lines = BenchCharts.lines(spec, rows);
        assertEquals(List.of("cpu 1 thread — F32 OUT=512 IN=512", "cpu 2 threads — F32 OUT=512 IN=512",
                "FMA peak, cpu 1 thread — F32 OUT=512 IN=512", "FMA peak, cpu 2 threads — F32 OUT=512 IN=512"),
                List.copyOf(lines.keySet()));
        assertEquals(200.0, lines.get("FMA peak, cpu 1 thread — F32 OUT=512 IN=512").points().get(128.0), 1e-9);
        assertEquals(400.0, lines.get("FMA peak, cpu 2 threads — F32 OUT=512 IN=512").points().get(1.0), 1e-9);
        assertEquals(List.of(dir.resolve("bench-linear.png")), BenchCharts.write(rows, MACHINE, dir));
    }

    @Test
    void cudaRowsOfOneShapeAreOneLineAlthoughTheirSequenceCountVaries() {
        List<BenchRow> rows = List.of(
                gflops("prefill-attention", "cuda", "L=512 d=64 h=32/32 causal x32 seqs", 90000),
                gflops("prefill-attention", "cuda", "L=1024 d=64 h=32/32 causal x16 seqs", 120000),
                gflops("prefill-attention", "cuda",
                        "L=65 d=64 h=2/2 causal x1 seqs [EMULATED device: timings mean nothing]", 1));
        Map<String, BenchCharts.Line> lines = BenchCharts.lines(BenchCharts.SPECS.get(0), rows);
        assertEquals(List.of("cuda — d=64 h=32/32 causal", "cuda — d=64 h=2/2 causal"), List.copyOf(lines.keySet()));
        assertEquals(2, lines.get("cuda — d=64 h=32/32 causal").points().size());
    }

    @Test
    void sectionsWithoutASweepProduceNoFile(@TempDir Path dir) throws Exception {
        List<BenchRow> rows = List.of(
                new BenchRow("bandwidth", "stream-read", "all cores", NaN, NaN, 35.2, NaN, NaN, null, NaN),
                new BenchRow("serve", "one-at-a-time", "56.4M params, 8 requests", 3, NaN, NaN, 80, NaN, null, NaN),
                new BenchRow("serve", "batched-4", "56.4M params, 8 requests", 1, NaN, NaN, 300, NaN, "one-at-a-time",
                        3.75),
                new BenchRow("serve-prefix-cache", "cached", "1024-token shared prefix", 0.03, NaN, NaN, NaN, NaN,
                        "cold", 30),
                new BenchRow("gemv", "cuda", "N=1 OUT=4096 IN=4096 bf16", 1e-5, 3, 3000, NaN, NaN, "of d2d", 0.9),
                new BenchRow("gemv", "cuda", "N=1 OUT=14336 IN=4096 bf16", 1e-5, 3, 3100, NaN, NaN, "of d2d", 0.9),
                gflops("prefill-attention", "cpu", "L=64 d=128 h=8/2 causal", 10),
                gflops("prefill-attention", "reference", "L=64 d=128 h=8/2 causal", 1));
        assertEquals(List.of(), BenchCharts.write(rows, MACHINE, dir));
        try (var listing = Files.list(dir)) {
            assertEquals(0, listing.count());
        }
    }

    @Test
    void aChartThatCannotBeWrittenIsOneLineOfWarning(@TempDir Path dir) throws Exception {
        Path notADir = Files.writeString(dir.resolve("file"), "x");
        StringWriter err = new StringWriter();
        List<Path> files = BenchCharts.writeOrWarn(prefill(), MACHINE, notADir, new PrintWriter(err));
        assertEquals(List.of(), files);
        assertEquals(1, err.toString().lines().count(), err.toString());
        assertTrue(err.toString().startsWith("bench: charts not drawn ("), err.toString());
        assertTrue(err.toString().contains("the CSV has every figure"), err.toString());
    }
}
