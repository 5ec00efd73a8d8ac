package io.attnrt.backend.cpu;

import io.attnrt.backend.host.HostTensor;
import io.attnrt.tensor.DType;

/**
 * {@code y = x · Wᵀ} with W in the nn.Linear layout [OUT, IN].
 *
 * <p>Few tokens (decode): a GEMV that streams every weight row from memory once for all tokens (the next 4
 * tokens reuse the rows from cache), each task taking a contiguous run of rows so the hardware prefetchers
 * see long sequential streams. F32 rows go 4 at a time (one x load feeds four rows); a single 16-bit row
 * against one token is one stream with 4 accumulators, which measured best for BF16 and keeps the bulky
 * F16 widening to a size C2 still inlines.
 *
 * <p>Many tokens (prefill): a cache-blocked GEMM over tiles of {@link Kernels#rowTile()} output rows ×
 * {@link #TOKEN_BLOCK} tokens, walking the input dimension in {@link #K_BLOCK} slices. Each weight slice is
 * packed transposed (and widened to F32) into per-thread scratch once for all the block's tokens, so the
 * register kernel broadcasts one input value against a vector of output rows: no horizontal reductions.
 */
final class Linear {
    /**
     * Up to this many tokens the weights are streamed once (GEMV); beyond, the blocked GEMM, whose packing of
     * each weight slice only pays off over more tokens. 512→1408 F32 projection, 2 threads, on a 2-core
     * AVX-512 host: GEMV 0.176 ms at 8 tokens against GEMM's 0.193, GEMM ahead from 12 (0.188 against 0.239)
     * and 1.7× at 24; under {@code -XX:UseAVX=2} the same crossover. A batched decode step of more sequences
     * than this runs the GEMM.
     */
    static final int GEMV_MAX_TOKENS = 8;
    static final int TOKEN_BLOCK = 128;
    static final int K_BLOCK = 256;
    /** Below this many multiply-adds a parallel-for costs more than it saves. */
    private static final long PARALLEL_MIN_WORK = 1 << 16;

    private final Kernels k;
    private final WorkerPool pool;
    private final Scratch[] scratch;
    /** Per-call sums of the activation's 32-element sub-blocks; calls are serialised by the backend's lock. */
    private float[] xSums = new float[0];

    Linear(Kernels k, WorkerPool pool, Scratch[] scratch) {
        this.k = k;
        this.pool = pool;
        this.scratch = scratch;
    }

    /** @param finiteHalves w is F16 and known to hold no Inf/NaN (enables the cheaper widening) */
    void run(HostTensor x, HostTensor w, HostTensor out, boolean finiteHalves, boolean accumulate) {
        int n = x.dim(0), in = x.dim(1), outF = w.dim(0);
        float[] xa = x.f32(), oa = out.f32();
        if (n == 0 || outF == 0) {
            return;
        }
        if (in == 0) {
            if (!accumulate) {
                java.util.Arrays.fill(oa, 0, n * outF, 0f);
            }
            return;
        }
        if (w.dtype().isQuantized() && n <= GEMV_MAX_TOKENS) {
            gemvQuantized(xa, n, in, w, outF, oa, accumulate);
        } else if (n <= GEMV_MAX_TOKENS) {
            gemv(xa, n, in, w, outF, oa, finiteHalves, accumulate);
        } else {
            gemm(xa, n, in, w, outF, oa, accumulate);
        }
    }

    private void gemv(float[] x, int n, int in, HostTensor w, int outF, float[] out, boolean finiteHalves,
                      boolean accumulate) {
        long work = (long) n * in * outF;
        int rowQuads = (outF + 3) / 4;
        // Several contiguous chunks per thread: dynamic hand-out evens out a core slowed by other load.
        int chunks = work < PARALLEL_MIN_WORK ? 1 : Math.min(rowQuads, pool.threads() * 4);
        int quadsPerChunk = (rowQuads + chunks - 1) / chunks;
        int tasks = (rowQuads + quadsPerChunk - 1) / quadsPerChunk;
        DType dt = w.dtype();
        float[] wf = dt == DType.F32 ? w.f32() : null;
        short[] wh = dt == DType.F32 ? null : w.bits16();
        boolean bf16 = dt == DType.BF16;
        pool.parallelFor(tasks, (task, worker) -> {
            int r0 = task * quadsPerChunk * 4;
            int r1 = Math.min(outF, r0 + quadsPerChunk * 4);
            for (int r = r0; r < r1; r += 4) {
                int rows = Math.min(4, r1 - r);
                for (int t = 0; t < n; t += 4) {
                    int tokens = Math.min(4, n - t);
                    if (wf != null) {
                        k.linearF32(x, t * in, in, tokens, wf, r * in, in, rows, in, out, t * outF + r, outF, accumulate);
                    } else {
                        k.linear16(x, t * in, in, tokens, wh, bf16, finiteHalves, r * in, in, rows, in, out,
                                t * outF + r, outF, accumulate);
                    }
                }
            }
        });
    }

    /**
     * Decode with quantized weights. One token, where the SIMD kernels have a fused dot for the type: decoded
     * in registers. Otherwise each row is decoded into the worker's scratch (it stays in L1) and the F32 dot
     * kernels run over it for all the step's tokens, so the row is read from memory once, quantized, and
     * decoded once however many tokens there are. Activations stay F32 either way: no activation
     * quantization error (llama.cpp rounds them to 8 bits for its integer dot products).
     */
    private void gemvQuantized(float[] x, int n, int in, HostTensor w, int outF, float[] out, boolean accumulate) {
        long work = (long) n * in * outF;
        int chunks = work < PARALLEL_MIN_WORK ? 1 : Math.min(outF, pool.threads() * 4);
        int rowsPerChunk = (outF + chunks - 1) / chunks;
        int tasks = (outF + rowsPerChunk - 1) / rowsPerChunk;
        DType dt = w.dtype();
        byte[] wb = w.blocks();
        int rowBytes = (int) dt.bytesFor(in);
        boolean fused = n == 1 && k.fusesQuantizedDot(dt);
        float[] sums = fused ? subBlockSums(x, in) : null;
        pool.parallelFor(tasks, (task, worker) -> {
            int r1 = Math.min(outF, (task + 1) * rowsPerChunk);
            if (fused) { // one token: each weight is used once, so decode it in registers, straight into the FMA
                for (int r = task * rowsPerChunk; r < r1; r++) {
                    float dot = k.dotQuantized(dt, wb, r * rowBytes, x, 0, in, sums);
                    out[r] = accumulate ? out[r] + dot : dot;
                }
                return;
            }
            float[] row = scratch[worker].weights(in);
            for (int r = task * rowsPerChunk; r < r1; r++) {
                k.dequantize(dt, wb, r * rowBytes, row, 0, in);
                for (int t = 0; t < n; t += 4) {
                    k.linearF32(x, t * in, in, Math.min(4, n - t), row, 0, in, 1, in, out, t * outF + r, outF,
                            accumulate);
                }
            }
        });
    }

    /** Sums of x over each 32 elements, reused by every row of a quantized GEMV (in is whole 32-blocks). */
    private float[] subBlockSums(float[] x, int in) {
        if (xSums.length < in / 32) {
            xSums = new float[in / 32];
        }
        for (int s = 0; s < in / 32; s++) {
            float sum = 0;
            for (int i = 32 * s; i < 32 * s + 32; i++) {
                sum += x[i];
            }
            xSums[s] = sum;
        }
        return xSums;
    }

    private void gemm(float[] x, int n, int in, HostTensor w, int outF, float[] out, boolean accumulate) {
        int rowTile = k.rowTile(), tileTokens = k.tileTokens();
        int rowBlocks = (outF + rowTile - 1) / rowTile;
        int tokenBlocks = (n + TOKEN_BLOCK - 1) / TOKEN_BLOCK;
        DType dt = w.dtype();
        float[] wf = dt == DType.F32 ? w.f32() : null;
        short[] wh = dt == DType.F32 || dt.isQuantized() ? null : w.bits16();
        byte[] wq = dt.isQuantized() ? w.blocks() : null;
        long rowBytes = dt.bytesFor(in);
        boolean bf16 = dt == DType.BF16;
        pool.parallelFor(rowBlocks * tokenBlocks, (task, worker) -> {
            int rb = task % rowBlocks, tb = task / rowBlocks;
            int r0 = rb * rowTile, rows = Math.min(rowTile, outF - r0);
            int t0 = tb * TOKEN_BLOCK, t1 = Math.min(n, t0 + TOKEN_BLOCK);
            Scratch sc = scratch[worker];
            float[] wt = sc.weights(K_BLOCK * rowTile);
            float[] stage = sc.stage(tileTokens * rowTile);
            int[] gatherIndex = sc.gatherIndex(k.lanes());
            // 16-bit and quantized rows are decoded into rowTile rows of K_BLOCK, row-major, then packed
            float[] decoded = wf == null ? sc.values(rowTile * K_BLOCK) : null;
            for (int c0 = 0; c0 < in; c0 += K_BLOCK) {
                int len = Math.min(K_BLOCK, in - c0);
                float[] src = wf;
                int base = r0 * in + c0, stride = in;
                if (wf == null) {
                    for (int r = 0; r < rows; r++) {
                        if (wq != null) { // K_BLOCK is whole blocks of every type, so slices start on a block
                            k.dequantize(dt, wq, (int) ((r0 + r) * rowBytes + dt.bytesFor(c0)), decoded, r * K_BLOCK,
                                    len);
                        } else {
                            k.toFloat(wh, (r0 + r) * in + c0, bf16, decoded, r * K_BLOCK, len);
                        }
                    }
                    src = decoded;
                    base = 0;
                    stride = K_BLOCK;
                }
                k.packTransposed(src, base, stride, rows, len, wt, rowTile, gatherIndex);
                for (int t = t0; t < t1; t += tileTokens) {
                    k.linearTile(x, t * in + c0, in, Math.min(tileTokens, t1 - t), wt, len, out, t * outF + r0, outF, rows,
                            accumulate || c0 > 0, stage);
                }
            }
        });
    }
}
