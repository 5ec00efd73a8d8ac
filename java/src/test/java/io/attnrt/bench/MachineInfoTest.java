package io.attnrt.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.attnrt.backend.cpu.CpuBackend;
import io.attnrt.backend.reference.ReferenceBackend;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MachineInfoTest {
    /** Two processors of an x86 /proc/cpuinfo, abridged. */
    static final String X86 = """
            processor\t: 0
            vendor_id\t: AuthenticAMD
            cpu family\t: 25
            model\t\t: 1
            model name\t: AMD EPYC 7B13   64-Core Processor
            cpu MHz\t\t: 2450.000
            flags\t\t: fpu vme de pse tsc msr sse sse2 ssse3 fma cx16 sse4_1 sse4_2 avx f16c avx2 bmi2 avx512f avx512dq avx512bw avx512vl avx512_bf16

            processor\t: 1
            model name\t: Some Other CPU
            flags\t\t: fpu
            """;

    /** An aarch64 /proc/cpuinfo: no model name at all, features instead of flags. */
    static final String ARM = """
            processor\t: 0
            BogoMIPS\t: 243.75
            Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp sve
            CPU implementer\t: 0x41
            CPU architecture: 8
            CPU part\t: 0xd40
            """;

    @Test
    void parsesTheModelNameOfTheFirstProcessor() {
        assertEquals("AMD EPYC 7B13 64-Core Processor", MachineInfo.cpuModel(X86, "amd64"));
    }

    @Test
    void fallsBackToTheArchitectureWithoutAModelName() {
        // not "CPU architecture: 8", nor "cpu family": only exact keys count
        assertEquals("unknown aarch64 CPU", MachineInfo.cpuModel(ARM, "aarch64"));
        assertEquals("unknown riscv64 CPU", MachineInfo.cpuModel("", "riscv64"));
        assertEquals("Raspberry Pi 4 Model B", MachineInfo.cpuModel("processor : 0\nHardware\t: Raspberry Pi 4 Model B\n",
                "arm"));
    }

    @Test
    void listsTheSimdFlagsInAFixedOrder() {
        assertEquals("sse4_2 avx avx2 fma f16c avx512f avx512dq avx512bw avx512vl avx512_bf16",
                MachineInfo.simdFlags(X86));
        assertEquals("asimd asimdhp asimddp fphp sve", MachineInfo.simdFlags(ARM));
        assertEquals(MachineInfo.NA, MachineInfo.simdFlags(""));
        assertTrue(MachineInfo.simdFlags("flags : fpu sse2\n").startsWith("none of"));
    }

    @Test
    void aMissingCpuinfoReadsAsEmpty(@TempDir Path dir) {
        assertEquals("", MachineInfo.readCpuinfo(dir.resolve("no-such-cpuinfo")));
        assertEquals("", MachineInfo.readCpuinfo(dir)); // a directory, not a file
    }

    @Test
    void anUnknownVmOptionIsNotAvailable() {
        assertEquals(MachineInfo.NA, MachineInfo.vmOption("NoSuchOptionAnywhere"));
        String arch = System.getProperty("os.arch");
        if (arch.equals("amd64") || arch.equals("x86_64")) {
            assertTrue(MachineInfo.vmOption("UseAVX").matches("\\d"), MachineInfo.vmOption("UseAVX"));
        }
        assertTrue(MachineInfo.vmOption("MaxVectorSize").matches("\\d+"), MachineInfo.vmOption("MaxVectorSize"));
    }

    @Test
    void theVectorWidthIsTheOneTheCpuBackendUses() {
        int bits = MachineInfo.preferredVectorBits();
        if (!CpuBackend.vectorModulePresent()) {
            assertEquals(0, bits);
            return;
        }
        assertTrue(bits >= 64 && Integer.bitCount(bits) == 1, "bits " + bits);
        try (CpuBackend cpu = new CpuBackend(1, true)) {
            assertTrue(cpu.description().contains("SIMD " + bits + "-bit"), cpu.description());
        }
    }

    @Test
    void everyFactIsPresentForEachBackend() {
        try (ReferenceBackend ref = new ReferenceBackend(); CpuBackend cpu = new CpuBackend(3, false)) {
            MachineInfo r = MachineInfo.detect(ref);
            MachineInfo c = MachineInfo.detect(cpu);
            assertEquals("1", r.threads());
            assertEquals("3", c.threads());
            assertEquals(cpu.description(), c.backend());
            assertEquals(Runtime.getRuntime().availableProcessors(), c.logicalCpus());
            assertTrue(c.jvm().contains(System.getProperty("java.runtime.version")), c.jvm());
            assertTrue(c.os().contains(System.getProperty("os.arch")), c.os());
            Map<String, String> e = c.entries();
            assertEquals(List.of("cpu", "logical_cpus", "cpu_simd_flags", "jvm_use_avx", "jvm_max_vector_size",
                    "vector_api_float_bits", "backend", "threads", "jvm", "os", "max_heap_mib"), List.copyOf(e.keySet()));
            e.forEach((k, v) -> assertFalse(v == null || v.isBlank(), k + " is blank"));
            if (System.getProperty("os.name").equals("Linux") && !MachineInfo.readCpuinfo(Path.of("/proc/cpuinfo"))
                    .isEmpty()) {
                assertFalse(c.cpuModel().startsWith("unknown"), c.cpuModel());
            }
        }
    }

    @Test
    void printsAndWritesEveryFactOnALineOfItsOwn() {
        MachineInfo m = new MachineInfo("Test CPU 9000", 4, "avx2 fma", "2", "32", 256, "cpu: SIMD 256-bit, 4 threads",
                "4", "OpenJDK 17 (Test)", "Linux 6 amd64", 1024);
        StringWriter s = new StringWriter();
        m.print(new PrintWriter(s));
        List<String> lines = s.toString().lines().toList();
        assertEquals("machine:", lines.get(0));
        assertEquals(12, lines.size(), s.toString());
        assertTrue(lines.contains("  cpu:                   Test CPU 9000"), s.toString());
        assertTrue(lines.contains("  jvm_max_vector_size:   32 bytes"), s.toString());
        List<String> csv = m.csvComments();
        assertTrue(csv.stream().allMatch(l -> l.startsWith("# ")), csv.toString());
        assertTrue(csv.contains("# vector_api_float_bits: 256"), csv.toString());
        assertTrue(csv.contains("# threads: 4"), csv.toString());
        assertEquals("Test CPU 9000, 256-bit vectors, 4 threads", m.summary());
        MachineInfo scalar = new MachineInfo("X", 1, MachineInfo.NA, MachineInfo.NA, MachineInfo.NA, 0, "cuda",
                MachineInfo.NA, "j", "o", 1);
        assertEquals("X, no Vector API", scalar.summary());
        assertTrue(scalar.csvComments().contains("# vector_api_float_bits: n/a (jdk.incubator.vector not enabled)"));
    }
}
