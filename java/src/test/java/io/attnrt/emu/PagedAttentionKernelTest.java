package io.attnrt.emu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import io.attnrt.emu.ElementwiseKernelTest.Dev;
import io.attnrt.tensor.DType;
import io.attnrt.tensor.HalfFloats;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * cuda/paged_attention.cu: paged_attn_decode_A_C_hdD for every (A, C, D) and paged_attn_reduce_A, against a
 * double-precision reference computed here from the same rounded inputs the kernels read (q rounded to A, the
 * caches rounded to C).
 *
 * <p>Every case uses a shuffled block table whose entries past a sequence's blocks are garbage (-1 and a huge
 * id: a kernel that follows one reads far outside the cache), spare cache blocks full of unrelated data, q as
 * a slice (3 elements in) of a wider row, and out/lse surrounded by sentinels that must survive.
 *
 * <p>Tolerances: out is rounded to A once, so it may be off by half an ulp of the exact value (doubled for the
 * midpoint case: {@link Dev#halfUlp}); the fp32 scores (D-term dot products, |q|,|k| ~ 1, relative error
 * ~D·2^-24) and the fp32 online softmax / split rescaling add ~1e-6 relative to the weights, i.e. well within
 * 1e-5·max|v| absolute. lse: absolute 1e-4 (fp32 log of a sum of at most 300 terms is ~1e-6 off).
 */
@EmulatedDevice
class PagedAttentionKernelTest {
    private static final DType[] ACTS = {DType.F16, DType.BF16};
    private static final DType[] CACHES = {DType.F32, DType.F16, DType.BF16};
    private static final int[] HEAD_DIMS = {64, 80, 96, 128, 256};
    private static final int KEY_TILE = 32;
    private static final float SENTINEL = -7f;
    private static final int GUARD = 16; // sentinel elements before and after out / lse
    private static final int Q_OFFSET = 3; // q starts this many elements into its row
    private static EmulatedCuda cuda;
    private static CUmodule paged;

    @BeforeAll
    static void open() {
        cuda = EmulatedCuda.open();
        paged = cuda.loadPtx("ptx/paged_attention.ptx");
    }

    @AfterAll
    static void close() {
        if (cuda != null) {
            cuda.close();
        }
    }

    /** One decode call. splitSize 0: the tile-rounded ⌈maxContext / splits⌉ the backend uses. */
    record Case(DType a, DType c, int d, int heads, int kvHeads, int blockSize, int[] contextLens, int window,
                int splits, int splitSize, boolean withLse, boolean causal) {
        String describe() {
            return "paged_attn_decode_" + Dev.suffix(a, c) + "_hd" + d + " heads " + heads + "/" + kvHeads + " block "
                    + blockSize + " ctx " + Arrays.toString(contextLens) + " window " + window + " splits " + splits
                    + (splitSize > 0 ? " splitSize " + splitSize : "") + (withLse ? " lse" : "") + (causal ? "" : " non-causal");
        }
    }

    // ------------------------------------------------------------------------------------------ tests

    /**
     * All 30 (A, C, D) variants, each with a different group size (MHA, GQA 2/4/8, MQA with 3 heads), block size
     * (1/16/32), window (none, 1, 7, larger than the context), split count (1, 2, 3, 7) and with/without lse;
     * the contexts cycle through 0, 1, 15, 16, 17, 100, 300.
     */
    @Test
    void everyVariantMatchesTheReference() {
        int[][] groups = {{2, 2}, {4, 2}, {8, 2}, {8, 1}, {3, 1}};
        int[] blocks = {1, 16, 32};
        int[] windows = {0, 1, 7, 0, 1000, 0};
        int[] splitCounts = {1, 2, 3, 7};
        int[] lens = {0, 1, 15, 16, 17, 100, 300};
        int k = 0;
        for (DType a : ACTS) {
            for (DType c : CACHES) {
                for (int d : HEAD_DIMS) {
                    int[] g = groups[k % groups.length];
                    // Two sequences per call; 300 keys only with cheap shapes (emulation time).
                    int first = lens[k % lens.length];
                    int second = lens[(k * 3 + 2) % lens.length];
                    if (d == 256 && g[0] / g[1] >= 4) {
                        first = Math.min(first, 100);
                        second = Math.min(second, 100);
                    }
                    int[] ctx = {first, second};
                    run(new Case(a, c, d, g[0], g[1], blocks[k % blocks.length], ctx, windows[k % windows.length],
                            splitCounts[k % splitCounts.length], 0, k % 2 == 0, k % 5 != 4), 1000 + k);
                    k++;
                }
            }
        }
    }

    /**
     * Split-KV edge cases: splits that lie entirely before the window (their partial must be neutral), more
     * splits than tiles, split sizes that are not tile multiples (a tile ends at the split border), a sequence
     * of length 0 next to long ones, and the same inputs unsplit for comparison.
     */
    @Test
    void splitsWithoutKeysRaggedSplitSizesAndWindows() {
        int[] ctx = {300, 17, 0, 100};
        run(new Case(DType.BF16, DType.BF16, 128, 8, 2, 16, ctx, 7, 3, 0, true, true), 1);   // splits 0,1 empty for 300
        run(new Case(DType.BF16, DType.BF16, 128, 8, 2, 16, ctx, 7, 7, 0, true, true), 2);   // 7 splits, most empty
        run(new Case(DType.F16, DType.F16, 64, 4, 1, 1, ctx, 0, 7, 45, true, true), 3);      // ragged split size
        run(new Case(DType.F16, DType.F32, 80, 4, 4, 32, ctx, 50, 4, 77, false, true), 4);   // window crosses splits
        run(new Case(DType.BF16, DType.F16, 96, 2, 1, 16, ctx, 301, 2, 0, true, false), 5);  // window > context
        run(new Case(DType.BF16, DType.F32, 64, 16, 2, 16, new int[] {300}, 0, 1, 0, true, true), 6); // G 8, long
    }

    /** G = 8 with D = 256 and an f32 cache is the largest shared memory footprint (opt-in above 48 KB). */
    @Test
    void largestSharedMemoryFootprint() {
        run(new Case(DType.BF16, DType.F32, 256, 8, 1, 16, new int[] {40, 33}, 0, 1, 0, true, true), 7);
        run(new Case(DType.F16, DType.F32, 256, 8, 1, 16, new int[] {40}, 0, 2, 0, true, true), 8);
    }

    // ------------------------------------------------------------------------------------------ harness

    private static void run(Case cs, long seed) {
        Random random = new Random(seed);
        int batch = cs.contextLens.length;
        int d = cs.d;
        int group = cs.heads / cs.kvHeads;
        int qWidth = cs.heads * d;
        int kvWidth = cs.kvHeads * d;
        int qStride = qWidth + 2 * kvWidth + Q_OFFSET + 5; // a fused qkv row and then some

        // Shuffled physical blocks, garbage past each sequence's blocks, spare blocks in between.
        int maxBlocks = 1;
        int used = 0;
        for (int len : cs.contextLens) {
            int blocks = (len + cs.blockSize - 1) / cs.blockSize;
            maxBlocks = Math.max(maxBlocks, blocks + 2);
            used += blocks;
        }
        int numBlocks = used + 3;
        List<Integer> perm = new ArrayList<>();
        for (int i = 0; i < numBlocks; i++) {
            perm.add(i);
        }
        java.util.Collections.shuffle(perm, random);
        int[] tables = new int[batch * maxBlocks];
        int next = 0;
        for (int b = 0; b < batch; b++) {
            int blocks = (cs.contextLens[b] + cs.blockSize - 1) / cs.blockSize;
            for (int j = 0; j < maxBlocks; j++) {
                tables[b * maxBlocks + j] = j < blocks ? perm.get(next++) : (j % 2 == 0 ? -1 : 1_000_000_007);
            }
        }
        float[] q = Dev.round(cs.a, Dev.gaussian(random, batch * qStride, 1f));
        float[] keys = Dev.round(cs.c, Dev.gaussian(random, numBlocks * cs.blockSize * kvWidth, 1f));
        float[] values = Dev.round(cs.c, Dev.gaussian(random, numBlocks * cs.blockSize * kvWidth, 1f));
        float scale = (float) (1 / Math.sqrt(d));

        int maxContext = Arrays.stream(cs.contextLens).max().orElse(0);
        int splitSize = cs.splitSize > 0 ? cs.splitSize : tileRoundedSplit(maxContext, cs.splits);
        int outLen = batch * qWidth;
        int lseLen = batch * cs.heads;
        try (Dev dev = new Dev()) {
            CUdeviceptr dq = dev.upload(cs.a, q);
            CUdeviceptr dk = dev.upload(cs.c, keys);
            CUdeviceptr dv = dev.upload(cs.c, values);
            CUdeviceptr dt = dev.upload(tables);
            CUdeviceptr dlen = dev.upload(cs.contextLens);
            CUdeviceptr outBase = dev.filled(cs.a, outLen + 2 * GUARD, SENTINEL);
            CUdeviceptr lseBase = dev.filled(DType.F32, lseLen + 2 * GUARD, SENTINEL);
            CUdeviceptr out = outBase.withByteOffset((long) GUARD * cs.a.byteSize());
            CUdeviceptr lse = cs.withLse ? lseBase.withByteOffset(4L * GUARD) : new CUdeviceptr();
            CUdeviceptr partialOut = new CUdeviceptr();
            CUdeviceptr partialMaxSum = new CUdeviceptr();
            if (cs.splits > 1) {
                long rows = (long) batch * cs.heads * cs.splits;
                partialOut = dev.alloc(4 * rows * d); // fresh allocations read as NaN: every read row must be written
                partialMaxSum = dev.alloc(8 * rows);
            }
            int threads = 32 * Math.max(1, Math.min(group, 8));
            launch(cuda.function(paged, "paged_attn_decode_" + Dev.suffix(cs.a, cs.c) + "_hd" + d), cs.kvHeads, batch,
                    cs.splits, threads, smemBytes(d, group, cs.c.byteSize()),
                    dq.withByteOffset((long) Q_OFFSET * cs.a.byteSize()), dk, dv, dt, maxBlocks, dlen, cs.blockSize,
                    cs.heads, cs.kvHeads, qStride, scale, cs.causal ? 1 : 0, cs.window, cs.splits, splitSize, out, lse,
                    partialOut, partialMaxSum);
            if (cs.splits > 1) {
                launch(cuda.function(paged, "paged_attn_reduce_" + Dev.suffix(cs.a)), cs.heads, batch, 1, 128,
                        4 * cs.splits, partialOut, partialMaxSum, dlen, cs.heads, d, cs.splits, splitSize, out, lse);
            }
            float[] gotOut = dev.download(cs.a, outBase, outLen + 2 * GUARD);
            float[] gotLse = SelfTestKernels.floats(lseBase, lseLen + 2 * GUARD);
            String what = cs.describe();
            float sentinelA = HalfFloats.roundTo(cs.a, SENTINEL);
            for (int i = 0; i < GUARD; i++) {
                assertEquals(sentinelA, gotOut[i], 0f, what + ": out written before its start");
                assertEquals(sentinelA, gotOut[GUARD + outLen + i], 0f, what + ": out written past its end");
                assertEquals(SENTINEL, gotLse[i], 0f, what + ": lse written before its start");
                assertEquals(SENTINEL, gotLse[GUARD + lseLen + i], 0f, what + ": lse written past its end");
            }
            double maxV = 0;
            for (float v : values) {
                maxV = Math.max(maxV, Math.abs(v));
            }
            for (int b = 0; b < batch; b++) {
                int ctx = cs.contextLens[b];
                int firstKey = cs.window > 0 ? Math.max(0, ctx - cs.window) : 0;
                for (int h = 0; h < cs.heads; h++) {
                    int kvh = h / group;
                    double[] s = new double[ctx];
                    double m = Double.NEGATIVE_INFINITY;
                    for (int j = firstKey; j < ctx; j++) {
                        int slot = tables[b * maxBlocks + j / cs.blockSize] * cs.blockSize + j % cs.blockSize;
                        double dot = 0;
                        for (int e = 0; e < d; e++) {
                            dot += (double) q[b * qStride + Q_OFFSET + h * d + e] * keys[slot * kvWidth + kvh * d + e];
                        }
                        s[j] = dot * scale;
                        m = Math.max(m, s[j]);
                    }
                    double sum = 0;
                    double[] o = new double[d];
                    for (int j = firstKey; j < ctx; j++) {
                        int slot = tables[b * maxBlocks + j / cs.blockSize] * cs.blockSize + j % cs.blockSize;
                        double p = Math.exp(s[j] - m);
                        sum += p;
                        for (int e = 0; e < d; e++) {
                            o[e] += p * values[slot * kvWidth + kvh * d + e];
                        }
                    }
                    String at = what + " seq " + b + " head " + h;
                    for (int e = 0; e < d; e++) {
                        double expected = sum > 0 ? o[e] / sum : 0;
                        float got = gotOut[GUARD + b * qWidth + h * d + e];
                        if (sum == 0) {
                            assertEquals(0f, got, 0f, at + ": empty context must give a zero row, dim " + e);
                        } else {
                            ElementwiseKernelTest.checkOne(expected, got, Dev.halfUlp(cs.a), 1e-5 * maxV, at + " dim " + e);
                        }
                    }
                    float gl = gotLse[GUARD + b * cs.heads + h];
                    if (!cs.withLse) {
                        assertEquals(SENTINEL, gl, 0f, at + ": lse == null but lse memory was written");
                    } else if (sum == 0) {
                        assertEquals(Float.NEGATIVE_INFINITY, gl, 0f, at + ": empty context lse");
                    } else {
                        double expectedLse = m + Math.log(sum);
                        if (!(Math.abs(gl - expectedLse) <= 1e-4)) {
                            fail(at + ": lse expected " + expectedLse + " got " + gl);
                        }
                    }
                }
            }
        }
    }

    /** ⌈maxContext / splits⌉ rounded up to the key tile, as DecodeSplits.splitSize. */
    private static int tileRoundedSplit(int maxContext, int splits) {
        int per = (maxContext + splits - 1) / splits;
        return Math.max(KEY_TILE, (per + KEY_TILE - 1) / KEY_TILE * KEY_TILE);
    }

    /** The kernel header's dynamic shared memory formula (DecodeSplitsTest pins the same one). */
    private static int smemBytes(int d, int group, int cacheBytes) {
        int pitch = d * cacheBytes + 16;
        return 4 * KEY_TILE * pitch + 2 * KEY_TILE * 8 + 2 * group * d * 4 + round16(group * (KEY_TILE + 1) * 4)
                + round16(3 * group * 4);
    }

    private static int round16(int bytes) {
        return (bytes + 15) / 16 * 16;
    }

    private static void launch(CUfunction f, int gx, int gy, int gz, int block, int smem, Object... args) {
        SelfTestKernels.optIn(f, smem);
        SelfTestKernels.launch(f, gx, gy, gz, block, 1, smem, args);
    }
}
