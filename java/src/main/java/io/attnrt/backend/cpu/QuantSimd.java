package io.attnrt.backend.cpu;

import io.attnrt.tensor.DType;
import io.attnrt.tensor.HalfFloats;
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
    /** As many byte lanes as float lanes: one load widens into one float vector. */
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(L * 8));

    private QuantSimd() {
    }

    static boolean supported() {
        return 32 % L == 0 && 16 % L == 0;
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

    private static float half(byte[] s, int p) {
        return HalfFloats.f16ToFloat((short) ((s[p] & 0xFF) | (s[p + 1] << 8)));
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

    private static int scaleMin(byte[] s, int scales, int j) {
        if (j < 4) {
            return (s[scales + j] & 63) | ((s[scales + j + 4] & 63) << 8);
        }
        int sc = (s[scales + j + 4] & 0xF) | (((s[scales + j - 4] & 0xFF) >> 6) << 4);
        int m = ((s[scales + j + 4] & 0xFF) >> 4) | (((s[scales + j] & 0xFF) >> 6) << 4);
        return sc | (m << 8);
    }

    private static void q6_k(byte[] s, int p, float[] y, int o) {
        float d = half(s, p + 208);
        for (int n = 0; n < 2; n++) {
            int ql = p + 64 * n;
            int qh = p + 128 + 32 * n;
            int sc = p + 192 + 8 * n;
            int out = o + 128 * n;
            for (int l = 0; l < 32; l += L) {
                int is = l / 16;
                ByteVector lo0 = ByteVector.fromArray(B, s, ql + l);
                ByteVector lo1 = ByteVector.fromArray(B, s, ql + l + 32);
                ByteVector h = ByteVector.fromArray(B, s, qh + l);
                ByteVector q1 = lo0.and((byte) 0xF).or(h.and((byte) 3).lanewise(VectorOperators.LSHL, 4));
                ByteVector q2 = lo1.and((byte) 0xF).or(h.lanewise(VectorOperators.LSHR, 2).and((byte) 3)
                        .lanewise(VectorOperators.LSHL, 4));
                ByteVector q3 = lo0.lanewise(VectorOperators.LSHR, 4).and((byte) 0xF)
                        .or(h.lanewise(VectorOperators.LSHR, 4).and((byte) 3).lanewise(VectorOperators.LSHL, 4));
                ByteVector q4 = lo1.lanewise(VectorOperators.LSHR, 4).and((byte) 0xF)
                        .or(h.lanewise(VectorOperators.LSHR, 6).and((byte) 3).lanewise(VectorOperators.LSHL, 4));
                widen(q1.sub((byte) 32)).mul(d * s[sc + is]).intoArray(y, out + l);
                widen(q2.sub((byte) 32)).mul(d * s[sc + is + 2]).intoArray(y, out + l + 32);
                widen(q3.sub((byte) 32)).mul(d * s[sc + is + 4]).intoArray(y, out + l + 64);
                widen(q4.sub((byte) 32)).mul(d * s[sc + is + 6]).intoArray(y, out + l + 96);
            }
        }
    }
}
