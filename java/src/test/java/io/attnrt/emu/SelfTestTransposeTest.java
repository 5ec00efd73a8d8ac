package io.attnrt.emu;

import static io.attnrt.emu.SelfTestKernels.ceilDiv;
import static io.attnrt.emu.SelfTestKernels.dims;
import static io.attnrt.emu.SelfTestKernels.floats;
import static io.attnrt.emu.SelfTestKernels.launch;
import static io.attnrt.emu.SelfTestKernels.randomFloats;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.util.Arrays;
import java.util.Random;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** cuda/selftest/selftest_transpose.cu: a 32x32 shared-memory tile transpose, and its copy without the barrier. */
@EmulatedDevice
class SelfTestTransposeTest {
    private static EmulatedCuda cuda;
    private static CUfunction transpose;
    private static CUfunction transposeNoSync;

    @BeforeAll
    static void open() {
        cuda = EmulatedCuda.open();
        var module = cuda.loadPtx("ptx-selftest/selftest_transpose.ptx");
        transpose = cuda.function(module, "selftest_transpose");
        transposeNoSync = cuda.function(module, "selftest_transpose_nosync");
    }

    @AfterAll
    static void close() {
        if (cuda != null) {
            cuda.close();
        }
    }

    @Test
    void transposesMatricesOfRaggedShapes() {
        Random random = new Random(41);
        int[][] shapes = {{1, 1}, {32, 32}, {45, 77}, {100, 33}, {257, 300}};
        for (int[] shape : shapes) {
            float[] in = randomFloats(random, shape[0] * shape[1]);
            // A pure data movement: bit-identical.
            assertArrayEquals(reference(in, shape[0], shape[1]), run(transpose, in, shape[0], shape[1]),
                    shape[0] + "x" + shape[1]);
        }
    }

    /**
     * Without __syncthreads a thread reads tile cells that other threads have not written yet. The emulator runs
     * the threads of a block in a shuffled order, so the broken kernel fails instead of passing by luck.
     */
    @Test
    void missingSyncthreadsGivesWrongResultsOnTheEmulator() {
        assumeFalse(EmulatedCuda.onRealGpu(), "on a GPU the race may or may not show: this checks the emulator");
        Random random = new Random(43);
        for (int run = 0; run < 3; run++) {
            float[] in = randomFloats(random, 64 * 96);
            float[] expected = reference(in, 64, 96);
            float[] out = run(transposeNoSync, in, 64, 96);
            assertFalse(Arrays.equals(expected, out), "run " + run + ": the race went unnoticed");
        }
    }

    private static float[] run(CUfunction kernel, float[] in, int rows, int cols) {
        try (SelfTestKernels mem = new SelfTestKernels()) {
            CUdeviceptr dIn = mem.upload(in);
            CUdeviceptr dOut = mem.filled(in.length, -7f);
            launch(kernel, dims(ceilDiv(cols, 32), ceilDiv(rows, 32)), dims(32, 8), 0, dIn, dOut, rows, cols);
            return floats(dOut, in.length);
        }
    }

    private static float[] reference(float[] in, int rows, int cols) {
        float[] out = new float[in.length];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                out[c * rows + r] = in[r * cols + c];
            }
        }
        return out;
    }
}
