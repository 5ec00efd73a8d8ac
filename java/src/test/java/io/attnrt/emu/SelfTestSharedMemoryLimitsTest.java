package io.attnrt.emu;

import static io.attnrt.emu.EmulatedCuda.assertCudaError;
import static io.attnrt.emu.SelfTestKernels.dims;
import static io.attnrt.emu.SelfTestKernels.floats;
import static io.attnrt.emu.SelfTestKernels.launch;
import static jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN;
import static jcuda.driver.CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES;
import static jcuda.driver.CUfunction_attribute.CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES;
import static jcuda.driver.JCudaDriver.cuDeviceGetAttribute;
import static jcuda.driver.JCudaDriver.cuFuncGetAttribute;
import static jcuda.driver.JCudaDriver.cuFuncSetAttribute;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * cuda/selftest/selftest_smem_limits.cu: static shared memory (as ptxas allocates it) plus dynamic shared memory
 * must fit the block's limit: 48 KB without opt-in, the device's opt-in maximum after cuFuncSetAttribute. The
 * static size is what cuFuncGetAttribute(SHARED_SIZE_BYTES) reports, for every kernel of the build.
 */
@EmulatedDevice
class SelfTestSharedMemoryLimitsTest {
    private static final int KB48 = 48 * 1024;
    private static EmulatedCuda cuda;
    private static CUfunction smem48k;
    private static CUfunction mixed;
    private static int optin;

    @BeforeAll
    static void open() {
        cuda = EmulatedCuda.open();
        CUmodule module = cuda.loadPtx("ptx-selftest/selftest_smem_limits.ptx");
        smem48k = cuda.function(module, "selftest_smem_48k");
        mixed = cuda.function(module, "selftest_smem_mixed");
        int[] value = new int[1];
        cuDeviceGetAttribute(value, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, cuda.device());
        optin = value[0];
    }

    @AfterAll
    static void close() {
        if (cuda != null) {
            cuda.close();
        }
    }

    private static int attribute(int attribute, CUfunction f) {
        int[] value = new int[1];
        cuFuncGetAttribute(value, attribute, f);
        return value[0];
    }

    @Test
    void staticSharedMemoryIsReported() {
        assertEquals(KB48, attribute(CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, smem48k));
        assertEquals(48, attribute(CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, mixed)); // 3 chars, pad to 8, 5 doubles
        // Without opt-in, what the 48 KB leave.
        assertEquals(KB48 - KB48, attribute(CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, smem48k));
        assertEquals(KB48 - 48, attribute(CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, mixed));
    }

    @Test
    void staticPlusDynamicAbove48KbNeedsTheOptIn() {
        try (SelfTestKernels mem = new SelfTestKernels()) {
            CUdeviceptr out = mem.filled(256, -9f);
            launch(smem48k, dims(1), dims(256), 0, out);
            float[] got = floats(out, 256);
            for (int t = 0; t < 256; t++) {
                assertEquals((t + 1) % 256, got[t], 0f, "thread " + t);
            }
            assertCudaError("CUDA_ERROR_INVALID_VALUE", () -> launch(smem48k, dims(1), dims(256), 16, out));
            CUdeviceptr small = mem.filled(32, -9f);
            launch(mixed, dims(1), dims(32), KB48 - 48, small);
            assertCudaError("CUDA_ERROR_INVALID_VALUE", () -> launch(mixed, dims(1), dims(32), KB48 - 48 + 16, small));

            // The opt-in covers static + dynamic: the most the attribute accepts is the maximum minus the static.
            assertCudaError("CUDA_ERROR_INVALID_VALUE",
                    () -> cuFuncSetAttribute(smem48k, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, optin - KB48 + 1));
            cuFuncSetAttribute(smem48k, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, optin - KB48);
            launch(smem48k, dims(1), dims(256), optin - KB48, out);
            assertCudaError("CUDA_ERROR_INVALID_VALUE",
                    () -> launch(smem48k, dims(1), dims(256), optin - KB48 + 16, out));
            cuFuncSetAttribute(smem48k, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 0);
            assertCudaError("CUDA_ERROR_INVALID_VALUE", () -> launch(smem48k, dims(1), dims(256), 16, out));

            launch(mixed, dims(1), dims(32), 32 * 4, small);
            float[] values = floats(small, 32);
            for (int t = 0; t < 32; t++) {
                assertEquals(t + 1, values[t], 0f, "thread " + t);
            }
        }
    }

    private static final Pattern ENTRY = Pattern.compile("Compiling entry function '(\\w+)' for 'sm_90'");
    private static final Pattern SMEM = Pattern.compile("Used \\d+ registers.*?(?:, (\\d+) bytes smem)?\\s*$");

    /** Every kernel of the build: SHARED_SIZE_BYTES equals the static shared memory of ptxas -v for sm_90. */
    @Test
    void everyKernelReportsTheStaticSharedMemoryOfPtxas() throws IOException {
        int checked = 0;
        List<String> mismatches = new ArrayList<>();
        for (String[] dirs : new String[][] {{"target/ptxas", "ptx/"}, {"target/ptxas-selftest", "ptx-selftest/"}}) {
            Path reports = Path.of(dirs[0]);
            assertTrue(Files.isDirectory(reports), "no ptxas reports in " + reports.toAbsolutePath());
            List<Path> files;
            try (Stream<Path> list = Files.list(reports)) {
                files = list.filter(p -> p.getFileName().toString().endsWith(".sm_90.txt")).sorted().toList();
            }
            for (Path report : files) {
                String name = report.getFileName().toString().replace(".sm_90.txt", "");
                CUmodule module = cuda.loadPtx(dirs[1] + name + ".ptx");
                String entry = null;
                for (String line : Files.readAllLines(report)) {
                    Matcher e = ENTRY.matcher(line);
                    if (e.find()) {
                        entry = e.group(1);
                        continue;
                    }
                    Matcher s = SMEM.matcher(line);
                    if (entry != null && s.find()) {
                        int expected = s.group(1) == null ? 0 : Integer.parseInt(s.group(1));
                        int got = attribute(CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, cuda.function(module, entry));
                        if (got != expected) {
                            mismatches.add(name + "/" + entry + ": ptxas " + expected + ", reported " + got);
                        }
                        checked++;
                        entry = null;
                    }
                }
            }
        }
        assertTrue(checked > 10, "only " + checked + " kernels found in the ptxas reports");
        assertFalse(!mismatches.isEmpty(), String.join("\n", mismatches));
    }
}
