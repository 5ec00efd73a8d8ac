package io.attnrt.emu;

import static io.attnrt.emu.SelfTestKernels.ceilDiv;
import static io.attnrt.emu.SelfTestKernels.dims;
import static io.attnrt.emu.SelfTestKernels.floats;
import static io.attnrt.emu.SelfTestKernels.launch;
import static io.attnrt.emu.SelfTestKernels.randomFloats;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.util.Random;
import jcuda.CudaException;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * cuda/selftest/selftest_fault.cu: a device-side __trap or failed assert reaches the host as
 * CUDA_ERROR_LAUNCH_FAILED, and (unlike on a GPU, whose context is then lost) the emulated device goes on working.
 */
@EmulatedDevice
class SelfTestFaultTest {
    private EmulatedCuda cuda;
    private CUfunction trap;
    private CUfunction assertPositive;

    @BeforeEach
    void open() {
        assumeFalse(EmulatedCuda.onRealGpu(), "a trap ruins a GPU context: this checks the emulator's fault path");
        cuda = EmulatedCuda.open();
        var module = cuda.loadPtx("ptx-selftest/selftest_fault.ptx");
        trap = cuda.function(module, "selftest_trap");
        assertPositive = cuda.function(module, "selftest_assert_positive");
    }

    @AfterEach
    void close() {
        if (cuda != null) {
            cuda.close();
        }
    }

    @Test
    void trapFailsTheLaunchAndTheDeviceStaysUsable() {
        int n = 500;
        try (SelfTestKernels mem = new SelfTestKernels()) {
            CUdeviceptr out = mem.filled(n, -9f);
            CudaException e = assertThrows(CudaException.class,
                    () -> launch(trap, dims(ceilDiv(n, 128)), dims(128), 0, out, n, 321));
            assertEquals("CUDA_ERROR_LAUNCH_FAILED", e.getMessage());
            launch(trap, dims(ceilDiv(n, 128)), dims(128), 0, out, n, -1);
            float[] got = floats(out, n);
            for (int i = 0; i < n; i++) {
                assertEquals(i, got[i], 0f, "element " + i + " of the launch after the fault");
            }
        }
    }

    @Test
    void failedAssertFailsTheLaunch() {
        int n = 500;
        float[] in = randomFloats(new Random(103), n);
        for (int i = 0; i < n; i++) {
            in[i] = Math.abs(in[i]);
        }
        try (SelfTestKernels mem = new SelfTestKernels()) {
            launch(assertPositive, dims(ceilDiv(n, 128)), dims(128), 0, mem.upload(in), n);
            in[417] = -in[417];
            CUdeviceptr bad = mem.upload(in);
            CudaException e = assertThrows(CudaException.class,
                    () -> launch(assertPositive, dims(ceilDiv(n, 128)), dims(128), 0, bad, n));
            assertEquals("CUDA_ERROR_LAUNCH_FAILED", e.getMessage());
        }
    }
}
