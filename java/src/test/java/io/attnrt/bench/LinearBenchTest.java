package io.attnrt.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.attnrt.backend.cpu.CpuBackend;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import org.junit.jupiter.api.Test;

class LinearBenchTest {

    /** Rows up to the token cap, each figure derived from its own time by the stated formulas. */
    @Test
    void rowsCountTwoFlopPerWeightPerTokenAgainstTheGivenPeak() {
        BenchReport report = new BenchReport(new PrintWriter(new StringWriter()));
        new LinearBench(t -> new CpuBackend(t, false)).run(1, 50.0, 24, 40, 8, report);
        List<BenchRow> rows = report.rows();
        assertEquals(List.of("F32 OUT=24 IN=40 N=1", "F32 OUT=24 IN=40 N=8"),
                rows.stream().map(BenchRow::config).toList());
        for (BenchRow r : rows) {
            int n = Integer.parseInt(r.config().substring(r.config().lastIndexOf(" N=") + 3));
            assertEquals("linear", r.section());
            assertEquals("cpu 1 thread", r.impl());
            assertTrue(r.seconds() > 0, r.toString());
            assertEquals(2.0 * n * 24 * 40 / r.seconds() / 1e9, r.gflops(), 1e-9 * r.gflops());
            assertEquals(4.0 * 24 * 40 / r.seconds() / 1e9, r.gbytes(), 1e-9 * r.gbytes());
            assertEquals(r.gflops() / 50.0, r.ratio(), 1e-12);
            assertEquals("of fma-peak 1t", r.versus());
        }
    }
}
