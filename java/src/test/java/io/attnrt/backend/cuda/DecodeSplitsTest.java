package io.attnrt.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The split heuristic and the decode launch facts of cuda/paged_attention.cu (no device needed). */
class DecodeSplitsTest {
    private static final int H100_SMS = 132;
    private static final int SM80_OPT_IN = 163 * 1024;
    private static final int SM90_OPT_IN = 227 * 1024;

    @Test
    void shortContextsAndFullGridsAreNotSplit() {
        assertEquals(1, DecodeSplits.splits(1, 8, 0, 16, H100_SMS));
        assertEquals(1, DecodeSplits.splits(1, 8, 511, 16, H100_SMS)); // < 2 * 256 keys: one split of each
        assertEquals(1, DecodeSplits.splits(64, 8, 32768, 16, H100_SMS)); // 512 CTAs: two waves already
        assertEquals(1, DecodeSplits.splits(33, 8, 32768, 16, H100_SMS)); // 264 CTAs = 2 * 132
    }

    @Test
    void fewCtasWithLongContextsSplitToAboutTwoWaves() {
        // 1 sequence x 8 KV heads: 264 / 8 = 33 splits wanted, 32768 keys allow 128, cap 64.
        assertEquals(33, DecodeSplits.splits(1, 8, 32768, 16, H100_SMS));
        // the minimum split length binds: 2000 keys -> 7 splits of >= 256
        assertEquals(7, DecodeSplits.splits(1, 8, 2000, 16, H100_SMS));
        // MQA, one sequence: the cap binds
        assertEquals(64, DecodeSplits.splits(1, 1, 1 << 20, 16, H100_SMS));
        // 4 sequences x 8 heads = 32 CTAs: ceil(264 / 32) = 9
        assertEquals(9, DecodeSplits.splits(4, 8, 8192, 32, H100_SMS));
        for (int ctx : new int[] {600, 5000, 100_000}) {
            for (int kv : new int[] {1, 2, 8, 32}) {
                int s = DecodeSplits.splits(1, kv, ctx, 16, 108);
                assertTrue(s >= 1 && s <= DecodeSplits.MAX_SPLITS, "splits " + s);
                assertTrue(s == 1 || ctx / s >= DecodeSplits.MIN_KEYS_PER_SPLIT, "split of " + ctx / s + " keys");
            }
        }
    }

    @Test
    void splitSizeIsATileMultipleCoveringTheContext() {
        assertEquals(32, DecodeSplits.splitSize(0, 1, 16));
        assertEquals(32, DecodeSplits.splitSize(17, 7, 16));   // 7 splits of 17 keys: all but the first empty
        assertEquals(128, DecodeSplits.splitSize(300, 3, 1)); // ceil(300 / 3) = 100 -> 128
        assertEquals(1024, DecodeSplits.splitSize(32768, 32, 16));
        for (int ctx : new int[] {1, 31, 33, 1000, 99_999}) {
            for (int splits : new int[] {1, 2, 3, 7, 64}) {
                int size = DecodeSplits.splitSize(ctx, splits, 16);
                assertEquals(0, size % DecodeSplits.KEY_TILE, "tile multiple");
                assertTrue((long) size * splits >= ctx, "splits * splitSize covers the context");
            }
        }
    }

    @Test
    void launchFactsMatchTheKernelHeader() {
        assertEquals(32, DecodeSplits.threads(1));
        assertEquals(96, DecodeSplits.threads(3));
        assertEquals(256, DecodeSplits.threads(8));
        assertEquals(256, DecodeSplits.threads(32));
        // The header's worked figures.
        assertEquals(151_168, DecodeSplits.smemBytes(256, 8, 4));
        assertEquals(85_632, DecodeSplits.smemBytes(256, 8, 2));
        assertEquals(36_512, DecodeSplits.smemBytes(128, 1, 2));
        assertEquals(256, DecodeSplits.reduceSmemBytes(64));
        // G up to 8 with D = 256 fits sm_80 and sm_90 for every cache dtype.
        for (int d : CudaAttention.HEAD_DIMS) {
            for (int g = 1; g <= 8; g++) {
                for (int bytes : new int[] {2, 4}) {
                    int smem = DecodeSplits.smemBytes(d, g, bytes);
                    assertTrue(smem <= SM80_OPT_IN && smem <= SM90_OPT_IN, d + "/" + g + "/" + bytes + ": " + smem);
                    assertEquals(0, smem % 16);
                }
            }
        }
    }
}
