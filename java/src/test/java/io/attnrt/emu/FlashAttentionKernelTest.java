package io.attnrt.emu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import io.attnrt.emu.ElementwiseKernelTest.Dev;
import io.attnrt.tensor.DType;
import java.util.Arrays;
import java.util.Random;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * cuda/flash_attention.cu ({@code flash_attn_prefill_<A>_hd<D>}) against a double-precision attention computed
 * in the test from the same rounded 16-bit q, k, v the kernel reads.
 *
 * <p>Tolerance of out (per element, row i): the kernel's output is Σ_j p̃_j v_j / l with p̃_j = p_j(1 + δ_j),
 * |δ_j| ≤ u, the P rounding to A before P·V (u = 2^-8 for bf16, 2^-11 for f16: the unit roundoff, i.e. half
 * the spacing relative to the leading bit), so that step moves the result by at most u·w_i with
 * w_i = Σ_j p_j |v_j| / Σ_j p_j ≤ max|v|; rounding the result to A adds u·|out_i| ≤ u·w_i. Hence
 * 2u·w_i (two units of u of the v magnitude that row mixes, at most 2u·max|v|), times 1.1 for the fp32
 * scores, exponentials and accumulation (relative errors of order 1e-6 here), plus 2^-20·w_i absolute.
 * lse: fp32 scores and log, 1e-3 absolute (scores here are O(1..10)).
 */
@EmulatedDevice
class FlashAttentionKernelTest {
    private static final float SENTINEL = -1000f; // exact in f16 and bf16, far outside any convex combination of v
    private static EmulatedCuda cuda;
    private static CUmodule module;

    @BeforeAll
    static void open() {
        cuda = EmulatedCuda.open();
        module = cuda.loadPtx("ptx/flash_attention.ptx");
    }

    @AfterAll
    static void close() {
        if (cuda != null) {
            cuda.close();
        }
    }

    /** The dynamic shared memory of the header of flash_attention.cu (FlashConfig computes the same). */
    private static int smemBytes(int d) {
        int blockN = d == 256 ? 32 : 64;
        return 2 * (4 * blockN * (d + 8) + (d == 256 ? 64 * (d + 8) : 0));
    }

    /** One launch's shape: lengths of the ragged batch, heads, mask, whether lse is asked for. */
    private record Shape(DType a, int d, int[] lengths, int heads, int kvHeads, boolean causal, int window,
                         boolean withLse, boolean fused) {
        @Override
        public String toString() {
            return "flash_attn_prefill_" + Dev.suffix(a) + "_hd" + d + " seqs=" + Arrays.toString(lengths) + " heads="
                    + heads + "/" + kvHeads + (causal ? " causal" : " bidirectional") + " window=" + window
                    + (withLse ? " lse" : " no-lse") + (fused ? " fused-qkv" : "");
        }
    }

    // Every dtype x head dim once; lengths 0, 1, 17, 63, 64, 65, 130; GQA 1, 2, 4, 8 and MQA; windows 1, 5 and
    // larger than the sequence, causal and not; lse on and null; fused qkv rows with wider out rows.
    @Test
    void multiHeadAndGroupedQueryCausalAndBidirectional() {
        check(new Shape(DType.F16, 64, new int[] {17, 0, 130, 1}, 4, 4, true, 0, true, true), 1);
        check(new Shape(DType.BF16, 64, new int[] {64, 65}, 8, 1, false, 0, false, false), 2);
        check(new Shape(DType.BF16, 96, new int[] {17, 3}, 16, 2, true, 0, true, false), 3);
        check(new Shape(DType.F16, 256, new int[] {65}, 2, 1, true, 0, true, false), 4);
        check(new Shape(DType.BF16, 128, new int[] {130, 5}, 4, 1, true, 0, true, true), 5);
    }

    @Test
    void slidingWindowsCausalAndBidirectional() {
        check(new Shape(DType.F16, 80, new int[] {63}, 4, 2, true, 5, true, false), 11);
        check(new Shape(DType.BF16, 80, new int[] {130}, 2, 2, false, 5, true, true), 12);
        check(new Shape(DType.F16, 96, new int[] {65, 1}, 8, 2, true, 1, true, false), 13);
        check(new Shape(DType.F16, 128, new int[] {130}, 2, 1, false, 200, true, false), 14);
        check(new Shape(DType.BF16, 128, new int[] {1, 63, 0}, 4, 4, true, 1000, false, true), 15);
        check(new Shape(DType.BF16, 256, new int[] {70, 17}, 2, 2, false, 1, true, true), 16);
        // Windows that end inside a key tile and skip whole tiles below it, over several query blocks: D = 256
        // (32-key tiles, Q re-read from smem) and D = 64, GQA 4, next to a length-64 sequence.
        check(new Shape(DType.F16, 256, new int[] {130}, 2, 1, true, 40, true, false), 17);
        check(new Shape(DType.BF16, 64, new int[] {130, 64}, 8, 2, true, 70, true, true), 18);
    }

    private static void check(Shape sh, long seed) {
        Random random = new Random(seed);
        int seqs = sh.lengths.length;
        int[] starts = new int[seqs + 1];
        int maxLen = 0;
        for (int s = 0; s < seqs; s++) {
            starts[s + 1] = starts[s] + sh.lengths[s];
            maxLen = Math.max(maxLen, sh.lengths[s]);
        }
        int tokens = starts[seqs];
        int d = sh.d, qWidth = sh.heads * d, kvWidth = sh.kvHeads * d;
        // Fused: one [T, q | k | v | 8 spare] row buffer; out rows 16 wider than q, one spare row above and below.
        int qkvStride = qWidth + 2 * kvWidth + 8;
        int qStride = sh.fused ? qkvStride : qWidth, kvStride = sh.fused ? qkvStride : kvWidth;
        int outStride = sh.fused ? qWidth + 16 : qWidth;
        int outRowsBefore = sh.fused ? 1 : 0, outRows = tokens + (sh.fused ? 2 : 0);

        float[] q = Dev.round(sh.a, Dev.gaussian(random, tokens * qWidth, 1.5f));
        float[] k = Dev.round(sh.a, Dev.gaussian(random, tokens * kvWidth, 1f));
        float[] v = Dev.round(sh.a, Dev.gaussian(random, tokens * kvWidth, 1f));
        float scale = (float) (1 / Math.sqrt(d));
        try (Dev dev = new Dev()) {
            CUdeviceptr dq, dk, dv;
            if (sh.fused) {
                float[] qkv = Dev.round(sh.a, Dev.gaussian(random, tokens * qkvStride, 1f)); // spare columns: noise
                for (int t = 0; t < tokens; t++) {
                    System.arraycopy(q, t * qWidth, qkv, t * qkvStride, qWidth);
                    System.arraycopy(k, t * kvWidth, qkv, t * qkvStride + qWidth, kvWidth);
                    System.arraycopy(v, t * kvWidth, qkv, t * qkvStride + qWidth + kvWidth, kvWidth);
                }
                CUdeviceptr base = dev.upload(sh.a, qkv);
                dq = base;
                dk = base.withByteOffset(2L * qWidth);
                dv = base.withByteOffset(2L * (qWidth + kvWidth));
            } else {
                dq = dev.upload(sh.a, q);
                dk = dev.upload(sh.a, k);
                dv = dev.upload(sh.a, v);
            }
            CUdeviceptr outBuf = dev.filled(sh.a, Math.max(1, outRows * outStride), SENTINEL);
            CUdeviceptr dout = outBuf.withByteOffset(2L * outRowsBefore * outStride);
            CUdeviceptr dlse = sh.withLse ? dev.filled(DType.F32, Math.max(1, tokens * sh.heads), SENTINEL)
                    : new CUdeviceptr();
            CUfunction f = cuda.function(module, "flash_attn_prefill_" + Dev.suffix(sh.a) + "_hd" + d);
            int smem = smemBytes(d);
            SelfTestKernels.optIn(f, smem);
            launch(f, new int[] {(maxLen + 63) / 64, sh.heads, seqs}, 128, smem, dq, dk, dv, dout, dlse,
                    dev.upload(starts), seqs, sh.heads, sh.kvHeads, qStride, kvStride, outStride, sh.causal ? 1 : 0,
                    sh.window, scale);

            float[] got = dev.download(sh.a, outBuf, outRows * outStride);
            float[] gotLse = sh.withLse ? dev.download(DType.F32, dlse, tokens * sh.heads) : null;
            double u = sh.a == DType.F16 ? 0x1p-11 : 0x1p-8;
            int group = sh.heads / sh.kvHeads;
            double[] scores = new double[maxLen];
            for (int s = 0; s < seqs; s++) {
                for (int h = 0; h < sh.heads; h++) {
                    int kvh = h / group;
                    for (int i = 0; i < sh.lengths[s]; i++) {
                        int row = starts[s] + i;
                        double max = Double.NEGATIVE_INFINITY;
                        for (int j = 0; j < sh.lengths[s]; j++) {
                            boolean visible = (!sh.causal || j <= i) && (sh.window == 0 || i - j < sh.window);
                            double dot = 0;
                            if (visible) {
                                for (int c = 0; c < d; c++) {
                                    dot += (double) q[row * qWidth + h * d + c] * k[(starts[s] + j) * kvWidth + kvh * d + c];
                                }
                            }
                            scores[j] = visible ? dot * scale : Double.NEGATIVE_INFINITY;
                            max = Math.max(max, scores[j]);
                        }
                        double sum = 0;
                        for (int j = 0; j < sh.lengths[s]; j++) {
                            scores[j] = Math.exp(scores[j] - max);
                            sum += scores[j];
                        }
                        String where = sh + ": seq " + s + " pos " + i + " head " + h;
                        for (int c = 0; c < d; c++) {
                            double o = 0, w = 0;
                            for (int j = 0; j < sh.lengths[s]; j++) {
                                double vj = v[(starts[s] + j) * kvWidth + kvh * d + c];
                                o += scores[j] * vj;
                                w += scores[j] * Math.abs(vj);
                            }
                            o /= sum;
                            w /= sum;
                            double tol = 2 * u * w * 1.1 + 0x1p-20 * w;
                            float g = got[(row + outRowsBefore) * outStride + h * d + c];
                            if (!(Math.abs(g - o) <= tol)) {
                                fail(where + " col " + c + ": got " + g + ", expected " + o + " ± " + tol);
                            }
                        }
                        if (gotLse != null) {
                            double ref = max + Math.log(sum);
                            assertEquals(ref, gotLse[row * sh.heads + h], 1e-3, where + " lse");
                        }
                    }
                }
            }
            // Nothing outside the heads' columns of the real rows was written.
            for (int r = 0; r < outRows; r++) {
                int from = (r >= outRowsBefore && r < outRowsBefore + tokens) ? qWidth : 0;
                for (int c = from; c < outStride; c++) {
                    if (got[r * outStride + c] != SENTINEL) {
                        fail(sh + ": out buffer row " + r + " col " + c + " was written: " + got[r * outStride + c]);
                    }
                }
            }
        }
    }

    /** A 3-D grid, a 1-D block and dynamic smem. */
    private static void launch(CUfunction f, int[] grid, int block, int smem, Object... args) {
        SelfTestKernels.launch(f, grid[0], grid[1], grid[2], block, 1, smem, args);
    }
}
