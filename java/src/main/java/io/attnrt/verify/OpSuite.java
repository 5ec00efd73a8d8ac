package io.attnrt.verify;

import static io.attnrt.verify.HarnessCase.gaussian;
import static io.attnrt.verify.HarnessCase.permutation;
import static io.attnrt.verify.HarnessCase.uniform;

import io.attnrt.backend.AttentionSpec;
import io.attnrt.backend.Backend;
import io.attnrt.backend.OpChecks;
import io.attnrt.backend.RopeSpec;
import io.attnrt.backend.RopeStyle;
import io.attnrt.backend.SamplingParams;
import io.attnrt.tensor.DType;
import io.attnrt.backend.Tensor;
import io.attnrt.verify.HarnessCase.Outputs;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * The op sweeps a backend must pass against the reference: {@link #standard()} covers every op over the
 * shapes, dtypes, masks and edge cases that matter; {@link #quick()} is a cheap subset of it for smoke
 * checks. Inputs are seeded per case, so a failure reproduces exactly.
 *
 * <p>Tolerances assume the candidate computes in fp32 (accumulating in fp32) and the reference in double:
 * each family's constant below says where its error comes from. A candidate whose activation dtype is
 * BF16 or F16 gets its activation inputs rounded to that dtype (the reference reads the same rounded
 * values), its 16-bit outputs compared with the reference rounded the same way, and one step of that
 * dtype's spacing (2^-7 BF16, 2^-10 F16) added to each relative tolerance, because its own final rounding
 * may land one step away; attention adds its probability rounding ({@link #ATTENTION_LOW_PRECISION}). Ops that only move or round data
 * (kvAppend, copyBlocks, gatherRows, add) and integer results (argmax, sample) must match exactly.
 */
public final class OpSuite {

    // ---------------------------------------------------------------- tolerances

    /*
     * Attention: outputs are softmax-weighted means of values in [-1, 1). An fp32 kernel rounds each
     * score (a d ≤ 128 dot product of O(1) terms: ~√d·2^-24 ≈ 1e-6 absolute), its exponentials and the
     * running sums of up to ~2000 weights (online-softmax rescaling included): relative errors of a few
     * 1e-6 in each weight, so a few 1e-6 absolute in outputs of magnitude ≤ 1. atol 2e-5 / rtol 1e-4
     * leaves a 10x margin and still catches a wrong scale, a shifted mask or a swapped head (errors of
     * 1e-2 and up). F16/BF16 caches are compared against the reference reading the same rounded cache, so
     * the same fp32 tolerance applies: only the math is checked, not the cache's own precision.
     */
    static final double ATTENTION_ATOL = 2e-5;
    static final double ATTENTION_RTOL = 1e-4;

    /*
     * A backend computing in BF16/F16 (tensor-core FlashAttention) rounds each probability p to the 16-bit
     * type before P·V, a relative error of at most u = 2^-8 (BF16) or 2^-11 (F16) per weight, while the
     * normaliser sums the unrounded p: the output moves by at most u·Σp|v| ≤ u for |v| < 1. Two units of
     * u (2x margin) are added to the fp32 tolerance, on top of the one-step spacing every 16-bit output is
     * allowed (see HarnessCase.spacing); the inputs themselves are identical on both sides.
     */
    static final double ATTENTION_LOW_PRECISION = 2;

    /*
     * Large logits (scores up to ~±1e4): an fp32 score is itself off by ~|s|·2^-24·√d ≈ 1e4·6e-8·11 ≈ 7e-3
     * — unavoidable in fp32 — and when two keys' scores are within a few units of each other that error
     * moves the output by up to half of it. atol 5e-3 covers that; the case exists to prove outputs stay
     * finite (a missing max subtraction gives Inf/NaN, an error here) and that lse keeps ~1e-4 relative
     * accuracy at magnitude 1e4.
     */
    static final double LARGE_LOGIT_ATOL = 5e-3;

    /*
     * linear: out = Σ_IN x·w with |x|, |w| < 1. fp32 accumulation in any order (serial, blocked, tree)
     * gives a random-walk error ~2^-24·sqrt(Σ partial²) ≲ 2^-24·IN·0.3 ≈ 2e-5 at IN = 1000, and outputs
     * have magnitude ~0.33·√IN. atol 1e-5·√IN (3e-4 at IN = 1000) plus rtol 1e-4 gives >10x margin; a
     * transposed weight, a dropped column or a bf16-rounded accumulator fails it.
     */
    static double linearAtol(int in) {
        return 1e-5 * Math.sqrt(in);
    }

    static final double LINEAR_RTOL = 1e-4;

    /*
     * rmsNorm / addRmsNorm: a fp32 sum of C squares (relative error ≲ √C·2^-24 ≈ 4e-6 at C = 4096), one
     * rsqrt and two products: outputs |x/rms·w| ≲ 3 carry a few 1e-6 relative error. atol 1e-5, rtol 5e-5.
     * The updated residual is a single fp32 add, exact in any implementation, and is held to the same bound.
     */
    static final double NORM_ATOL = 1e-5;
    static final double NORM_RTOL = 5e-5;

    /*
     * rope: the usual fp32 implementation rounds inv_freq = theta^(-2p/d) and the angle pos·inv_freq to
     * fp32 before sin/cos, an angle error up to ~2·pos·2^-24; with |x| < 1 the rotated pair moves by at most
     * √2 times that. atol = 2e-6 + pos_max·2^-21 (≈4e-3 at position 8191, 2e-6 at position 0) covers it
     * with 2x margin; a swapped style, a wrong theta or an off-by-one position errs by O(1).
     */
    static double ropeAtol(int maxPosition) {
        return 2e-6 + maxPosition * 0x1p-21;
    }

    static final double ROPE_RTOL = 1e-5;

    /*
     * swiglu: silu(g)·u with one fp32 exp and one division: a few ulps, rtol 1e-5; atol 1e-6 absorbs
     * results near zero (silu(−80) ≈ −1.4e-33 may flush to 0).
     */
    static final double SWIGLU_ATOL = 1e-6;
    static final double SWIGLU_RTOL = 1e-5;

    /** Data movement, rounding to the cache dtype and single fp32 adds are exact everywhere. */
    static final double EXACT = 0;

    // ---------------------------------------------------------------- suites

    private OpSuite() {
    }

    /**
     * The full sweep (all ops, shapes, dtypes, masks and edge cases): 82 cases, about 5 s of reference
     * backend time on one core.
     */
    public static List<OpCase> standard() {
        return build(false);
    }

    /** A 46-case subset of {@link #standard()} touching every op, for fast smoke checks. */
    public static List<OpCase> quick() {
        return build(true);
    }

    /**
     * Runs every case in order, reporting each result to {@code progress} (may be null) as soon as it is
     * known. A case that fails in an unexpected way becomes a failed result; nothing propagates.
     */
    public static List<OpResult> runAll(List<OpCase> cases, Backend candidate, Backend reference,
                                        Consumer<OpResult> progress) {
        List<OpResult> results = new ArrayList<>(cases.size());
        for (OpCase c : cases) {
            OpResult result;
            try {
                result = c.run(candidate, reference);
            } catch (RuntimeException e) {
                result = new OpResult(c.op(), c.shape(), Double.NaN, Double.NaN, Double.NaN, Double.NaN, false,
                        "case failed: " + HarnessCase.describe(e));
            }
            results.add(result);
            if (progress != null) {
                progress.accept(result);
            }
        }
        return results;
    }

    /** Collects cases; {@code quick} marks those that also belong to the quick suite. */
    private static final class Builder {
        private final boolean quickOnly;
        private final List<OpCase> cases = new ArrayList<>();

        Builder(boolean quickOnly) {
            this.quickOnly = quickOnly;
        }

        void add(boolean quick, OpCase c) {
            if (quick || !quickOnly) {
                cases.add(c);
            }
        }
    }

    private static final boolean Q = true; // also in quick()
    private static final boolean S = false; // standard only

    private static List<OpCase> build(boolean quickOnly) {
        Builder b = new Builder(quickOnly);
        prefillCases(b);
        decodeCases(b);
        cacheCases(b);
        linearCases(b);
        normCases(b);
        ropeCases(b);
        elementwiseCases(b);
        selectionCases(b);
        return List.copyOf(b.cases);
    }

    // ---------------------------------------------------------------- attention prefill

    /*
     * Every value of every axis appears at least once — lengths 1, 7, 16, 17, 255, 1000; d 64, 80, 128;
     * kv heads 8, 4, 2, 1 under 8 query heads (GQA 1, 2, 4, 8); causal and bidirectional; windows 1, 5, 64;
     * ragged batches (one with an empty sequence); lse on and off; large logits — without the full cross
     * product. Length 1000 at 8 heads × d = 128 appears twice: it dominates the suite's run time.
     */
    private static void prefillCases(Builder b) {
        b.add(Q, prefill(new int[] {1}, 8, 8, 64, true, 0, true, false));
        b.add(Q, prefill(new int[] {7}, 8, 4, 80, true, 0, false, false));
        b.add(Q, prefill(new int[] {16}, 8, 2, 128, false, 0, true, false));
        b.add(Q, prefill(new int[] {17}, 8, 1, 64, true, 0, true, false));
        b.add(Q, prefill(new int[] {17}, 8, 4, 128, true, 1, true, false));
        b.add(S, prefill(new int[] {16}, 8, 8, 80, false, 5, true, false));
        b.add(Q, prefill(new int[] {64}, 8, 2, 64, true, 5, true, false));
        b.add(S, prefill(new int[] {255}, 8, 2, 80, true, 0, true, false));
        b.add(S, prefill(new int[] {255}, 8, 8, 128, false, 0, false, false));
        b.add(S, prefill(new int[] {1000}, 8, 8, 128, true, 0, true, false));
        b.add(S, prefill(new int[] {1000}, 8, 1, 128, false, 0, false, false));
        b.add(S, prefill(new int[] {1000}, 8, 2, 64, true, 64, true, false));
        b.add(Q, prefill(new int[] {1, 17, 5, 64}, 8, 2, 128, true, 0, true, false));
        b.add(S, prefill(new int[] {1, 17, 5, 64}, 8, 8, 80, false, 0, false, false));
        b.add(S, prefill(new int[] {255, 3}, 8, 4, 64, true, 64, true, false));
        b.add(Q, prefill(new int[] {5, 0, 9}, 4, 2, 64, true, 0, true, false));
        b.add(Q, prefill(new int[] {16, 16}, 8, 1, 80, false, 5, true, false));
        b.add(Q, prefill(new int[] {64}, 8, 2, 128, true, 0, true, true));
        b.add(S, prefill(new int[] {255}, 8, 8, 64, false, 0, true, true));
    }

    static OpCase prefill(int[] lengths, int heads, int kvHeads, int d, boolean causal, int window,
                                  boolean withLse, boolean largeLogits) {
        AttentionSpec spec = new AttentionSpec(heads, kvHeads, d, causal, window, (float) (1 / Math.sqrt(d)));
        int[] seqStarts = new int[lengths.length + 1];
        for (int s = 0; s < lengths.length; s++) {
            seqStarts[s + 1] = seqStarts[s] + lengths[s];
        }
        int tokens = seqStarts[lengths.length];
        // Entries of ±qkScale give scores up to ~qkScale²·√d/3·3σ: ±1e4 for 200 at d = 128.
        double qkScale = largeLogits ? 200 : 1;
        String shape = "seqs=" + Arrays.toString(lengths).replace(" ", "") + " heads=" + heads + "/" + kvHeads
                + " d=" + d + (causal ? " causal" : " bidirectional") + (window > 0 ? " window=" + window : "")
                + (withLse ? " lse" : "") + (largeLogits ? " large-logits" : "");
        double atol = largeLogits ? LARGE_LOGIT_ATOL : ATTENTION_ATOL;
        return new HarnessCase("attentionPrefill", shape, atol, ATTENTION_RTOL, ATTENTION_LOW_PRECISION, (rng, reference) -> {
            float[] q = uniform(rng, tokens * spec.qWidth(), qkScale);
            float[] k = uniform(rng, tokens * spec.kvWidth(), qkScale);
            float[] v = uniform(rng, tokens * spec.kvWidth(), 1);
            return (backend, scope) -> {
                Tensor tq = scope.activation(q, tokens, spec.qWidth());
                Tensor tk = scope.activation(k, tokens, spec.kvWidth());
                Tensor tv = scope.activation(v, tokens, spec.kvWidth());
                Tensor out = scope.output(tokens, spec.qWidth());
                Tensor lse = withLse ? scope.outputF32(tokens, heads) : null;
                backend.attentionPrefill(tq, tk, tv, seqStarts.clone(), spec, out, lse);
                Outputs o = new Outputs().floats("out", scope.download(out));
                return withLse ? o.floats("lse", scope.download(lse)) : o;
            };
        });
    }

    // ---------------------------------------------------------------- attention decode

    /*
     * Context lengths 0 (fully masked: zeros and lse −∞), 1, lengths off the block grid, and 1000–2000;
     * block sizes 1, 8, 16, 32; physical blocks shuffled so tables are never contiguous, with unused
     * table entries set to −1 (they must be ignored); GQA 1, 2, 4, 8; windows; F32/F16/BF16 caches.
     */
    private static void decodeCases(Builder b) {
        b.add(Q, decode(new int[] {0, 1, 5, 17}, 16, 8, 8, 64, 0, DType.F32, true, false));
        b.add(Q, decode(new int[] {33, 1}, 1, 8, 4, 128, 0, DType.F16, true, false));
        b.add(S, decode(new int[] {1000}, 32, 8, 2, 128, 0, DType.F32, false, false));
        b.add(Q, decode(new int[] {2000, 7, 100}, 16, 8, 1, 64, 0, DType.BF16, true, false));
        b.add(Q, decode(new int[] {15, 31, 63}, 8, 8, 2, 80, 5, DType.F32, true, false));
        b.add(S, decode(new int[] {1500, 0}, 32, 8, 4, 128, 64, DType.BF16, false, false));
        b.add(Q, decode(new int[] {9, 24}, 8, 8, 8, 128, 0, DType.F16, true, false));
        b.add(Q, decode(new int[] {1, 2, 3, 4, 5, 6, 7, 8}, 1, 8, 1, 64, 0, DType.F32, true, false));
        b.add(S, decode(new int[] {1, 100, 1001}, 16, 8, 2, 80, 1, DType.F16, true, false));
        b.add(Q, decode(new int[] {300}, 16, 8, 2, 128, 0, DType.F32, true, true));
        // group sizes 3 and 7 take every row grouping of the kernels (4 + 2 + 1), head dims off the vector width
        b.add(S, decode(new int[] {70, 3}, 16, 6, 2, 96, 0, DType.F32, true, false));
        b.add(S, decode(new int[] {129, 40}, 16, 14, 2, 72, 0, DType.BF16, true, false));
    }

    static OpCase decode(int[] contextLens, int blockSize, int heads, int kvHeads, int d, int window,
                                 DType cacheType, boolean withLse, boolean largeLogits) {
        AttentionSpec spec = new AttentionSpec(heads, kvHeads, d, true, window, (float) (1 / Math.sqrt(d)));
        int batch = contextLens.length;
        int maxBlocksPerSeq = 1;
        int usedBlocks = 0;
        for (int len : contextLens) {
            int blocks = (len + blockSize - 1) / blockSize;
            maxBlocksPerSeq = Math.max(maxBlocksPerSeq, blocks + 1); // +1: a tail entry that must be ignored
            usedBlocks += blocks;
        }
        int numBlocks = usedBlocks + 3; // spare blocks full of unrelated data
        int tableStride = maxBlocksPerSeq;
        double qkScale = largeLogits ? 200 : 1;
        String shape = "ctx=" + Arrays.toString(contextLens).replace(" ", "") + " block=" + blockSize + " heads="
                + heads + "/" + kvHeads + " d=" + d + (window > 0 ? " window=" + window : "") + " cache="
                + cacheType + (withLse ? " lse" : "") + (largeLogits ? " large-logits" : "");
        double atol = largeLogits ? LARGE_LOGIT_ATOL : ATTENTION_ATOL;
        return new HarnessCase("attentionDecode", shape, atol, ATTENTION_RTOL, ATTENTION_LOW_PRECISION, (rng, reference) -> {
            int[] physical = permutation(rng, numBlocks);
            int[] tables = new int[batch * tableStride];
            Arrays.fill(tables, -1);
            int next = 0;
            for (int s = 0; s < batch; s++) {
                int blocks = (contextLens[s] + blockSize - 1) / blockSize;
                for (int j = 0; j < blocks; j++) {
                    tables[s * tableStride + j] = physical[next++];
                }
            }
            int cacheElements = numBlocks * blockSize * spec.kvWidth();
            float[] keys = uniform(rng, cacheElements, qkScale);
            float[] values = uniform(rng, cacheElements, 1);
            float[] q = uniform(rng, batch * spec.qWidth(), qkScale);
            return (backend, scope) -> {
                Tensor tq = scope.activation(q, batch, spec.qWidth());
                Tensor kc = scope.upload(keys, cacheType, numBlocks, blockSize, kvHeads, d);
                Tensor vc = scope.upload(values, cacheType, numBlocks, blockSize, kvHeads, d);
                Tensor out = scope.output(batch, spec.qWidth());
                Tensor lse = withLse ? scope.outputF32(batch, heads) : null;
                backend.attentionDecode(tq, kc, vc, tables.clone(), tableStride, contextLens.clone(), spec, out, lse);
                Outputs o = new Outputs().floats("out", scope.download(out));
                return withLse ? o.floats("lse", scope.download(lse)) : o;
            };
        });
    }

    // ---------------------------------------------------------------- paged cache maintenance

    private static void cacheCases(Builder b) {
        b.add(Q, kvAppend(12, 16, 8, 64, 37, DType.F32));
        b.add(Q, kvAppend(9, 8, 2, 128, 50, DType.F16));
        b.add(Q, kvAppend(40, 1, 4, 80, 17, DType.BF16));
        b.add(S, kvAppend(6, 32, 1, 64, 1, DType.BF16));
        b.add(Q, copyBlocks(10, 16, 2, 64, 3, DType.F32));
        b.add(Q, copyBlocks(20, 8, 4, 128, 7, DType.F16));
        b.add(S, copyBlocks(8, 32, 1, 80, 1, DType.BF16));
    }

    /** Rows go to distinct random slots of a cache already full of other data, which must survive. */
    /** From 17 rows on, every 7th row (3, 10, ...) is a padding row (slot −1): the cache keeps its old value. */
    static OpCase kvAppend(int numBlocks, int blockSize, int kvHeads, int d, int rows, DType dtype) {
        int width = kvHeads * d;
        boolean padded = rows >= 17;
        String shape = "rows=" + rows + " cache=" + dtype + "[" + numBlocks + "," + blockSize + "," + kvHeads + ","
                + d + "]" + (padded ? " padding rows" : "");
        return new HarnessCase("kvAppend", shape, EXACT, EXACT, (rng, reference) -> {
            int cacheElements = numBlocks * blockSize * width;
            float[] keyCache = uniform(rng, cacheElements, 1);
            float[] valueCache = uniform(rng, cacheElements, 1);
            float[] k = uniform(rng, rows * width, 1);
            float[] v = uniform(rng, rows * width, 1);
            int[] slots = Arrays.copyOf(permutation(rng, numBlocks * blockSize), rows);
            for (int i = 3; padded && i < rows; i += 7) {
                slots[i] = OpChecks.PADDING_SLOT;
            }
            return (backend, scope) -> {
                Tensor kc = scope.upload(keyCache, dtype, numBlocks, blockSize, kvHeads, d);
                Tensor vc = scope.upload(valueCache, dtype, numBlocks, blockSize, kvHeads, d);
                Tensor tk = scope.activation(k, rows, width);
                Tensor tv = scope.activation(v, rows, width);
                backend.kvAppend(kc, vc, tk, tv, slots.clone());
                return new Outputs().floats("keyCache", scope.download(kc)).floats("valueCache", scope.download(vc));
            };
        });
    }

    /**
     * Sources and destinations are disjoint: the contract does not say what a chain (a destination that
     * is also a source) reads, so the harness does not ask.
     */
    static OpCase copyBlocks(int numBlocks, int blockSize, int kvHeads, int d, int pairs, DType dtype) {
        String shape = "pairs=" + pairs + " cache=" + dtype + "[" + numBlocks + "," + blockSize + "," + kvHeads + ","
                + d + "]";
        return new HarnessCase("copyBlocks", shape, EXACT, EXACT, (rng, reference) -> {
            float[] cache = uniform(rng, numBlocks * blockSize * kvHeads * d, 1);
            float[] second = uniform(rng, numBlocks * blockSize * kvHeads * d, 1);
            int[] order = permutation(rng, numBlocks);
            int[] src = Arrays.copyOfRange(order, 0, pairs);
            int[] dst = Arrays.copyOfRange(order, pairs, 2 * pairs);
            return (backend, scope) -> {
                // Two caches (a layer's K and V pools) in one call, with different contents.
                Tensor c = scope.upload(cache, dtype, numBlocks, blockSize, kvHeads, d);
                Tensor c2 = scope.upload(second, dtype, numBlocks, blockSize, kvHeads, d);
                backend.copyBlocks(new Tensor[] {c, c2}, src.clone(), dst.clone());
                return new Outputs().floats("cache", scope.download(c)).floats("cache2", scope.download(c2));
            };
        });
    }

    // ---------------------------------------------------------------- linear

    private static void linearCases(Builder b) {
        b.add(Q, linear(1, 67, 129, DType.F32));
        b.add(Q, linear(3, 129, 67, DType.F16));
        b.add(Q, linear(17, 1000, 67, DType.BF16));
        b.add(S, linear(64, 67, 1000, DType.F32));
        b.add(S, linear(64, 1000, 129, DType.F16));
        b.add(S, linear(1, 1000, 1000, DType.BF16));
        b.add(S, linear(17, 129, 129, DType.F32));
        b.add(S, linear(3, 1000, 17, DType.F16));
        b.add(S, linear(64, 64, 64, DType.BF16));
        b.add(S, linear(8, 129, 67, DType.F32)); // either side of the CPU backend's GEMV/GEMM switch
        b.add(S, linear(9, 67, 129, DType.F16));
        b.add(Q, linear(3, 129, 67, DType.F32, false, true));
        b.add(S, linear(64, 1000, 129, DType.BF16, false, true));
        // quantized weights: rows of 1–32 blocks, outputs not a multiple of 4, GEMV and GEMM sides of the switch
        b.add(Q, linearQuantized(1, 96, 67, DType.Q8_0, false));
        b.add(S, linearQuantized(3, 256, 33, DType.Q4_K, true));
        b.add(Q, linearQuantized(1, 512, 67, DType.Q6_K, false));
        b.add(S, linearQuantized(25, 1024, 129, DType.Q8_0, true));
        b.add(S, linearQuantized(4, 160, 67, DType.Q4_0, false));
        b.add(S, linearQuantized(64, 288, 33, DType.Q4_0, false));
        b.add(S, linearQuantized(24, 768, 67, DType.Q4_K, false));
        b.add(S, linearQuantized(64, 512, 67, DType.Q4_K, true));
        b.add(S, linearQuantized(1, 256, 129, DType.Q5_K, false));
        b.add(Q, linearQuantized(1, 768, 67, DType.Q4_K, true)); // one token: the fused SIMD dot products
        b.add(S, linearQuantized(1, 1024, 33, DType.Q8_0, true));
        b.add(S, linearQuantized(1, 768, 33, DType.Q6_K, true));
        b.add(S, linearQuantized(1, 288, 67, DType.Q4_0, true));
        b.add(S, linearQuantized(1, 768, 40, DType.Q5_K, true));
        b.add(S, linearQuantized(33, 512, 67, DType.Q5_K, true));
        b.add(S, linearQuantized(17, 256, 67, DType.Q6_K, true));
        b.add(S, linearQuantized(64, 768, 33, DType.Q6_K, false));
    }

    static OpCase linear(int tokens, int in, int out, DType weightType) {
        return linear(tokens, in, out, weightType, false, false);
    }

    /**
     * {@code f32Out}: the output is F32 whatever the activation dtype (the LM head's logits);
     * {@code accumulate}: out starts as random values of the residual's magnitude and the product is added.
     */
    static OpCase linear(int tokens, int in, int out, DType weightType, boolean f32Out, boolean accumulate) {
        String shape = "N=" + tokens + " IN=" + in + " OUT=" + out + " weight=" + weightType
                + (f32Out ? " out=F32" : "") + (accumulate ? " accumulate" : "");
        return new HarnessCase("linear", shape, linearAtol(in), LINEAR_RTOL, (rng, reference) -> {
            float[] x = uniform(rng, tokens * in, 1);
            float[] w = uniform(rng, out * in, 1);
            float[] residual = uniform(rng, tokens * out, Math.sqrt(in));
            return (backend, scope) -> {
                Tensor tx = scope.activation(x, tokens, in);
                Tensor tw = scope.upload(w, weightType, out, in);
                Tensor result = accumulate ? scope.activation(residual, tokens, out)
                        : f32Out ? scope.outputF32(tokens, out) : scope.output(tokens, out);
                backend.linear(tx, tw, result, accumulate);
                return new Outputs().floats("out", scope.download(result));
            };
        });
    }

    /*
     * Quantized weights: random blocks (random quants under per-block and per-sub-block scales, signs mixed)
     * whose decoded values have standard deviation 0.58 like uniform(±1), but reach about ±3. Every backend
     * decodes them exactly (the reference to double), so the only error is the fp32 accumulation of
     * linearAtol, scaled by the 3x larger weights: atol 3·linearAtol.
     *
     * A 16-bit device decodes the blocks into its activation dtype for a tensor-core GEMM of more than a few
     * tokens (as llama.cpp's CUDA backend does for cuBLAS), rounding each weight by up to half its spacing u
     * (2^-8 relative in BF16, 2^-11 in F16). Those errors are independent with mean 0, so the output's error
     * has standard deviation u/√3 · √(Σ x²w²) ≈ u · 0.58 · 0.58 · 0.58 · √IN (x uniform in ±1: RMS 0.58; weights
     * RMS 0.58); six of those, 1.16·√IN·u, is the lowPrecisionAtol allowance. A dropped or misdecoded chunk
     * of 8 products costs ≈ 0.5·√8 ≈ 1.4, ten times that allowance even at IN = 1024.
     */
    static OpCase linearQuantized(int tokens, int in, int out, DType weightType, boolean accumulate) {
        String shape = "N=" + tokens + " IN=" + in + " OUT=" + out + " weight=" + weightType
                + (accumulate ? " accumulate" : "");
        double weightRounding = 1.16 * Math.sqrt(in);
        return new HarnessCase("linear", shape, 3 * linearAtol(in), LINEAR_RTOL, weightRounding, (rng, reference) -> {
            float[] x = uniform(rng, tokens * in, 1);
            byte[] w = new byte[(int) weightType.bytesFor((long) out * in)];
            io.attnrt.tensor.Quant.fillRandom(weightType, w, rng.nextLong(), 0.58);
            float[] residual = uniform(rng, tokens * out, Math.sqrt(in));
            return (backend, scope) -> {
                Tensor tx = scope.activation(x, tokens, in);
                Tensor tw = scope.uploadQuantized(w, weightType, out, in);
                Tensor result = accumulate ? scope.activation(residual, tokens, out) : scope.output(tokens, out);
                backend.linear(tx, tw, result, accumulate);
                return new Outputs().floats("out", scope.download(result));
            };
        });
    }

    // ---------------------------------------------------------------- norms

    private static void normCases(Builder b) {
        b.add(Q, rmsNorm(1, 64, DType.F32, 1e-5f, false));
        b.add(S, rmsNorm(3, 4096, DType.BF16, 1e-6f, false));
        b.add(S, rmsNorm(17, 1000, DType.F16, 1e-5f, true));
        b.add(Q, rmsNorm(5, 67, DType.BF16, 1e-5f, true));
        b.add(Q, rmsNormHeads(3, 4, 64, DType.BF16));
        b.add(S, rmsNormHeads(1, 2, 128, DType.F32));
        b.add(Q, addRmsNorm(4, 128, DType.F32, 1e-5f));
        b.add(S, addRmsNorm(17, 4096, DType.BF16, 1e-6f));
        b.add(Q, addRmsNorm(1, 67, DType.F16, 1e-5f));
    }

    /** Inputs N(0, 1) scaled by 3 so rows have norms far from 1; {@code inPlace} passes x as out. */
    static OpCase rmsNorm(int rows, int cols, DType weightType, float eps, boolean inPlace) {
        String shape = "N=" + rows + " C=" + cols + " weight=" + weightType + " eps=" + eps
                + (inPlace ? " in-place" : "");
        return new HarnessCase("rmsNorm", shape, NORM_ATOL, NORM_RTOL, (rng, reference) -> {
            float[] x = gaussian(rng, rows * cols, 3);
            float[] w = uniform(rng, cols, 1);
            return (backend, scope) -> {
                Tensor tx = scope.activation(x, rows, cols);
                Tensor tw = scope.upload(w, weightType, cols);
                Tensor out = inPlace ? tx : scope.output(rows, cols);
                backend.rmsNorm(tx, tw, eps, out);
                return new Outputs().floats("out", scope.download(out));
            };
        });
    }

    /** Per-head RMSNorm in place (Qwen3's q_norm/k_norm): rows of heads·d, one weight of d shared by the heads. */
    static OpCase rmsNormHeads(int rows, int heads, int d, DType weightType) {
        String shape = "N=" + rows + " heads=" + heads + " d=" + d + " weight=" + weightType;
        return new HarnessCase("rmsNormHeads", shape, NORM_ATOL, NORM_RTOL, (rng, reference) -> {
            float[] x = gaussian(rng, rows * heads * d, 3);
            for (int h = 0; h < rows * heads; h += 2) { // heads of very different scales: each has its own rms
                for (int c = 0; c < d; c++) {
                    x[h * d + c] *= 0.01f;
                }
            }
            float[] w = uniform(rng, d, 1);
            return (backend, scope) -> {
                Tensor tx = scope.activation(x, rows, heads * d);
                Tensor tw = scope.upload(w, weightType, d);
                backend.rmsNormHeads(tx, tw, 1e-6f);
                return new Outputs().floats("x", scope.download(tx));
            };
        });
    }

    static OpCase addRmsNorm(int rows, int cols, DType weightType, float eps) {
        String shape = "N=" + rows + " C=" + cols + " weight=" + weightType + " eps=" + eps;
        return new HarnessCase("addRmsNorm", shape, NORM_ATOL, NORM_RTOL, (rng, reference) -> {
            float[] residual = gaussian(rng, rows * cols, 1);
            float[] delta = gaussian(rng, rows * cols, 0.5);
            float[] w = uniform(rng, cols, 1);
            return (backend, scope) -> {
                Tensor r = scope.activation(residual, rows, cols);
                Tensor dt = scope.activation(delta, rows, cols);
                Tensor tw = scope.upload(w, weightType, cols);
                Tensor out = scope.output(rows, cols);
                backend.addRmsNorm(r, dt, tw, eps, out);
                return new Outputs().floats("out", scope.download(out)).floats("residual", scope.download(r));
            };
        });
    }

    // ---------------------------------------------------------------- rope

    private static void ropeCases(Builder b) {
        b.add(Q, rope(5, 8, 64, 1e4, RopeStyle.ROTATE_HALF, 4));
        b.add(Q, rope(17, 4, 80, 5e5, RopeStyle.INTERLEAVED, 8000));
        b.add(S, rope(3, 32, 128, 5e5, RopeStyle.ROTATE_HALF, 8191));
        b.add(S, rope(64, 2, 128, 1e4, RopeStyle.INTERLEAVED, 2048));
        b.add(Q, rope(16, 8, 128, 1e4, RopeStyle.ROTATE_HALF, 100));
        b.add(S, rope(9, 8, 80, 1e4, RopeStyle.ROTATE_HALF, 7999));
        b.add(Q, rope(16, 8, 64, 5e5, RopeStyle.INTERLEAVED, 300));
        b.add(Q, ropeQK(7, 8, 2, 64, 5e5, RopeStyle.ROTATE_HALF, 4000));
        b.add(S, ropeQK(3, 4, 4, 128, 1e4, RopeStyle.INTERLEAVED, 100));
    }

    /** q and k of one layer in one call, GQA-shaped (k has fewer heads). */
    static OpCase ropeQK(int tokens, int heads, int kvHeads, int d, double theta, RopeStyle style, int maxPosition) {
        String shape = "N=" + tokens + " heads=" + heads + "/" + kvHeads + " d=" + d + " theta=" + (long) theta + " "
                + style + " pos<=" + maxPosition;
        RopeSpec spec = new RopeSpec(theta, style);
        return new HarnessCase("ropeQK", shape, ropeAtol(maxPosition), ROPE_RTOL, (rng, reference) -> {
            float[] q = uniform(rng, tokens * heads * d, 1);
            float[] k = uniform(rng, tokens * kvHeads * d, 1);
            int[] positions = new int[tokens];
            for (int n = 0; n < tokens; n++) {
                positions[n] = rng.nextInt(maxPosition + 1);
            }
            positions[tokens - 1] = maxPosition;
            return (backend, scope) -> {
                Tensor tq = scope.activation(q, tokens, heads * d);
                Tensor tk = scope.activation(k, tokens, kvHeads * d);
                backend.ropeQK(tq, tk, positions.clone(), heads, kvHeads, d, spec);
                return new Outputs().floats("q", scope.download(tq)).floats("k", scope.download(tk));
            };
        });
    }

    /** Positions random in [0, maxPosition], with 0 and maxPosition always present. */
    static OpCase rope(int tokens, int heads, int d, double theta, RopeStyle style, int maxPosition) {
        String shape = "N=" + tokens + " heads=" + heads + " d=" + d + " theta=" + (long) theta + " " + style
                + " pos<=" + maxPosition;
        RopeSpec spec = new RopeSpec(theta, style);
        return new HarnessCase("rope", shape, ropeAtol(maxPosition), ROPE_RTOL, (rng, reference) -> {
            float[] x = uniform(rng, tokens * heads * d, 1);
            int[] positions = new int[tokens];
            for (int n = 0; n < tokens; n++) {
                positions[n] = rng.nextInt(maxPosition + 1);
            }
            positions[0] = 0;
            positions[tokens - 1] = maxPosition;
            return (backend, scope) -> {
                Tensor tx = scope.activation(x, tokens, heads * d);
                backend.rope(tx, positions.clone(), heads, d, spec);
                return new Outputs().floats("x", scope.download(tx));
            };
        });
    }

    // ---------------------------------------------------------------- gather and element-wise

    private static void elementwiseCases(Builder b) {
        b.add(Q, gatherRows(1000, 64, 5, DType.F32));
        b.add(Q, gatherRows(100, 129, 17, DType.F16));
        b.add(S, gatherRows(5000, 128, 3, DType.BF16));
        b.add(Q, gatherRowsQuantized(300, 256, 7, DType.Q4_K));
        b.add(S, gatherRowsQuantized(100, 64, 5, DType.Q8_0));
        b.add(S, gatherRowsQuantized(100, 96, 5, DType.Q4_0));
        b.add(S, gatherRowsQuantized(50, 512, 5, DType.Q5_K));
        b.add(S, gatherRowsQuantized(50, 256, 5, DType.Q6_K));
        b.add(Q, swiglu(3, 67, 4));
        b.add(S, swiglu(17, 1000, 10));
        b.add(Q, swiglu(2, 64, 100));
        b.add(Q, addBias(3, 67, DType.F32));
        b.add(Q, addBias(17, 1000, DType.BF16));
        b.add(S, addBias(1, 64, DType.F16));
        b.add(Q, add(1, 64, false));
        b.add(Q, add(17, 1000, true));
    }

    /** Row indices random with repeats, the first and last table rows always among them. */
    static OpCase gatherRows(int tableRows, int cols, int picks, DType dtype) {
        String shape = "rows=" + picks + " table=" + dtype + "[" + tableRows + "," + cols + "]";
        return new HarnessCase("gatherRows", shape, EXACT, EXACT, (rng, reference) -> {
            float[] table = uniform(rng, tableRows * cols, 1);
            int[] rows = new int[picks];
            for (int i = 0; i < picks; i++) {
                rows[i] = rng.nextInt(tableRows);
            }
            rows[0] = tableRows - 1;
            if (picks > 2) {
                rows[1] = 0;
                rows[2] = rows[0]; // a repeated index
            }
            return (backend, scope) -> {
                Tensor t = scope.upload(table, dtype, tableRows, cols);
                Tensor out = scope.output(picks, cols);
                backend.gatherRows(t, rows.clone(), out);
                return new Outputs().floats("out", scope.download(out));
            };
        });
    }

    /** An embedding table of quantized rows (llama.cpp files quantize token_embd too): decoded exactly. */
    static OpCase gatherRowsQuantized(int tableRows, int cols, int picks, DType dtype) {
        String shape = "rows=" + picks + " table=" + dtype + "[" + tableRows + "," + cols + "]";
        return new HarnessCase("gatherRows", shape, EXACT, EXACT, (rng, reference) -> {
            byte[] table = new byte[(int) dtype.bytesFor((long) tableRows * cols)];
            io.attnrt.tensor.Quant.fillRandom(dtype, table, rng.nextLong(), 1);
            int[] rows = new int[picks];
            for (int i = 0; i < picks; i++) {
                rows[i] = rng.nextInt(tableRows);
            }
            rows[0] = tableRows - 1;
            rows[1] = 0;
            return (backend, scope) -> {
                Tensor t = scope.uploadQuantized(table, dtype, tableRows, cols);
                Tensor out = scope.output(picks, cols);
                backend.gatherRows(t, rows.clone(), out);
                return new Outputs().floats("out", scope.download(out));
            };
        });
    }

    /**
     * The fused [gate | up] rows of one projection: gates uniform in ±gateScale; with gateScale 100 the
     * extreme gates make e^±x overflow fp32 (beyond ±88.7), where silu must still come out finite (−0 and x),
     * not NaN as e^x/(1+e^x) = ∞/∞ would give. An odd F puts every up half off a 16-byte boundary.
     */
    static OpCase swiglu(int rows, int cols, double gateScale) {
        String shape = "N=" + rows + " F=" + cols + " |gate|<=" + (int) gateScale;
        return new HarnessCase("swiglu", shape, SWIGLU_ATOL, SWIGLU_RTOL, (rng, reference) -> {
            float[] gateUp = new float[2 * rows * cols];
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < cols; c++) {
                    gateUp[2 * r * cols + c] = (float) ((2 * rng.nextDouble() - 1) * gateScale);
                    gateUp[2 * r * cols + cols + c] = (float) ((2 * rng.nextDouble() - 1) * 2);
                }
            }
            if (gateScale > 88.7) {
                gateUp[0] = (float) -gateScale;
                gateUp[1] = (float) gateScale;
            }
            return (backend, scope) -> {
                Tensor gu = scope.activation(gateUp, rows, 2 * cols);
                Tensor out = scope.output(rows, cols);
                backend.swiglu(gu, out);
                return new Outputs().floats("out", scope.download(out));
            };
        });
    }

    /** A bias row in a weight dtype added to every row; odd widths take the scalar tail on a GPU. */
    static OpCase addBias(int rows, int cols, DType biasDtype) {
        String shape = "N=" + rows + " F=" + cols + " bias=" + biasDtype;
        return new HarnessCase("addBias", shape, EXACT, EXACT, (rng, reference) -> {
            float[] x = gaussian(rng, rows * cols, 1);
            float[] bias = gaussian(rng, cols, 0.1);
            return (backend, scope) -> {
                Tensor tx = scope.activation(x, rows, cols);
                Tensor tb = scope.upload(bias, biasDtype, cols);
                backend.addBias(tx, tb);
                return new Outputs().floats("x", scope.download(tx));
            };
        });
    }

    static OpCase add(int rows, int cols, boolean inPlace) {
        String shape = "N=" + rows + " F=" + cols + (inPlace ? " in-place" : "");
        return new HarnessCase("add", shape, EXACT, EXACT, (rng, reference) -> {
            float[] a = gaussian(rng, rows * cols, 1);
            float[] c = gaussian(rng, rows * cols, 1e-3); // different magnitudes: rounding actually happens
            return (backend, scope) -> {
                Tensor ta = scope.activation(a, rows, cols);
                Tensor tb = scope.activation(c, rows, cols);
                Tensor out = inPlace ? tb : scope.output(rows, cols);
                backend.add(ta, tb, out);
                return new Outputs().floats("out", scope.download(out));
            };
        });
    }

    // ---------------------------------------------------------------- argmax and sampling

    private static void selectionCases(Builder b) {
        b.add(Q, argmax(6, 129));
        b.add(S, argmax(4, 1000));
        b.add(S, argmax(2, 32000));
        SamplingParams[] mix = {
            SamplingParams.GREEDY,
            new SamplingParams(1f, 0, 1f),
            new SamplingParams(0.7f, 0, 1f),
            new SamplingParams(1f, 40, 1f),
            new SamplingParams(0.9f, 0, 0.9f),
            new SamplingParams(1.5f, 5, 0.5f),
            new SamplingParams(0.8f, 1, 1f),
            new SamplingParams(1.2f, 50, 0.95f),
        };
        b.add(Q, sample(mix, 129, 1));
        b.add(S, sample(mix, 1000, 3));
        b.add(S, sample(new SamplingParams[] {new SamplingParams(1f, 0, 0.05f), new SamplingParams(0.6f, 100, 0.8f)},
                32000, 2));
    }

    /**
     * Rows of N(0, 1) logits, then planted cases: a tie for the maximum (lowest index must win), a row
     * of identical values (index 0), the maximum at the last index, the maximum at index 0.
     */
    static OpCase argmax(int rows, int vocab) {
        String shape = "B=" + rows + " V=" + vocab + " with ties";
        return new HarnessCase("argmax", shape, EXACT, EXACT, (rng, reference) -> {
            float[] logits = gaussian(rng, rows * vocab, 1);
            plantTies(logits, rows, vocab, rng);
            return (backend, scope) -> {
                Tensor t = scope.upload(logits, DType.F32, rows, vocab);
                return new Outputs().ints("tokens", backend.argmax(t));
            };
        });
    }

    private static void plantTies(float[] logits, int rows, int vocab, SplittableRandom rng) {
        int a = 1 + rng.nextInt(vocab / 2);
        int c = a + 1 + rng.nextInt(vocab / 2 - 1);
        logits[a] = 9f;
        logits[c] = 9f;
        if (rows > 1) {
            Arrays.fill(logits, vocab, 2 * vocab, 0.5f);
        }
        if (rows > 2) {
            logits[3 * vocab - 1] = 9f;
        }
        if (rows > 3) {
            logits[3 * vocab] = 9f;
            logits[4 * vocab - 1] = 9f;
        }
    }

    /**
     * Each params entry gets {@code rowsPerParams} rows of logits N(0, 3²) (peaked enough for top-p to
     * cut), plus a planted tie. Uniform draws are seeded, then re-drawn where the reference's token would
     * change if u, temperature or top-p moved by 1e-5 relative: fp32 softmax in a candidate shifts the
     * cumulative boundaries by ~1e-6, and an exact-match comparison must not hinge on that.
     */
    static OpCase sample(SamplingParams[] mix, int vocab, int rowsPerParams) {
        int rows = mix.length * rowsPerParams;
        SamplingParams[] params = new SamplingParams[rows];
        for (int r = 0; r < rows; r++) {
            params[r] = mix[r % mix.length];
        }
        StringBuilder names = new StringBuilder();
        for (SamplingParams p : mix) {
            names.append(names.length() == 0 ? "" : ",").append(p.greedy() ? "greedy"
                    : "t" + p.temperature() + "/k" + p.topK() + "/p" + p.topP());
        }
        String shape = "B=" + rows + " V=" + vocab + " params=" + names;
        return new HarnessCase("sample", shape, EXACT, EXACT, (rng, reference) -> {
            float[] logits = gaussian(rng, rows * vocab, 3);
            logits[1] = logits[2] = 20f; // a tie at the top of row 0
            double[] uniforms = new double[rows];
            for (int r = 0; r < rows; r++) {
                uniforms[r] = rng.nextDouble();
            }
            stabilize(reference, logits, vocab, params, uniforms, rng);
            return (backend, scope) -> {
                Tensor t = scope.upload(logits, DType.F32, rows, vocab);
                return new Outputs().ints("tokens", backend.sample(t, params.clone(), uniforms.clone()));
            };
        });
    }

    private static void stabilize(Backend reference, float[] logits, int vocab, SamplingParams[] params,
                                  double[] uniforms, SplittableRandom rng) {
        int rows = params.length;
        double delta = 1e-5;
        Tensor t = reference.upload(logits, DType.F32, rows, vocab);
        try {
            for (int round = 0; round < 20; round++) {
                int[] base = reference.sample(t, params, uniforms);
                boolean[] unstable = new boolean[rows];
                double[] lower = new double[rows];
                double[] upper = new double[rows];
                SamplingParams[] colder = new SamplingParams[rows];
                SamplingParams[] hotter = new SamplingParams[rows];
                SamplingParams[] narrower = new SamplingParams[rows];
                SamplingParams[] wider = new SamplingParams[rows];
                for (int r = 0; r < rows; r++) {
                    SamplingParams p = params[r];
                    lower[r] = Math.max(0, uniforms[r] - delta);
                    upper[r] = Math.min(Math.nextDown(1.0), uniforms[r] + delta);
                    colder[r] = new SamplingParams((float) (p.temperature() * (1 - delta)), p.topK(), p.topP());
                    hotter[r] = new SamplingParams((float) (p.temperature() * (1 + delta)), p.topK(), p.topP());
                    narrower[r] = new SamplingParams(p.temperature(), p.topK(), (float) (p.topP() * (1 - delta)));
                    float widerTopP = (float) Math.min(1, p.topP() * (1 + delta));
                    wider[r] = new SamplingParams(p.temperature(), p.topK(), widerTopP);
                }
                int[][] variants = {
                    reference.sample(t, params, lower), reference.sample(t, params, upper),
                    reference.sample(t, colder, uniforms), reference.sample(t, hotter, uniforms),
                    reference.sample(t, narrower, uniforms), reference.sample(t, wider, uniforms),
                };
                boolean any = false;
                for (int[] variant : variants) {
                    for (int r = 0; r < rows; r++) {
                        if (variant[r] != base[r]) {
                            unstable[r] = true;
                            any = true;
                        }
                    }
                }
                if (!any) {
                    return;
                }
                for (int r = 0; r < rows; r++) {
                    if (unstable[r]) {
                        uniforms[r] = rng.nextDouble();
                    }
                }
            }
        } finally {
            reference.free(t);
        }
    }
}
