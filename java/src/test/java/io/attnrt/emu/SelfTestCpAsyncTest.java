package io.attnrt.emu;

import static io.attnrt.emu.SelfTestKernels.dims;
import static io.attnrt.emu.SelfTestKernels.floats;
import static io.attnrt.emu.SelfTestKernels.launch;
import static io.attnrt.emu.SelfTestKernels.randomFloats;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.util.Random;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * cuda/selftest/selftest_cp_async.cu: a double-buffered cp.async pipeline (out = 2 * in, tile by tile), and the
 * same pipeline without cp.async.wait_group.
 */
@EmulatedDevice
class SelfTestCpAsyncTest {
    private static EmulatedCuda cuda;
    private static CUfunction pipeline;
    private static CUfunction noWait;

    @BeforeAll
    static void open() {
        cuda = EmulatedCuda.open();
        var module = cuda.loadPtx("ptx-selftest/selftest_cp_async.ptx");
        pipeline = cuda.function(module, "selftest_cp_async_pipeline");
        noWait = cuda.function(module, "selftest_cp_async_nowait");
    }

    @AfterAll
    static void close() {
        if (cuda != null) {
            cuda.close();
        }
    }

    @Test
    void pipelineDoublesEveryTile() {
        Random random = new Random(97);
        int[][] shapes = {{1, 8, 32}, {5, 100, 64}, {7, 256, 128}}; // tiles, float4 per tile, threads
        for (int[] s : shapes) {
            float[] in = randomFloats(random, 4 * s[0] * s[1]);
            float[] out = run(pipeline, in, s[0], s[1], s[2]);
            for (int i = 0; i < in.length; i++) {
                // Doubling is exact in fp32.
                assertEquals(2 * in[i], out[i], 0f, s[0] + " tiles of " + s[1] + " float4: element " + i);
            }
        }
    }

    /**
     * Without the wait the stage is read before the copies land. The emulator performs each copy only when the
     * wait that retires its group runs (and leaves the destination undefined until then), so the broken kernel
     * fails every time instead of passing whenever the copies happen to be fast.
     */
    @Test
    void missingWaitGroupGivesWrongResultsOnTheEmulator() {
        assumeFalse(EmulatedCuda.onRealGpu(), "on a GPU the race may or may not show: this checks the emulator");
        Random random = new Random(101);
        for (int run = 0; run < 3; run++) {
            float[] in = randomFloats(random, 4 * 5 * 100);
            float[] out = run(noWait, in, 5, 100, 64);
            int wrong = 0;
            for (int i = 0; i < in.length; i++) {
                if (out[i] != 2 * in[i]) {
                    wrong++;
                }
            }
            assertTrue(wrong > 0, "run " + run + ": the missing cp.async.wait_group went unnoticed");
        }
    }

    private static float[] run(CUfunction kernel, float[] in, int tiles, int tileFloat4s, int threads) {
        try (SelfTestKernels mem = new SelfTestKernels()) {
            CUdeviceptr out = mem.filled(in.length, -9f);
            launch(kernel, dims(1), dims(threads), 2 * tileFloat4s * 16, mem.upload(in), out, tiles, tileFloat4s);
            return floats(out, in.length);
        }
    }
}
