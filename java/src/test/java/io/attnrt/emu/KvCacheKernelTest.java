package io.attnrt.emu;

import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.attnrt.emu.ElementwiseKernelTest.Dev;
import io.attnrt.tensor.DType;
import io.attnrt.tensor.HalfFloats;
import java.util.Random;
import jcuda.Pointer;
import jcuda.Sizeof;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUmodule;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * cuda/kv_cache.cu: kv_append for every activation/cache dtype pair (padding slots skipped) and copy_blocks over
 * several caches. Both only move and round data, so the expected caches are computed in Java with the same
 * rounding (HalfFloats.roundTo) and compared bit for bit; every slot or block not written must keep the
 * sentinel the caches were filled with.
 */
@EmulatedDevice
class KvCacheKernelTest {
    private static final DType[] TYPES = {DType.F32, DType.F16, DType.BF16};
    private static final float SENTINEL = -7f;
    private static EmulatedCuda cuda;
    private static CUmodule kv;

    @BeforeAll
    static void open() {
        cuda = EmulatedCuda.open();
        kv = cuda.loadPtx("ptx/kv_cache.ptx");
    }

    @AfterAll
    static void close() {
        if (cuda != null) {
            cuda.close();
        }
    }

    @Test
    void kvAppendWritesEverySlotOfEveryDtypePairAndSkipsPadding() {
        int seed = 0;
        for (DType a : TYPES) {
            for (DType c : TYPES) {
                checkAppend(a, c, 2, 16, ++seed); // kvWidth 32: 16-byte chunks
                checkAppend(a, c, 1, 10, ++seed); // kvWidth 10: scalar tail, rows off 16 bytes
            }
        }
    }

    /**
     * k and v are slices of a fused qkv buffer [n, qWidth + 2 kvWidth] (strides = the whole row); the cache is
     * [numBlocks = 4, blockSize = 4, kvHeads, headDim].
     */
    private static void checkAppend(DType a, DType c, int kvHeads, int headDim, long seed) {
        Random random = new Random(seed);
        int kvWidth = kvHeads * headDim;
        int qWidth = 2 * kvWidth;
        int stride = qWidth + 2 * kvWidth;
        int slotsTotal = 16;
        int[] slots = {5, -1, 0, 15, 9, -1, 2};
        int n = slots.length;
        float[] qkv = Dev.round(a, Dev.gaussian(random, n * stride, 2f));
        try (Dev dev = new Dev()) {
            CUdeviceptr base = dev.upload(a, qkv);
            CUdeviceptr keyCache = dev.filled(c, slotsTotal * kvWidth, SENTINEL);
            CUdeviceptr valueCache = dev.filled(c, slotsTotal * kvWidth, SENTINEL);
            Dev.launch(cuda.function(kv, "kv_append_" + Dev.suffix(a, c)), n, 1, 128,
                    base.withByteOffset((long) qWidth * a.byteSize()), stride,
                    base.withByteOffset((long) (qWidth + kvWidth) * a.byteSize()), stride,
                    keyCache, valueCache, dev.upload(slots), n, kvWidth);
            float[][] got = {dev.download(c, keyCache, slotsTotal * kvWidth), dev.download(c, valueCache, slotsTotal * kvWidth)};
            for (int which = 0; which < 2; which++) {
                float[] expected = new float[slotsTotal * kvWidth];
                java.util.Arrays.fill(expected, HalfFloats.roundTo(c, SENTINEL));
                for (int r = 0; r < n; r++) {
                    if (slots[r] < 0) {
                        continue;
                    }
                    for (int e = 0; e < kvWidth; e++) {
                        expected[slots[r] * kvWidth + e] = HalfFloats.roundTo(c, qkv[r * stride + qWidth + which * kvWidth + e]);
                    }
                }
                for (int i = 0; i < expected.length; i++) {
                    assertEquals(expected[i], got[which][i], 0f, "kv_append_" + Dev.suffix(a, c) + " kvWidth " + kvWidth
                            + (which == 0 ? " key" : " value") + " cache slot " + i / kvWidth + " element " + i % kvWidth);
                }
            }
        }
    }

    @Test
    void copyBlocksCopiesEveryPairInEveryCache() {
        int seed = 100;
        for (DType c : TYPES) {
            checkCopy(c, 4 * 2 * 16, ++seed); // 16-byte words
            checkCopy(c, 3 * 5, ++seed);      // 15 elements: not a multiple of 16 bytes, element copies
        }
    }

    private static void checkCopy(DType c, int blockElems, long seed) {
        Random random = new Random(seed);
        int numBlocks = 7;
        int numCaches = 3;
        // (src, dst): a source used twice, a block copied onto itself, no dst that is also another pair's src.
        int[] pairs = {0, 3, 1, 4, 1, 5, 6, 6};
        int numPairs = pairs.length / 2;
        try (Dev dev = new Dev()) {
            float[][] before = new float[numCaches][];
            CUdeviceptr[] caches = new CUdeviceptr[numCaches];
            for (int k = 0; k < numCaches; k++) {
                before[k] = Dev.round(c, Dev.gaussian(random, numBlocks * blockElems, 3f));
                caches[k] = dev.upload(c, before[k]);
            }
            // A device array of the caches' addresses: JCuda writes each pointer's native value.
            CUdeviceptr table = dev.alloc((long) numCaches * Sizeof.POINTER);
            cuMemcpyHtoD(table, Pointer.to(caches), (long) numCaches * Sizeof.POINTER);
            Dev.launch(cuda.function(kv, "copy_blocks_" + Dev.suffix(c)), numPairs, numCaches, 256, table, numCaches,
                    dev.upload(pairs), numPairs, (long) blockElems);
            for (int k = 0; k < numCaches; k++) {
                float[] expected = before[k].clone();
                for (int p = 0; p < numPairs; p++) {
                    System.arraycopy(before[k], pairs[2 * p] * blockElems, expected, pairs[2 * p + 1] * blockElems, blockElems);
                }
                float[] got = dev.download(c, caches[k], numBlocks * blockElems);
                for (int i = 0; i < expected.length; i++) {
                    assertEquals(expected[i], got[i], 0f, "copy_blocks_" + Dev.suffix(c) + " blockElems " + blockElems
                            + " cache " + k + " block " + i / blockElems + " element " + i % blockElems);
                }
            }
        }
    }
}
