package io.attnrt.emu;

import static io.attnrt.emu.SelfTestKernels.ceilDiv;
import static io.attnrt.emu.SelfTestKernels.dims;
import static io.attnrt.emu.SelfTestKernels.floats;
import static io.attnrt.emu.SelfTestKernels.ints;
import static io.attnrt.emu.SelfTestKernels.launch;
import static io.attnrt.emu.SelfTestKernels.randomFloats;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * cuda/selftest/selftest_block_reduce.cu (shared float atomics, a shared histogram merged with global atomics) and
 * cuda/selftest/selftest_dynamic_smem.cu (a chunk reversed through extern __shared__ memory).
 */
@EmulatedDevice
class SelfTestBlockReduceTest {
    private static EmulatedCuda cuda;
    private static CUfunction blockReduce;
    private static CUfunction dynamicSmem;

    @BeforeAll
    static void open() {
        cuda = EmulatedCuda.open();
        blockReduce = cuda.function(cuda.loadPtx("ptx-selftest/selftest_block_reduce.ptx"), "selftest_block_reduce");
        dynamicSmem = cuda.function(cuda.loadPtx("ptx-selftest/selftest_dynamic_smem.ptx"), "selftest_dynamic_smem");
    }

    @AfterAll
    static void close() {
        if (cuda != null) {
            cuda.close();
        }
    }

    @Test
    void sumsBlocksAndBuildsAHistogramWithAtomics() {
        int n = 5000;
        int block = 256;
        int bins = 37;
        int blocks = ceilDiv(n, block);
        float[] in = randomFloats(new Random(61), n);
        in[0] = -1f; // the lower edge: bin 0
        in[1] = Math.nextDown(1f); // just below the upper edge: the last bin
        try (SelfTestKernels mem = new SelfTestKernels()) {
            CUdeviceptr sums = mem.filled(blocks, -9f);
            CUdeviceptr hist = mem.upload(new int[bins]);
            launch(blockReduce, dims(blocks), dims(block), 0, mem.upload(in), sums, hist, n, bins);
            float[] gotSums = floats(sums, blocks);
            for (int b = 0; b < blocks; b++) {
                double sum = 0;
                double magnitude = 0;
                for (int i = b * block; i < Math.min(n, (b + 1) * block); i++) {
                    sum += in[i];
                    magnitude += Math.abs(in[i]);
                }
                // Float atomics add in any order: each of up to 255 roundings is at most half an ulp of a
                // partial sum below `magnitude`.
                assertEquals(sum, gotSums[b], block * 0.5 * Math.ulp((float) magnitude), "sum of block " + b);
            }
            int[] expected = new int[bins];
            for (float x : in) {
                int bin = (int) Math.floor((x + 1.0f) * (float) bins * 0.5f);
                expected[Math.min(Math.max(bin, 0), bins - 1)]++;
            }
            assertArrayEquals(expected, ints(hist, bins), "histogram");
        }
    }

    @Test
    void reversesEachChunkThroughDynamicSharedMemory() {
        int n = 1000; // the last block's chunk is 104 elements long
        int block = 128;
        float[] in = randomFloats(new Random(67), n);
        try (SelfTestKernels mem = new SelfTestKernels()) {
            CUdeviceptr out = mem.filled(n, -9f);
            launch(dynamicSmem, dims(ceilDiv(n, block)), dims(block), block * 4, mem.upload(in), out, n);
            float[] got = floats(out, n);
            for (int base = 0; base < n; base += block) {
                int len = Math.min(block, n - base);
                for (int t = 0; t < len; t++) {
                    assertEquals(in[base + len - 1 - t], got[base + t], 0f, "element " + (base + t));
                }
            }
        }
    }
}
