package io.attnrt.bench;

import io.attnrt.backend.Backend;
import io.attnrt.backend.cpu.CpuBackend;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * The facts about the machine a reader of bench figures needs: which CPU, how wide its vectors are as the JVM
 * sees them, how many threads ran, which JVM and OS. Every lookup is guarded: a fact that cannot be found
 * reads {@value #NA}, and nothing here throws.
 *
 * @param cpuModel      /proc/cpuinfo's {@code model name} (or the OS's equivalent), else "unknown &lt;os.arch&gt; CPU"
 * @param logicalCpus   processors available to the JVM
 * @param simdFlags     the CPU flags that matter for SIMD (avx2, avx512f, fma, asimd …), space separated, or n/a
 * @param useAvx        HotSpot's {@code -XX:UseAVX} (x86 only), or n/a
 * @param maxVectorSize HotSpot's {@code -XX:MaxVectorSize} in bytes, or n/a
 * @param vectorBits    the Vector API's preferred float vector width in bits, 0 when the module is not enabled
 * @param backend       the backend's own description
 * @param threads       threads the backend computes with, or n/a (a device backend)
 * @param jvm           VM name, version and vendor
 * @param os            OS name, version and architecture
 * @param maxHeapMib    the JVM's maximum heap
 */
public record MachineInfo(String cpuModel, int logicalCpus, String simdFlags, String useAvx, String maxVectorSize,
                          int vectorBits, String backend, String threads, String jvm, String os, long maxHeapMib) {
    /** What an absent fact reads. */
    public static final String NA = "n/a";

    private static final Path CPUINFO = Path.of("/proc/cpuinfo");

    /** x86 and Arm flags relevant to vectorised kernels, in the order they are listed. */
    private static final List<String> SIMD_FLAGS = List.of("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f",
            "avx512dq", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile",
            "amx_bf16", "amx_int8", "neon", "asimd", "asimdhp", "asimddp", "fphp", "sve", "sve2", "bf16", "i8mm");

    /** The facts of this machine, with the backend the bench measures. */
    public static MachineInfo detect(Backend backend) {
        String cpuinfo = readCpuinfo(CPUINFO);
        String description = NA;
        String threads = NA;
        try {
            description = backend.description();
            threads = backend instanceof CpuBackend cpu ? Integer.toString(cpu.threads())
                    : "reference".equals(backend.name()) ? "1" : NA;
        } catch (RuntimeException e) {
            // a backend that cannot describe itself is still measured; the header says n/a
        }
        return new MachineInfo(cpuModel(cpuinfo, System.getProperty("os.arch", "unknown")),
                Runtime.getRuntime().availableProcessors(), simdFlags(cpuinfo), vmOption("UseAVX"),
                vmOption("MaxVectorSize"), preferredVectorBits(), description, threads,
                prop("java.vm.name") + " " + prop("java.runtime.version") + " (" + prop("java.vendor") + ")",
                prop("os.name") + " " + prop("os.version") + " " + prop("os.arch"),
                Runtime.getRuntime().maxMemory() >> 20);
    }

    /** The facts as key → value, in the order they are printed. */
    public Map<String, String> entries() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("cpu", cpuModel);
        m.put("logical_cpus", Integer.toString(logicalCpus));
        m.put("cpu_simd_flags", simdFlags);
        m.put("jvm_use_avx", useAvx);
        m.put("jvm_max_vector_size", maxVectorSize.equals(NA) ? NA : maxVectorSize + " bytes");
        m.put("vector_api_float_bits", vectorBits > 0 ? Integer.toString(vectorBits)
                : NA + " (jdk.incubator.vector not enabled)");
        m.put("backend", backend);
        m.put("threads", threads);
        m.put("jvm", jvm);
        m.put("os", os);
        m.put("max_heap_mib", Long.toString(maxHeapMib));
        return m;
    }

    /** Prints the facts, one {@code key: value} a line, before the bench table. */
    public void print(PrintWriter out) {
        out.println("machine:");
        for (Map.Entry<String, String> e : entries().entrySet()) {
            out.printf(Locale.ROOT, "  %-22s %s%n", e.getKey() + ":", e.getValue());
        }
        out.flush();
    }

    /** The facts as CSV comment lines, {@code # key: value}, that go before the CSV's header row. */
    public List<String> csvComments() {
        List<String> lines = new ArrayList<>();
        lines.add("# attnrt bench; lines starting with # describe the machine (pandas: read_csv(..., comment='#'))");
        for (Map.Entry<String, String> e : entries().entrySet()) {
            lines.add("# " + e.getKey() + ": " + e.getValue().replace('\n', ' ').replace('\r', ' '));
        }
        return lines;
    }

    /** One line for a chart title: CPU model, vector width, threads. */
    public String summary() {
        String vec = vectorBits > 0 ? vectorBits + "-bit vectors" : "no Vector API";
        String thr = threads.equals(NA) ? "" : ", " + threads + (threads.equals("1") ? " thread" : " threads");
        return cpuModel + ", " + vec + thr;
    }

    // ------------------------------------------------------------------------------------------ lookups

    /** /proc/cpuinfo's text, or "" where there is none (not Linux, no permission). */
    static String readCpuinfo(Path file) {
        try {
            return Files.isReadable(file) ? Files.readString(file, StandardCharsets.ISO_8859_1) : "";
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }

    /**
     * The CPU's name from /proc/cpuinfo text: {@code model name} (x86, most Arm kernels), else {@code Hardware},
     * {@code Processor}, {@code cpu model} or {@code cpu} (older Arm, MIPS, POWER); without one, the OS's own
     * name for it (macOS, Windows), else "unknown &lt;arch&gt; CPU".
     */
    static String cpuModel(String cpuinfo, String osArch) {
        for (String key : List.of("model name", "Hardware", "Processor", "cpu model", "cpu")) {
            Optional<String> v = field(cpuinfo, key);
            if (v.isPresent() && !v.get().isEmpty()) {
                return v.get().replaceAll("\\s+", " ");
            }
        }
        return osCpuName().orElse("unknown " + osArch + " CPU");
    }

    /** The SIMD-relevant flags of the first CPU ({@code flags} on x86, {@code Features} on Arm), or n/a. */
    static String simdFlags(String cpuinfo) {
        Optional<String> line = field(cpuinfo, "flags").or(() -> field(cpuinfo, "Features"));
        if (line.isEmpty()) {
            return NA;
        }
        List<String> have = List.of(line.get().trim().split("\\s+"));
        List<String> out = new ArrayList<>();
        for (String f : SIMD_FLAGS) {
            if (have.contains(f)) {
                out.add(f);
            }
        }
        return out.isEmpty() ? "none of " + String.join(" ", SIMD_FLAGS.subList(0, 6)) : String.join(" ", out);
    }

    /** The value of the first {@code key : value} line whose key is exactly {@code key}. */
    private static Optional<String> field(String cpuinfo, String key) {
        for (String line : cpuinfo.split("\n")) {
            int colon = line.indexOf(':');
            if (colon > 0 && line.substring(0, colon).trim().equals(key)) {
                return Optional.of(line.substring(colon + 1).trim());
            }
        }
        return Optional.empty();
    }

    /** macOS's sysctl brand string or Windows' PROCESSOR_IDENTIFIER; empty elsewhere or on any failure. */
    private static Optional<String> osCpuName() {
        try {
            String os = prop("os.name").toLowerCase(Locale.ROOT);
            if (os.startsWith("windows")) {
                return Optional.ofNullable(System.getenv("PROCESSOR_IDENTIFIER")).filter(s -> !s.isBlank());
            }
            if (os.startsWith("mac")) {
                Process p = new ProcessBuilder("sysctl", "-n", "machdep.cpu.brand_string").redirectErrorStream(true)
                        .start();
                try (InputStream in = p.getInputStream()) {
                    if (!p.waitFor(2, TimeUnit.SECONDS)) {
                        p.destroyForcibly();
                        return Optional.empty();
                    }
                    String s = new String(in.readAllBytes(), StandardCharsets.UTF_8).trim();
                    return p.exitValue() == 0 && !s.isEmpty() ? Optional.of(s) : Optional.empty();
                }
            }
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return Optional.empty();
    }

    /**
     * A HotSpot {@code -XX} option's value, or n/a: on a JVM without the diagnostic bean (not HotSpot, no
     * jdk.management) or without the option (UseAVX exists on x86 only).
     */
    static String vmOption(String name) {
        try {
            return HotSpot.option(name);
        } catch (LinkageError | RuntimeException e) {
            return NA;
        }
    }

    /** Kept apart so that a JVM without com.sun.management fails in here, as a LinkageError, and nowhere else. */
    private static final class HotSpot {
        static String option(String name) {
            com.sun.management.HotSpotDiagnosticMXBean bean =
                    ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class);
            return bean == null ? NA : bean.getVMOption(name).getValue();
        }
    }

    /**
     * {@code FloatVector.SPECIES_PREFERRED.vectorBitSize()}, or 0 when jdk.incubator.vector is not in the boot
     * layer; by reflection, so that no Vector API class is loaded without the module.
     */
    static int preferredVectorBits() {
        try {
            if (!CpuBackend.vectorModulePresent()) {
                return 0;
            }
            Object species = Class.forName("jdk.incubator.vector.FloatVector").getField("SPECIES_PREFERRED").get(null);
            Object bits = Class.forName("jdk.incubator.vector.VectorSpecies").getMethod("vectorBitSize")
                    .invoke(species);
            return (Integer) bits;
        } catch (ReflectiveOperationException | LinkageError | RuntimeException e) {
            return 0;
        }
    }

    private static String prop(String key) {
        String v = System.getProperty(key);
        return v == null || v.isBlank() ? NA : v;
    }
}
