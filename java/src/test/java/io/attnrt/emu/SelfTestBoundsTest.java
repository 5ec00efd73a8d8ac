package io.attnrt.emu;

import static io.attnrt.emu.EmulatedCuda.assertCudaError;
import static io.attnrt.emu.SelfTestKernels.dims;
import static io.attnrt.emu.SelfTestKernels.floats;
import static io.attnrt.emu.SelfTestKernels.launch;
import static io.attnrt.emu.SelfTestKernels.randomFloats;
import static jcuda.driver.JCudaDriver.cuCtxSynchronize;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.util.Random;
import jcuda.Pointer;
import jcuda.Sizeof;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import org.junit.jupiter.api.Test;

/**
 * cuda/selftest/selftest_bounds.cu: which out-of-bounds accesses of global memory the emulated device turns into
 * CUDA_ERROR_ILLEGAL_ADDRESS (guard pages for reads and writes, guard zones for writes into the slack of the last
 * 16 bytes or before the start), and that the in-bounds accesses next to them stay legal. Each faulting launch
 * gets a context of its own, because an illegal address ruins the context it happened in, as on a GPU.
 *
 * Buffer sizes: 1024 floats is exactly a page, so both of its ends abut a guard page; 1000 floats (4000 bytes) is
 * a multiple of 16, so its end abuts the guard page; 1001 floats (4004 bytes) leaves 12 bytes of slack up to the
 * 16-byte granule (the last float4, elements 1000..1003, is still a legal load, as on a GPU).
 */
@EmulatedDevice
class SelfTestBoundsTest {
    private static final String PTX = "ptx-selftest/selftest_bounds.ptx";

    /** Runs one single-thread access kernel on a fresh buffer of n random floats in a context of its own. */
    private interface Access {
        void run(CUfunction kernel, CUdeviceptr in, CUdeviceptr out);
    }

    /** The 4 floats of out afterwards, or null when readBack is false (the access ruined the context). */
    private static float[] inContext(String kernelName, int n, boolean readBack, Access access) {
        try (EmulatedCuda cuda = EmulatedCuda.open(); SelfTestKernels mem = new SelfTestKernels()) {
            CUfunction kernel = cuda.function(cuda.loadPtx(PTX), kernelName);
            float[] values = randomFloats(new Random(7 + n), n);
            CUdeviceptr in = mem.upload(values);
            CUdeviceptr out = mem.filled(4, -9f);
            access.run(kernel, in, out);
            return readBack ? floats(out, 4) : null;
        }
    }

    private static void assertIllegal(String kernelName, int n, int index) {
        inContext(kernelName, n, false, (kernel, in, out) -> {
            Object[] args = kernelName.equals("selftest_write_at")
                    ? new Object[] {in, index, 5}
                    : new Object[] {in, out, index};
            assertCudaError("CUDA_ERROR_ILLEGAL_ADDRESS", () -> launch(kernel, dims(1), dims(1), 0, args));
        });
    }

    @Test
    void loadsAtTheEdgesOfABufferAreLegal() {
        for (int n : new int[] {1001, 1000, 1024, 3}) {
            float[] values = randomFloats(new Random(7 + n), n);
            for (int index : new int[] {0, n - 1}) {
                float[] got = inContext("selftest_read_at", n, true,
                        (kernel, in, out) -> launch(kernel, dims(1), dims(1), 0, in, out, index));
                assertEquals(values[index], got[0], 0f, "n=" + n + " in[" + index + "]");
            }
            // The last 16-byte vector that starts inside the buffer: its tail may run past n, into the granule.
            int lastVector = (n - 1) / 4 * 4;
            float[] got = inContext("selftest_load_vec4_at", n, true,
                    (kernel, in, out) -> launch(kernel, dims(1), dims(1), 0, in, out, lastVector));
            for (int i = lastVector; i < n; i++) {
                assertEquals(values[i], got[i - lastVector], 0f, "n=" + n + " float4 at " + lastVector + ", element " + i);
            }
        }
    }

    @Test
    void readingPastTheEndIsIllegalAddress() {
        assumeFalse(EmulatedCuda.onRealGpu(), "a GPU does not fault inside its allocation granularity");
        assertIllegal("selftest_read_at", 1024, 1024);
        assertIllegal("selftest_read_at", 1000, 1000);
        assertIllegal("selftest_read_at", 1001, 1004); // the first float past the 16-byte granule
        assertIllegal("selftest_read_at", 1000, 1000 + 1000); // anywhere in the guard page
        assertIllegal("selftest_load_vec4_at", 1001, 1004);
        assertIllegal("selftest_load_vec4_at", 1000, 1000);
    }

    @Test
    void readingBeforeTheStartOfAPageSizedBufferIsIllegalAddress() {
        assumeFalse(EmulatedCuda.onRealGpu(), "a GPU does not fault next to an allocation");
        assertIllegal("selftest_read_at", 1024, -1);
        assertIllegal("selftest_read_at", 1024, -1000);
    }

    @Test
    void writingPastEitherEndIsIllegalAddress() {
        assumeFalse(EmulatedCuda.onRealGpu(), "a GPU does not fault next to an allocation");
        assertIllegal("selftest_write_at", 1001, 1001); // the slack of the granule: the guard zone check
        assertIllegal("selftest_write_at", 1001, -1); // the slack before the start: the guard zone check
        assertIllegal("selftest_write_at", 1000, 1000); // the guard page after the end
        assertIllegal("selftest_write_at", 1001, 1004 + 512); // deep into the guard page
        assertIllegal("selftest_write_at", 1024, -1); // the guard page before the start
    }

    @Test
    void anIllegalAddressRuinsItsContextOnly() {
        assumeFalse(EmulatedCuda.onRealGpu(), "the fault is provoked through the emulator's guard pages");
        inContext("selftest_read_at", 1000, false, (kernel, in, out) -> {
            assertCudaError("CUDA_ERROR_ILLEGAL_ADDRESS", () -> launch(kernel, dims(1), dims(1), 0, in, out, 1000));
            // Sticky, as on a GPU: later work in the same context fails with the same error.
            float[] back = new float[4];
            assertCudaError("CUDA_ERROR_ILLEGAL_ADDRESS",
                    () -> cuMemcpyDtoH(Pointer.to(back), out, 4L * Sizeof.FLOAT));
            assertCudaError("CUDA_ERROR_ILLEGAL_ADDRESS", () -> cuCtxSynchronize());
            assertCudaError("CUDA_ERROR_ILLEGAL_ADDRESS", () -> cuMemAlloc(new CUdeviceptr(), 64));
            assertCudaError("CUDA_ERROR_ILLEGAL_ADDRESS", () -> launch(kernel, dims(1), dims(1), 0, in, out, 0));
            // Frees and the context's destruction (when the helpers close) still succeed.
        });
        // A new context works.
        float[] values = randomFloats(new Random(7 + 1000), 1000);
        float[] got = inContext("selftest_read_at", 1000, true,
                (kernel, in, out) -> launch(kernel, dims(1), dims(1), 0, in, out, 999));
        assertEquals(values[999], got[0], 0f);
    }
}
