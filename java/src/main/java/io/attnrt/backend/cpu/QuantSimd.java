package io.attnrt.backend.cpu;

import static io.attnrt.tensor.Quant.half;
import static io.attnrt.tensor.Quant.scaleMin;

import io.attnrt.tensor.DType;
import io.attnrt.tensor.Quant;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector decoding of llama.cpp's quantized blocks into floats, bit-identical to {@link Quant#dequantize}: the
 * same float operations in the same order, only L elements at a time (L bytes widened to L float lanes,
 * nibbles and high bits split with lane-wise masks and shifts). The quantized GEMV decodes a weight row into
 * L1-resident scratch once and then runs the F32 dot kernels over it for every token of the step, so the
 * weights cross the memory bus quantized and are widened only in cache.
 *
 * <p>Every sub-block (32 elements, 16 for Q6_K) is a whole number of vectors for 4, 8 or 16 float lanes.
 * Loaded only together with {@link SimdKernels}.
 */
final class QuantSimd {
    private static final VectorSpecies<Float> F = SimdKernels.F;
    private static final int L = F.length();
    /**
     * As many byte lanes as float lanes: one load widens into one float vector. With 4 float lanes (128-bit,
     * NEON) that would be a 32-bit byte vector, which the Vector API lacks: there the rows are decoded by the
     * scalar code and the F32 kernels still run vectorised.
     */
    private static final VectorSpecies<Byte> B = L * 8 >= 64
            ? VectorSpecies.of(byte.class, VectorShape.forBitSize(L * 8)) : null;

    private QuantSimd() {
    }

    static boolean supported() {
        return B != null && 32 % (2 * L) == 0 && 16 % L == 0;
    }

    static void dequantize(DType type, byte[] s, int at, float[] y, int yOff, int n) {
        int blocks = n / type.blockSize();
        for (int b = 0; b < blocks; b++) {
            int p = at + b * type.blockBytes();
            int o = yOff + b * type.blockSize();
            switch (type) {
                case Q8_0 -> q8_0(s, p, y, o);
                case Q4_0 -> q4_0(s, p, y, o);
                case Q4_K -> qk(s, p, y, o, false);
                case Q5_K -> qk(s, p, y, o, true);
                case Q6_K -> q6_k(s, p, y, o);
                default -> throw new IllegalArgumentException(type + " is not a quantized type");
            }
        }
    }

    private static FloatVector widen(ByteVector v) {
        return (FloatVector) v.convertShape(VectorOperators.B2F, F, 0);
    }

    private static void q8_0(byte[] s, int p, float[] y, int o) {
        float d = half(s, p);
        for (int i = 0; i < 32; i += L) {
            widen(ByteVector.fromArray(B, s, p + 2 + i)).mul(d).intoArray(y, o + i);
        }
    }

    private static void q4_0(byte[] s, int p, float[] y, int o) {
        float d = half(s, p);
        for (int i = 0; i < 16; i += L) {
            ByteVector q = ByteVector.fromArray(B, s, p + 2 + i);
            widen(q.and((byte) 0x0F).sub((byte) 8)).mul(d).intoArray(y, o + i);
            widen(q.lanewise(VectorOperators.LSHR, 4).and((byte) 0x0F).sub((byte) 8)).mul(d).intoArray(y, o + 16 + i);
        }
    }

    /** Q4_K, or Q5_K when {@code fifth}: the same scales and mins, Q5_K adds bit (2j or 2j+1) of qh[l]. */
    private static void qk(byte[] s, int p, float[] y, int o, boolean fifth) {
        float d = half(s, p);
        float min = half(s, p + 2);
        int scales = p + 4;
        int qh = p + 16;
        int ql = fifth ? p + 48 : p + 16;
        for (int j = 0; j < 4; j++) {
            int sm1 = scaleMin(s, scales, 2 * j);
            int sm2 = scaleMin(s, scales, 2 * j + 1);
            float d1 = d * (sm1 & 0xFF);
            float m1 = min * (sm1 >> 8);
            float d2 = d * (sm2 & 0xFF);
            float m2 = min * (sm2 >> 8);
            for (int l = 0; l < 32; l += L) {
                ByteVector q = ByteVector.fromArray(B, s, ql + 32 * j + l);
                ByteVector lo = q.and((byte) 0x0F);
                ByteVector hi = q.lanewise(VectorOperators.LSHR, 4).and((byte) 0x0F);
                if (fifth) {
                    ByteVector h = ByteVector.fromArray(B, s, qh + l);
                    lo = lo.or(h.lanewise(VectorOperators.LSHR, 2 * j).and((byte) 1).lanewise(VectorOperators.LSHL, 4));
                    hi = hi.or(h.lanewise(VectorOperators.LSHR, 2 * j + 1).and((byte) 1).lanewise(VectorOperators.LSHL, 4));
                }
                widen(lo).mul(d1).sub(m1).intoArray(y, o + 64 * j + l);
                widen(hi).mul(d2).sub(m2).intoArray(y, o + 64 * j + 32 + l);
            }
        }
    }

    /**
     * One quarter k (32 elements) of a Q6_K half at a time, reloading ql/qh from L1 per quarter: written as
     * one loop body over all four quarters, C2 spilled or boxed the vectors and ran 6-20x slower.
     */
    private static void q6_k(byte[] s, int p, float[] y, int o) {
        float d = half(s, p + 208);
        for (int n = 0; n < 2; n++) {
            int ql = p + 64 * n;
            int qh = p + 128 + 32 * n;
            int sc = p + 192 + 8 * n;
            for (int k = 0; k < 4; k++) {
                for (int l = 0; l < 32; l += L) {
                    widen(q6(s, ql, qh, k, l)).mul(d * s[sc + 2 * k + l / 16]).intoArray(y, o + 128 * n + 32 * k + l);
                }
            }
        }
    }

    /** Quants l..l+L−1 of quarter k of a Q6_K half, minus 32: 4 low bits from ql, 2 high bits from qh. */
    private static ByteVector q6(byte[] s, int ql, int qh, int k, int l) {
        ByteVector lo = ByteVector.fromArray(B, s, ql + 32 * (k & 1) + l);
        ByteVector low4 = (k < 2 ? lo : lo.lanewise(VectorOperators.LSHR, 4)).and((byte) 0x0F);
        ByteVector high = ByteVector.fromArray(B, s, qh + l).lanewise(VectorOperators.LSHR, 2 * k).and((byte) 3)
                .lanewise(VectorOperators.LSHL, 4);
        return low4.or(high).sub((byte) 32);
    }

    // ------------------------------------------------------------ fused dot products (one token)

    /** Whether {@link #dot} has a fused kernel for {@code type}; the others decode a row into scratch first. */
    static boolean fusedDot(DType type) {
        return type == DType.Q8_0 || type == DType.Q4_0 || type == DType.Q4_K || type == DType.Q5_K
                || type == DType.Q6_K;
    }

    /**
     * {@code Σ_i w[i]·x[xOff + i]} over n elements of a quantized row starting at byte {@code at}, decoding in
     * registers: the weights go from memory to the FMA units without a trip through scratch, which is what a
     * single token's GEMV needs (every weight used once). Sums per (sub-)block first, then scaled once: the
     * fp32 rounding differs from decoding first, within the linear tolerance.
     */
    static float dot(DType type, byte[] w, int at, float[] x, int xOff, int n, float[] xSums) {
        return switch (type) {
            case Q8_0 -> dotQ8_0(w, at, x, xOff, n);
            case Q4_0 -> dotQ4_0(w, at, x, xOff, n, xSums);
            case Q4_K -> dotQK(w, at, x, xOff, n, xSums, false);
            case Q5_K -> dotQK(w, at, x, xOff, n, xSums, true);
            case Q6_K -> dotQ6_K(w, at, x, xOff, n);
            default -> throw new IllegalArgumentException("no fused dot for " + type);
        };
    }

    /**
     * Two blocks per iteration into two accumulators: with one, every block's scaled add waited for the
     * previous one (FMA latency), which bounded the kernel at a third of its throughput.
     */
    private static float dotQ8_0(byte[] w, int p, float[] x, int xo, int n) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = acc0;
        int b = 0;
        for (; b + 64 <= n; b += 64, p += 68) {
            acc0 = q8block(w, p, x, xo + b).fma(FloatVector.broadcast(F, half(w, p)), acc0);
            acc1 = q8block(w, p + 34, x, xo + b + 32).fma(FloatVector.broadcast(F, half(w, p + 34)), acc1);
        }
        if (b < n) {
            acc0 = q8block(w, p, x, xo + b).fma(FloatVector.broadcast(F, half(w, p)), acc0);
        }
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD);
    }

    /** Σ q·x over one Q8_0 block, lane-wise. */
    private static FloatVector q8block(byte[] w, int p, float[] x, int xo) {
        FloatVector sum = widen(ByteVector.fromArray(B, w, p + 2)).mul(FloatVector.fromArray(F, x, xo));
        for (int i = L; i < 32; i += L) {
            sum = widen(ByteVector.fromArray(B, w, p + 2 + i)).fma(FloatVector.fromArray(F, x, xo + i), sum);
        }
        return sum;
    }

    /** Q4_0: Σ d·(q − 8)·x = d·(Σ q·x − 8·Σ x) per block, Σ x from {@code xSums}. */
    private static float dotQ4_0(byte[] w, int p, float[] x, int xo, int n, float[] xSums) {
        FloatVector acc = FloatVector.zero(F), accB = acc;
        float offsets = 0;
        for (int b = 0; b < n; b += 32, p += 18) {
            float d = half(w, p);
            FloatVector s1 = FloatVector.zero(F), s2 = s1;
            for (int i = 0; i < 16; i += L) {
                ByteVector v = ByteVector.fromArray(B, w, p + 2 + i);
                s1 = widen(v.and((byte) 0x0F)).fma(FloatVector.fromArray(F, x, xo + b + i), s1);
                s2 = widen(v.lanewise(VectorOperators.LSHR, 4).and((byte) 0x0F))
                        .fma(FloatVector.fromArray(F, x, xo + b + 16 + i), s2);
            }
            acc = s1.fma(FloatVector.broadcast(F, d), acc);
            accB = s2.fma(FloatVector.broadcast(F, d), accB);
            offsets += 8 * d * xSums[b >> 5];
        }
        return acc.add(accB).reduceLanes(VectorOperators.ADD) - offsets;
    }

    /**
     * Q4_K (or Q5_K when {@code fifth}): Σ (d·sc·q − dmin·m)·x = d·sc·Σ q·x − dmin·m·Σ x per sub-block of 32,
     * with Σ x per sub-block given ({@code xSums}, the same for every row): only the quants go through the
     * vector units.
     */
    private static float dotQK(byte[] w, int p, float[] x, int xo, int n, float[] xSums, boolean fifth) {
        FloatVector acc = FloatVector.zero(F), accB = acc;
        float mins = 0;
        int blockBytes = fifth ? 176 : 144;
        for (int b = 0; b < n; b += 256, p += blockBytes) {
            float d = half(w, p);
            float min = half(w, p + 2);
            int scales = p + 4;
            int qh = p + 16;
            int q = fifth ? p + 48 : p + 16;
            float blockMins = 0;
            for (int j = 0; j < 4; j++) {
                int sm1 = scaleMin(w, scales, 2 * j);
                int sm2 = scaleMin(w, scales, 2 * j + 1);
                FloatVector s1 = FloatVector.zero(F), s2 = s1;
                int xa = xo + b + 64 * j;
                for (int l = 0; l < 32; l += L) {
                    ByteVector v = ByteVector.fromArray(B, w, q + 32 * j + l);
                    ByteVector lo = v.and((byte) 0x0F);
                    ByteVector hi = v.lanewise(VectorOperators.LSHR, 4).and((byte) 0x0F);
                    if (fifth) { // Q5_K: bit 2j (low half) and 2j+1 (high half) of qh[l] add 16
                        ByteVector h = ByteVector.fromArray(B, w, qh + l);
                        lo = lo.or(h.lanewise(VectorOperators.LSHR, 2 * j).and((byte) 1).lanewise(VectorOperators.LSHL, 4));
                        hi = hi.or(h.lanewise(VectorOperators.LSHR, 2 * j + 1).and((byte) 1)
                                .lanewise(VectorOperators.LSHL, 4));
                    }
                    s1 = widen(lo).fma(FloatVector.fromArray(F, x, xa + l), s1);
                    s2 = widen(hi).fma(FloatVector.fromArray(F, x, xa + 32 + l), s2);
                }
                // two accumulators: independent FMA chains instead of one waiting on the last
                acc = s1.fma(FloatVector.broadcast(F, d * (sm1 & 0xFF)), acc);
                accB = s2.fma(FloatVector.broadcast(F, d * (sm2 & 0xFF)), accB);
                int sub = (b >> 5) + 2 * j;
                blockMins += (sm1 >> 8) * xSums[sub] + (sm2 >> 8) * xSums[sub + 1];
            }
            mins += min * blockMins;
        }
        return acc.add(accB).reduceLanes(VectorOperators.ADD) - mins;
    }

    /**
     * A quarter at a time, as {@link #q6_k} decodes, with two accumulators taking alternate vectors (two FMA
     * chains); interleaving the four quarters in one body made C2 spill and ran 2-3x slower.
     */
    private static float dotQ6_K(byte[] w, int p, float[] x, int xo, int n) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0;
        for (int b = 0; b < n; b += 256, p += 210) {
            float d = half(w, p + 208);
            for (int h = 0; h < 2; h++) {
                int ql = p + 64 * h;
                int qh = p + 128 + 32 * h;
                int sc = p + 192 + 8 * h;
                int xa = xo + b + 128 * h;
                for (int k = 0; k < 4; k++) {
                    for (int l = 0; l < 32; l += 2 * L) {
                        a0 = q6dot(w, ql, qh, k, l, x, xa).fma(FloatVector.broadcast(F, d * w[sc + 2 * k + l / 16]), a0);
                        a1 = q6dot(w, ql, qh, k, l + L, x, xa)
                                .fma(FloatVector.broadcast(F, d * w[sc + 2 * k + (l + L) / 16]), a1);
                    }
                }
            }
        }
        return a0.add(a1).reduceLanes(VectorOperators.ADD);
    }

    private static FloatVector q6dot(byte[] w, int ql, int qh, int k, int l, float[] x, int xa) {
        return widen(q6(w, ql, qh, k, l)).mul(FloatVector.fromArray(F, x, xa + 32 * k + l));
    }
}
