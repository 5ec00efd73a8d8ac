package io.attnrt.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Construction and configuration: SIMD detection, system properties, and running without the vector module. */
class CpuBackendModuleTest {

    @Test
    void describesItsModeAndThreads() {
        try (CpuBackend simd = new CpuBackend(2, true); CpuBackend scalar = new CpuBackend(1, false)) {
            assertTrue(simd.simd());
            assertEquals("cpu", simd.name());
            assertTrue(simd.description().matches("cpu: SIMD \\d+-bit \\(\\d+ float lanes\\), 2 threads"),
                    simd.description());
            assertFalse(scalar.simd());
            assertEquals(1, scalar.threads());
            assertTrue(scalar.description().startsWith("cpu: scalar"), scalar.description());
            assertTrue(scalar.description().endsWith(", 1 thread"), scalar.description());
        }
    }

    @Test
    void createReadsThreadsAndSimdFromSystemProperties() {
        String oldThreads = System.getProperty("attnrt.threads");
        String oldSimd = System.getProperty("attnrt.cpu.simd");
        try {
            System.setProperty("attnrt.threads", "3");
            System.setProperty("attnrt.cpu.simd", "false");
            try (CpuBackend b = CpuBackend.create()) {
                assertEquals(3, b.threads());
                assertFalse(b.simd());
            }
            System.clearProperty("attnrt.cpu.simd");
            System.clearProperty("attnrt.threads");
            try (CpuBackend b = CpuBackend.create()) {
                assertEquals(Runtime.getRuntime().availableProcessors(), b.threads());
                assertTrue(b.simd(), "this test JVM runs with the vector module");
            }
        } finally {
            restore("attnrt.threads", oldThreads);
            restore("attnrt.cpu.simd", oldSimd);
        }
    }

    private static void restore(String key, String value) {
        if (value == null) {
            System.clearProperty(key);
        } else {
            System.setProperty(key, value);
        }
    }

    @Test
    void runsScalarOnAJvmWithoutTheVectorModule() throws IOException, InterruptedException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = List.of(java, "-cp", System.getProperty("java.class.path"),
                WithoutVectorModuleMain.class.getName());
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "child JVM did not finish: " + output);
        assertEquals(0, p.exitValue(), output);
        assertTrue(output.contains("refused: SIMD requested but module jdk.incubator.vector"), output);
        assertTrue(output.contains("cpu: scalar (jdk.incubator.vector not enabled)"), output);
    }
}
