package io.attnrt.emu;

import static jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR;
import static jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR;
import static jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X;
import static jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z;
import static jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X;
import static jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y;
import static jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK;
import static jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN;
import static jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK;
import static jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT;
import static jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_WARP_SIZE;
import static jcuda.driver.JCudaDriver.cuCtxPopCurrent;
import static jcuda.driver.JCudaDriver.cuCtxPushCurrent;
import static jcuda.driver.JCudaDriver.cuDeviceGetAttribute;
import static jcuda.driver.JCudaDriver.cuDeviceGetCount;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxGetState;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRelease;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuDeviceTotalMem;
import static jcuda.driver.JCudaDriver.cuDriverGetVersion;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemGetInfo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdeviceptr;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** What the device says about itself: name, compute capability, launch limits, memory. */
@EmulatedDevice
class EmulatedDeviceInfoTest {
    private static EmulatedCuda cuda;

    @BeforeAll
    static void open() {
        cuda = EmulatedCuda.open();
    }

    @AfterAll
    static void close() {
        if (cuda != null) {
            cuda.close();
        }
    }

    private static int attribute(int attribute) {
        int[] value = new int[1];
        cuDeviceGetAttribute(value, attribute, cuda.device());
        return value[0];
    }

    @Test
    void nameSaysWhichDeviceRunsTheTests() {
        if (EmulatedCuda.onRealGpu()) {
            assertNotEquals(EmulatedCuda.EMULATED_DEVICE_NAME, cuda.deviceName());
        } else {
            assertEquals(EmulatedCuda.EMULATED_DEVICE_NAME, cuda.deviceName());
            int[] count = new int[1];
            cuDeviceGetCount(count);
            assertEquals(1, count[0]);
        }
    }

    @Test
    void launchLimitsAreThoseOfAnAmpereOrNewerGpu() {
        int major = attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
        int minor = attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
        assertTrue(major >= 8, "compute capability " + major + "." + minor);
        assertEquals(32, attribute(CU_DEVICE_ATTRIBUTE_WARP_SIZE));
        assertEquals(1024, attribute(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK));
        assertEquals(1024, attribute(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X));
        assertEquals(64, attribute(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z));
        assertEquals(Integer.MAX_VALUE, attribute(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X));
        assertEquals(65535, attribute(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y));
        assertEquals(48 * 1024, attribute(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK));
        assertTrue(attribute(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN) > 48 * 1024);
        assertTrue(attribute(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT) > 0);
        if (!EmulatedCuda.onRealGpu() && System.getenv("ATTNRT_EMU_CC") == null) {
            // The default emulated device is an A100: CC 8.0, 108 SMs, 163 KB opt-in shared memory per block.
            assertEquals(8, major);
            assertEquals(0, minor);
            assertEquals(108, attribute(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT));
            assertEquals(166912, attribute(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN));
        }
    }

    @Test
    void driverVersionIsCuda12OrNewer() {
        int[] version = new int[1];
        cuDriverGetVersion(version);
        assertTrue(version[0] >= 12000, "driver version " + version[0]);
        if (!EmulatedCuda.onRealGpu()) {
            assertEquals(12060, version[0]);
        }
    }

    @Test
    void freeMemoryShrinksByWhatIsAllocated() {
        long[] total = new long[1];
        cuDeviceTotalMem(total, cuda.device());
        long[] free = new long[1];
        long[] totalInContext = new long[1];
        cuMemGetInfo(free, totalInContext);
        assertEquals(total[0], totalInContext[0]);
        assertTrue(free[0] > 0 && free[0] <= total[0], free[0] + " free of " + total[0]);
        if (EmulatedCuda.onRealGpu()) {
            return; // other processes allocate on a real GPU: free memory is not ours to predict
        }
        long bytes = 64L << 20;
        CUdeviceptr p = new CUdeviceptr();
        cuMemAlloc(p, bytes);
        long[] freeAfter = new long[1];
        cuMemGetInfo(freeAfter, totalInContext);
        cuMemFree(p);
        assertEquals(free[0] - bytes, freeAfter[0]);
        long[] freeAgain = new long[1];
        cuMemGetInfo(freeAgain, totalInContext);
        assertEquals(free[0], freeAgain[0]);
    }

    @Test
    void primaryContextIsSharedUntilTheLastRelease() {
        CUcontext first = new CUcontext();
        CUcontext second = new CUcontext();
        cuDevicePrimaryCtxRetain(first, cuda.device());
        cuDevicePrimaryCtxRetain(second, cuda.device());
        assertEquals(first, second);
        int[] flags = new int[1];
        int[] active = new int[1];
        cuDevicePrimaryCtxGetState(cuda.device(), flags, active);
        assertEquals(1, active[0]);
        cuCtxPushCurrent(first);
        try {
            CUdeviceptr p = new CUdeviceptr();
            cuMemAlloc(p, 1024);
            cuMemFree(p);
        } finally {
            CUcontext popped = new CUcontext();
            cuCtxPopCurrent(popped);
            assertEquals(first, popped);
        }
        cuDevicePrimaryCtxRelease(cuda.device());
        cuDevicePrimaryCtxGetState(cuda.device(), flags, active);
        assertEquals(1, active[0]); // still retained once
        cuDevicePrimaryCtxRelease(cuda.device());
        if (!EmulatedCuda.onRealGpu()) {
            cuDevicePrimaryCtxGetState(cuda.device(), flags, active);
            assertEquals(0, active[0]);
        }
    }

    @Test
    void computeCapabilityFollowsAttnrtEmuCc() throws Exception {
        assumeFalse(EmulatedCuda.onRealGpu(), "ATTNRT_EMU_CC configures the emulator only");
        // cuInit reads the environment once per process: each setting gets a JVM of its own.
        assertEquals("9.0 132 232448", probeDevice("90"));
        assertEquals("8.6 82 101376", probeDevice("86"));
        assertEquals("cuInit CUDA_ERROR_NO_DEVICE", probeDevice("75"));
    }

    private static String probeDevice(String cc) throws IOException, InterruptedException {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        ProcessBuilder builder = new ProcessBuilder(List.of(java.toString(),
                "-Djava.io.tmpdir=" + System.getProperty("java.io.tmpdir"),
                "-cp", System.getProperty("java.class.path"), DeviceProbe.class.getName()));
        builder.environment().put("ATTNRT_EMU_CC", cc);
        builder.redirectErrorStream(true);
        Process process = builder.start();
        byte[] output = process.getInputStream().readAllBytes();
        assertTrue(process.waitFor(60, TimeUnit.SECONDS), "probe JVM did not finish");
        String text = new String(output, StandardCharsets.UTF_8);
        String[] lines = text.strip().split("\n");
        assertEquals(0, process.exitValue(), text);
        return lines[lines.length - 1].strip();
    }
}
