package io.attnrt.emu;

import static io.attnrt.emu.EmulatedCuda.assertCudaError;
import static io.attnrt.emu.SelfTestKernels.dims;
import static io.attnrt.emu.SelfTestKernels.floats;
import static io.attnrt.emu.SelfTestKernels.ints;
import static io.attnrt.emu.SelfTestKernels.launch;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * cuda/selftest/selftest_activemask.cu: __activemask() names the lanes that reach the call together (all existing
 * lanes of the warp in converged code; the lanes of one branch after divergence), and shuffles whose mask names
 * lanes that take part elsewhere are reported instead of pairing unrelated calls. Blocks of 48 threads, so the
 * second warp is partial (lanes 0..15).
 */
@EmulatedDevice
class SelfTestActiveMaskTest {
    private static final int BLOCK = 48;
    private static EmulatedCuda cuda;
    private static CUfunction activemask;
    private static CUfunction misuse;

    @BeforeAll
    static void open() {
        cuda = EmulatedCuda.open();
        var module = cuda.loadPtx("ptx-selftest/selftest_activemask.ptx");
        activemask = cuda.function(module, "selftest_activemask");
        misuse = cuda.function(module, "selftest_shfl_misuse");
    }

    @AfterAll
    static void close() {
        if (cuda != null) {
            cuda.close();
        }
    }

    private static int existing(int t) {
        return t < 32 ? 0xffffffff : 0x0000ffff;
    }

    private static int[][] run(int split) {
        try (SelfTestKernels mem = new SelfTestKernels()) {
            CUdeviceptr converged = mem.upload(new int[BLOCK]);
            int[] sentinel = new int[BLOCK];
            java.util.Arrays.fill(sentinel, 0x5a5a5a5a);
            CUdeviceptr diverged = mem.upload(sentinel);
            launch(activemask, dims(1), dims(BLOCK), 0, converged, diverged, split);
            return new int[][] {ints(converged, BLOCK), ints(diverged, BLOCK)};
        }
    }

    @Test
    void convergedLanesAreTheExistingLanesOfTheWarp() {
        int[][] got = run(32);
        for (int t = 0; t < BLOCK; t++) {
            assertEquals(existing(t), got[0][t], "converged, thread " + t);
        }
    }

    @Test
    void divergedLanesSeeOnlyTheirBranch() {
        // nvcc may merge the two identical branches, so only the emulator's answer is fixed.
        assumeFalse(EmulatedCuda.onRealGpu(), "branch reconvergence is the compiler's choice on a GPU");
        int split = 10;
        int low = (1 << split) - 1;
        int[][] got = run(split);
        for (int t = 0; t < BLOCK; t++) {
            int expected = ((t & 31) < split ? low : ~low) & existing(t);
            assertEquals(expected, got[1][t], "split " + split + ", thread " + t);
        }
        // Lanes >= 10 return early: the others are alone at their call.
        got = run(-split);
        for (int t = 0; t < BLOCK; t++) {
            int expected = (t & 31) < split ? low : 0x5a5a5a5a;
            assertEquals(expected, got[1][t], "early return at lane " + split + ", thread " + t);
        }
    }

    @Test
    void shuffleOfTheWholeWarpFromOneCallIsLegal() {
        try (SelfTestKernels mem = new SelfTestKernels()) {
            CUdeviceptr out = mem.filled(BLOCK, -9f);
            launch(misuse, dims(1), dims(BLOCK), 0, out, 0);
            float[] got = floats(out, BLOCK);
            for (int t = 0; t < BLOCK; t++) {
                assertEquals(t / 32 * 32, got[t], 0f, "thread " + t);
            }
        }
    }

    @Test
    void shuffleWhoseMaskNamesLanesThatTakePartElsewhereIsReported() {
        assumeFalse(EmulatedCuda.onRealGpu(), "undefined on a GPU (a wrong value or a hang)");
        try (SelfTestKernels mem = new SelfTestKernels()) {
            CUdeviceptr out = mem.filled(BLOCK, -9f);
            // Two different __shfl_sync calls with the full mask, one per half warp.
            assertCudaError("CUDA_ERROR_LAUNCH_FAILED", () -> launch(misuse, dims(1), dims(BLOCK), 0, out, 1));
            // Half the warp waits at __syncthreads instead.
            assertCudaError("CUDA_ERROR_LAUNCH_FAILED", () -> launch(misuse, dims(1), dims(BLOCK), 0, out, 2));
        }
    }
}
