package io.attnrt.emu;

import static io.attnrt.emu.SelfTestKernels.ceilDiv;
import static io.attnrt.emu.SelfTestKernels.dims;
import static io.attnrt.emu.SelfTestKernels.floats;
import static io.attnrt.emu.SelfTestKernels.ints;
import static io.attnrt.emu.SelfTestKernels.launch;
import static io.attnrt.emu.SelfTestKernels.randomFloats;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * cuda/selftest/selftest_warp.cu: shuffles (xor butterfly, down tree, indexed rotation, up scan) and votes. One
 * element per thread, warp w = elements 32w..32w+31; lanes past n take part with a neutral value.
 */
@EmulatedDevice
class SelfTestWarpTest {
    private static EmulatedCuda cuda;
    private static CUfunction reduce;
    private static CUfunction vote;
    private static CUfunction shuffle;

    @BeforeAll
    static void open() {
        cuda = EmulatedCuda.open();
        var module = cuda.loadPtx("ptx-selftest/selftest_warp.ptx");
        reduce = cuda.function(module, "selftest_warp_reduce");
        vote = cuda.function(module, "selftest_warp_vote");
        shuffle = cuda.function(module, "selftest_warp_shuffle");
    }

    @AfterAll
    static void close() {
        if (cuda != null) {
            cuda.close();
        }
    }

    @Test
    void reducesEveryWarpIncludingAPartialLastOne() {
        int n = 1000;
        int block = 128;
        int warps = ceilDiv(n, 32);
        float[] in = randomFloats(new Random(51), n);
        try (SelfTestKernels mem = new SelfTestKernels()) {
            CUdeviceptr sums = mem.filled(warps, -9f);
            CUdeviceptr maxs = mem.filled(warps, -9f);
            launch(reduce, dims(ceilDiv(n, block)), dims(block), 0, mem.upload(in), sums, maxs, n);
            float[] gotSums = floats(sums, warps);
            float[] gotMaxs = floats(maxs, warps);
            for (int w = 0; w < warps; w++) {
                double sum = 0;
                double magnitude = 0;
                float max = Float.NEGATIVE_INFINITY;
                for (int i = w * 32; i < Math.min(n, w * 32 + 32); i++) {
                    sum += in[i];
                    magnitude += Math.abs(in[i]);
                    max = Math.max(max, in[i]);
                }
                // 31 fp32 additions in butterfly order: within a few ulps of the magnitude summed.
                assertEquals(sum, gotSums[w], 8 * Math.ulp((float) magnitude) + 1e-7, "sum of warp " + w);
                assertEquals(max, gotMaxs[w], 0f, "max of warp " + w);
            }
        }
    }

    @Test
    void votesMatchThePredicatePerWarp() {
        int n = 200; // 7 warps, the last one partial: its missing lanes vote false
        int block = 64;
        int warps = ceilDiv(n, 32);
        float[] in = randomFloats(new Random(53), n);
        for (int i = 0; i < 32; i++) {
            in[i] = Math.abs(in[i]); // warp 0: every lane true
            in[32 + i] = -Math.abs(in[32 + i]); // warp 1: every lane false
        }
        try (SelfTestKernels mem = new SelfTestKernels()) {
            CUdeviceptr ballot = mem.upload(new int[warps]);
            CUdeviceptr any = mem.upload(filledInts(warps, -1));
            CUdeviceptr all = mem.upload(filledInts(warps, -1));
            launch(vote, dims(ceilDiv(n, block)), dims(block), 0, mem.upload(in), ballot, any, all, n);
            int[] gotBallot = ints(ballot, warps);
            int[] gotAny = ints(any, warps);
            int[] gotAll = ints(all, warps);
            for (int w = 0; w < warps; w++) {
                int bits = 0;
                for (int lane = 0; lane < 32; lane++) {
                    int i = w * 32 + lane;
                    if (i < n && in[i] > 0) {
                        bits |= 1 << lane;
                    }
                }
                assertEquals(Integer.toHexString(bits), Integer.toHexString(gotBallot[w]), "ballot of warp " + w);
                assertEquals(bits != 0 ? 1 : 0, gotAny[w], "any of warp " + w);
                assertEquals(bits == -1 ? 1 : 0, gotAll[w], "all of warp " + w);
            }
        }
    }

    @Test
    void rotatesWithShflAndScansWithShflUp() {
        int n = 300;
        int block = 96;
        float[] in = randomFloats(new Random(57), n);
        for (int delta : new int[] {0, 1, 5, 31, 45}) {
            try (SelfTestKernels mem = new SelfTestKernels()) {
                CUdeviceptr out = mem.filled(2 * n, -9f);
                launch(shuffle, dims(ceilDiv(n, block)), dims(block), 0, mem.upload(in), out, n, delta);
                float[] got = floats(out, 2 * n);
                for (int i = 0; i < n; i++) {
                    int lane = i % 32;
                    int base = i - lane;
                    int source = base + (lane + delta) % 32;
                    assertEquals(source < n ? in[source] : 0f, got[i], 0f, "delta " + delta + ", rotated element " + i);
                    double scan = 0;
                    double magnitude = 0;
                    for (int j = base; j <= i; j++) {
                        scan += in[j];
                        magnitude += Math.abs(in[j]);
                    }
                    assertEquals(scan, got[n + i], 8 * Math.ulp((float) magnitude) + 1e-7, "prefix sum at " + i);
                }
            }
        }
    }

    private static int[] filledInts(int n, int value) {
        int[] v = new int[n];
        java.util.Arrays.fill(v, value);
        return v;
    }
}
