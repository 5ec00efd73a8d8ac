package io.attnrt.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Static resource checks on the {@code ptxas -v} reports the build writes for sm_80 and sm_90
 * (target/ptxas/NAME.sm_XX.txt): the kernels that decide speed — flash prefill, paged decode, GEMV — must not
 * spill registers to local memory, and every kernel's static shared memory plus the dynamic shared memory
 * its launch asks for must fit the architecture's opt-in limit (the emulator cannot see either: these are
 * decisions of ptxas).
 */
class PtxasReportTest {
    static final Path REPORTS = Path.of("target", "ptxas");
    static final List<String> HOT = List.of("flash_attn_prefill_", "paged_attn_decode_", "gemv_");
    /** Opt-in shared memory per block: 163 KB on sm_80 (A100), 227 KB on sm_90 (H100/H200). */
    static final Map<String, Integer> SMEM_OPT_IN = Map.of("sm_80", 166_912, "sm_90", 232_448);

    record Entry(String kernel, int registers, int spillStores, int spillLoads, int staticSmem) {
    }

    private static final Pattern ENTRY = Pattern.compile("Compiling entry function '([^']+)'");
    private static final Pattern SPILLS = Pattern.compile("(\\d+) bytes spill stores, (\\d+) bytes spill loads");
    private static final Pattern USED = Pattern.compile("Used (\\d+) registers(?:.*?(\\d+) bytes smem)?");

    /** The entries of one ptxas -v report, in order. */
    static List<Entry> parse(String report) {
        List<Entry> entries = new ArrayList<>();
        String kernel = null;
        int stores = 0;
        int loads = 0;
        for (String line : report.split("\n")) {
            Matcher m = ENTRY.matcher(line);
            if (m.find()) {
                kernel = m.group(1);
                stores = 0;
                loads = 0;
                continue;
            }
            m = SPILLS.matcher(line);
            if (m.find()) {
                stores = Integer.parseInt(m.group(1));
                loads = Integer.parseInt(m.group(2));
                continue;
            }
            m = USED.matcher(line);
            if (m.find() && kernel != null) {
                int smem = m.group(2) == null ? 0 : Integer.parseInt(m.group(2));
                entries.add(new Entry(kernel, Integer.parseInt(m.group(1)), stores, loads, smem));
                kernel = null;
            }
        }
        return entries;
    }

    /** Everything wrong with one report's entries for {@code arch}, one line each. */
    static List<String> violations(List<Entry> entries, String arch) {
        List<String> bad = new ArrayList<>();
        for (Entry e : entries) {
            boolean hot = HOT.stream().anyMatch(e.kernel()::startsWith);
            if (hot && (e.spillStores() > 0 || e.spillLoads() > 0)) {
                bad.add(e.kernel() + " (" + arch + ") spills: " + e.spillStores() + " bytes stored, " + e.spillLoads()
                        + " loaded");
            }
            int total = e.staticSmem() + dynamicSmem(e.kernel());
            if (total > SMEM_OPT_IN.get(arch)) {
                bad.add(e.kernel() + " (" + arch + ") needs " + total + " bytes of shared memory (static "
                        + e.staticSmem() + "), more than the " + SMEM_OPT_IN.get(arch) + " a block can opt in to");
            }
        }
        return bad;
    }

    /** The dynamic shared memory the backend's launch asks for, at its largest. */
    static int dynamicSmem(String kernel) {
        Matcher hd = Pattern.compile("_hd(\\d+)$").matcher(kernel);
        if (kernel.startsWith("flash_attn_prefill_") && hd.find()) {
            return FlashConfig.of(Integer.parseInt(hd.group(1))).smemBytes();
        }
        // paged_attn_decode_A_C_hdD: checked at a GQA group of 8 (Llama 3 70B's), the widest the CTA's warps
        // cover; wider groups are refused at launch when they exceed the device's limit.
        Matcher decode = Pattern.compile("^paged_attn_decode_[a-z0-9]+_([a-z0-9]+)_hd(\\d+)$").matcher(kernel);
        if (decode.find()) {
            int cacheBytes = decode.group(1).equals("f32") ? 4 : 2;
            return DecodeSplits.smemBytes(Integer.parseInt(decode.group(2)), 8, cacheBytes);
        }
        return 0;
    }

    @Test
    void hotKernelsDoNotSpillAndEveryKernelFitsTheSharedMemoryLimit() throws IOException {
        assertTrue(Files.isDirectory(REPORTS), REPORTS + " is missing: the build found no nvcc, so no PTX was "
                + "built or checked");
        Map<String, Integer> kernelsPerArch = new LinkedHashMap<>();
        List<String> bad = new ArrayList<>();
        try (var files = Files.list(REPORTS)) {
            for (Path f : files.sorted().toList()) {
                Matcher m = Pattern.compile("\\.(sm_\\d+)\\.txt$").matcher(f.getFileName().toString());
                if (!m.find()) {
                    continue;
                }
                List<Entry> entries = parse(Files.readString(f));
                kernelsPerArch.merge(m.group(1), entries.size(), Integer::sum);
                bad.addAll(violations(entries, m.group(1)));
            }
        }
        assertEquals(kernelsPerArch.get("sm_80"), kernelsPerArch.get("sm_90"), "both architectures checked");
        assertTrue(kernelsPerArch.getOrDefault("sm_90", 0) > 0, "no kernels in " + REPORTS);
        assertTrue(bad.isEmpty(), String.join("\n", bad));
    }

    @Test
    void theCheckCatchesASpillAndAnOversizedBlock() {
        String report = """
                ptxas info    : Compiling entry function 'gemv_bf16_bf16_bf16' for 'sm_90'
                ptxas info    : Function properties for gemv_bf16_bf16_bf16
                    24 bytes stack frame, 24 bytes spill stores, 20 bytes spill loads
                ptxas info    : Used 255 registers, used 1 barriers, 1024 bytes smem, 400 bytes cmem[0]
                ptxas info    : Compiling entry function 'rmsnorm_bf16_bf16' for 'sm_90'
                ptxas info    : Function properties for rmsnorm_bf16_bf16
                    0 bytes stack frame, 8 bytes spill stores, 8 bytes spill loads
                ptxas info    : Used 32 registers, used 1 barriers, 240000 bytes smem
                ptxas info    : Compiling entry function 'flash_attn_prefill_bf16_hd128' for 'sm_90'
                ptxas info    : Function properties for flash_attn_prefill_bf16_hd128
                    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
                ptxas info    : Used 168 registers, used 1 barriers, 400 bytes cmem[0]
                """;
        List<Entry> entries = parse(report);
        assertEquals(List.of(new Entry("gemv_bf16_bf16_bf16", 255, 24, 20, 1024),
                new Entry("rmsnorm_bf16_bf16", 32, 8, 8, 240000),
                new Entry("flash_attn_prefill_bf16_hd128", 168, 0, 0, 0)), entries);
        List<String> bad = violations(entries, "sm_90");
        assertEquals(2, bad.size(), String.join("\n", bad));
        assertTrue(bad.get(0).startsWith("gemv_bf16_bf16_bf16 (sm_90) spills"), bad.get(0));
        assertTrue(bad.get(1).startsWith("rmsnorm_bf16_bf16 (sm_90) needs 240000 bytes"), bad.get(1)); // cold: spill allowed
        assertEquals(FlashConfig.of(256).smemBytes(), dynamicSmem("flash_attn_prefill_f16_hd256"));
        assertEquals(DecodeSplits.smemBytes(96, 8, 4), dynamicSmem("paged_attn_decode_bf16_f32_hd96"));
        assertEquals(DecodeSplits.smemBytes(96, 8, 2), dynamicSmem("paged_attn_decode_bf16_f16_hd96"));
        assertEquals(0, dynamicSmem("paged_attn_reduce_bf16"));
    }
}
