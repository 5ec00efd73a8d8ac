package io.attnrt.tensor;

import java.nio.ByteBuffer;

/**
 * llama.cpp's block-quantized weight formats ({@code ggml-common.h}): decoding, exactly as ggml's
 * {@code dequantize_row_*} computes it in float32, operation by operation, so a decoded weight is
 * bit-identical to llama.cpp's. The backends' quantized dot products are checked against this.
 *
 * <p>Block layouts, little-endian, {@code half} = IEEE binary16:
 * <pre>
 *  Q8_0  34 B / 32:  half d | int8 qs[32]                        x[i] = d·qs[i]
 *  Q4_0  18 B / 32:  half d | u8 qs[16]                          x[i] = d·((qs[i] &amp; 15) − 8), x[i+16] = d·((qs[i] &gt;&gt; 4) − 8)
 *  Q4_K 144 B / 256: half d | half dmin | u8 scales[12] | u8 qs[128]
 *                    8 sub-blocks of 32, each with a 6-bit scale sc and min m packed in scales[12];
 *                    sub-blocks 2j, 2j+1 share qs[32j..32j+31] (low, high nibbles): x = d·sc·q − dmin·m
 *  Q5_K 176 B / 256: half d | half dmin | u8 scales[12] | u8 qh[32] | u8 qs[128]
 *                    as Q4_K, the 5th bit of element l of sub-block s is bit s of qh[l]
 *  Q6_K 210 B / 256: u8 ql[128] | u8 qh[64] | int8 scales[16] | half d
 *                    16 sub-blocks of 16; two halves of 128, each: ql[64] low nibbles, qh[32] 2-bit highs;
 *                    x = d·scale·(q − 32)
 * </pre>
 */
public final class Quant {
    private Quant() {
    }

    /**
     * Decodes {@code n} elements (whole blocks) of {@code type} from {@code src} starting at byte {@code at}
     * into {@code dst[dstOff..]}.
     */
    public static void dequantize(DType type, byte[] src, int at, float[] dst, int dstOff, int n) {
        if (n % type.blockSize() != 0) {
            throw new IllegalArgumentException(n + " elements are not whole " + type + " blocks");
        }
        int blocks = n / type.blockSize();
        for (int b = 0; b < blocks; b++) {
            int o = dstOff + b * type.blockSize();
            int p = at + b * type.blockBytes();
            switch (type) {
                case Q8_0 -> q8_0(src, p, dst, o);
                case Q4_0 -> q4_0(src, p, dst, o);
                case Q4_K -> qk(src, p, dst, o, false);
                case Q5_K -> qk(src, p, dst, o, true);
                case Q6_K -> q6_k(src, p, dst, o);
                default -> throw new IllegalArgumentException(type + " is not a quantized type");
            }
        }
    }

    /** {@link #dequantize(DType, byte[], int, float[], int, int)} from a buffer's absolute byte offset. */
    public static void dequantize(DType type, ByteBuffer src, long at, float[] dst, int dstOff, int n) {
        byte[] row = new byte[(int) type.bytesFor(n)];
        src.get(Math.toIntExact(at), row);
        dequantize(type, row, 0, dst, dstOff, n);
    }

    /**
     * Elements of {@code data} (whole blocks of {@code type}, from its position) that decode to NaN or ±Inf: every
     * element of a block whose f16 scale (or Q4_K/Q5_K min scale) is non-finite, the quants being integers.
     */
    public static long countNonFinite(DType type, ByteBuffer data) {
        int[] scaleOffsets = switch (type) {
            case Q8_0, Q4_0 -> new int[] {0};
            case Q4_K, Q5_K -> new int[] {0, 2};
            case Q6_K -> new int[] {208};
            default -> throw new IllegalArgumentException(type + " is not a quantized type");
        };
        long n = 0;
        int start = data.position();
        int blocks = data.remaining() / type.blockBytes();
        for (int b = 0; b < blocks; b++) {
            int p = start + b * type.blockBytes();
            for (int off : scaleOffsets) {
                int bits = (data.get(p + off) & 0xFF) | ((data.get(p + off + 1) & 0xFF) << 8);
                if ((bits & 0x7C00) == 0x7C00) {
                    n += type.blockSize();
                    break;
                }
            }
        }
        return n;
    }

    /**
     * Every IEEE half as float: a block's scale is one load instead of the branchy conversion (JDK 17 has no
     * intrinsic for it), as ggml's table does on CPUs without F16C.
     */
    private static final float[] HALVES = new float[1 << 16];

    static {
        for (int h = 0; h < HALVES.length; h++) {
            HALVES[h] = HalfFloats.f16ToFloat((short) h);
        }
    }

    /** The IEEE half at byte p (little-endian) as float. */
    public static float half(byte[] s, int p) {
        return HALVES[(s[p] & 0xFF) | ((s[p + 1] & 0xFF) << 8)];
    }

    private static void q8_0(byte[] s, int p, float[] y, int o) {
        float d = half(s, p);
        for (int i = 0; i < 32; i++) {
            y[o + i] = s[p + 2 + i] * d;
        }
    }

    private static void q4_0(byte[] s, int p, float[] y, int o) {
        float d = half(s, p);
        for (int j = 0; j < 16; j++) {
            int q = s[p + 2 + j] & 0xFF;
            y[o + j] = ((q & 0x0F) - 8) * d;
            y[o + j + 16] = ((q >> 4) - 8) * d;
        }
    }

    /** ggml's get_scale_min_k4: the 6-bit scale (low 8 bits of the result) and min (next 8) of sub-block j. */
    public static int scaleMin(byte[] s, int scales, int j) {
        int sc;
        int m;
        if (j < 4) {
            sc = s[scales + j] & 63;
            m = s[scales + j + 4] & 63;
        } else {
            sc = (s[scales + j + 4] & 0xF) | (((s[scales + j - 4] & 0xFF) >> 6) << 4);
            m = ((s[scales + j + 4] & 0xFF) >> 4) | (((s[scales + j] & 0xFF) >> 6) << 4);
        }
        return sc | (m << 8);
    }

    /** Q4_K, or Q5_K when {@code fifth}: the same scales and mins, Q5_K adds bit (2j or 2j+1) of qh[l] as 16. */
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
            int u1 = 1 << (2 * j);
            int u2 = 2 << (2 * j);
            for (int l = 0; l < 32; l++) {
                int b = s[ql + 32 * j + l] & 0xFF;
                int h = fifth ? s[qh + l] & 0xFF : 0;
                y[o + 64 * j + l] = d1 * ((b & 0xF) + ((h & u1) != 0 ? 16 : 0)) - m1;
                y[o + 64 * j + 32 + l] = d2 * ((b >> 4) + ((h & u2) != 0 ? 16 : 0)) - m2;
            }
        }
    }

    private static void q6_k(byte[] s, int p, float[] y, int o) {
        float d = half(s, p + 208);
        for (int n = 0; n < 2; n++) {
            int ql = p + 64 * n;
            int qh = p + 128 + 32 * n;
            int sc = p + 192 + 8 * n;
            int out = o + 128 * n;
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int lo0 = s[ql + l] & 0xFF;
                int lo1 = s[ql + l + 32] & 0xFF;
                int h = s[qh + l] & 0xFF;
                int q1 = ((lo0 & 0xF) | ((h & 3) << 4)) - 32;
                int q2 = ((lo1 & 0xF) | (((h >> 2) & 3) << 4)) - 32;
                int q3 = ((lo0 >> 4) | (((h >> 4) & 3) << 4)) - 32;
                int q4 = ((lo1 >> 4) | (((h >> 6) & 3) << 4)) - 32;
                y[out + l] = d * s[sc + is] * q1;
                y[out + l + 32] = d * s[sc + is + 2] * q2;
                y[out + l + 64] = d * s[sc + is + 4] * q3;
                y[out + l + 96] = d * s[sc + is + 6] * q4;
            }
        }
    }

    /**
     * Fills {@code out} with random blocks of {@code type} whose decoded values have mean about 0 and standard
     * deviation about {@code std}: random quants under scales chosen per type (and varied per sub-block), for
     * benchmarks and op tests. Deterministic in {@code seed}.
     */
    public static void fillRandom(DType type, byte[] out, long seed, double std) {
        if (out.length % type.blockBytes() != 0) {
            throw new IllegalArgumentException(out.length + " bytes are not whole " + type + " blocks");
        }
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        for (int p = 0; p < out.length; p += type.blockBytes()) {
            switch (type) {
                case Q8_0 -> { // int8 uniform in [-127, 127]: std ≈ 73.3
                    putHalf(out, p, (float) (std / 73.3 * (0.5 + r.nextDouble())));
                    for (int i = 0; i < 32; i++) {
                        out[p + 2 + i] = (byte) (r.nextInt(255) - 127);
                    }
                }
                case Q4_0 -> { // q − 8 uniform in [-8, 7]: std ≈ 4.6
                    putHalf(out, p, (float) (std / 4.6 * (0.5 + r.nextDouble())));
                    randomBytes(r, out, p + 2, 16);
                }
                case Q4_K, Q5_K -> { // scale = min per sub-block, dmin = d·mid: each sub-block centred on 0
                    double mid = type == DType.Q4_K ? 7.5 : 15.5;
                    double qStd = type == DType.Q4_K ? 4.6 : 9.2;
                    float d = (float) (std / (47 * qStd));
                    putHalf(out, p, d);
                    putHalf(out, p + 2, (float) (d * mid));
                    for (int j = 0; j < 8; j++) {
                        setScaleMin(out, p + 4, j, 32 + r.nextInt(32), -1);
                    }
                    for (int j = 0; j < 8; j++) {
                        setScaleMin(out, p + 4, j, -1, scaleMin(out, p + 4, j) & 0xFF);
                    }
                    randomBytes(r, out, p + 16, type.blockBytes() - 16);
                }
                case Q6_K -> { // |scale| in [16, 127] with random signs, q − 32 in [-32, 31]: std ≈ 18.5
                    randomBytes(r, out, p, 192);
                    for (int j = 0; j < 16; j++) {
                        int sc = 16 + r.nextInt(112);
                        out[p + 192 + j] = (byte) (r.nextBoolean() ? sc : -sc);
                    }
                    putHalf(out, p + 208, (float) (std / (75 * 18.5)));
                }
                default -> throw new IllegalArgumentException(type + " is not a quantized type");
            }
        }
    }

    private static void randomBytes(java.util.SplittableRandom r, byte[] out, int at, int n) {
        for (int i = 0; i < n; i++) {
            out[at + i] = (byte) r.nextInt(256);
        }
    }

    /**
     * Stores a 6-bit scale and/or min (−1 leaves it) of sub-block j in the 12-byte packing get_scale_min_k4
     * reads: sub-blocks 0–3 in the low 6 bits of bytes j and j+4; 4–7 in the nibbles of byte j+4 with their
     * top two bits in the high bits of bytes j−4 (scale) and j (min).
     */
    static void setScaleMin(byte[] s, int scales, int j, int sc, int m) {
        if (j < 4) {
            if (sc >= 0) {
                s[scales + j] = (byte) ((s[scales + j] & 0xC0) | sc);
            }
            if (m >= 0) {
                s[scales + j + 4] = (byte) ((s[scales + j + 4] & 0xC0) | m);
            }
        } else {
            if (sc >= 0) {
                s[scales + j + 4] = (byte) ((s[scales + j + 4] & 0xF0) | (sc & 0xF));
                s[scales + j - 4] = (byte) ((s[scales + j - 4] & 0x3F) | ((sc >> 4) << 6));
            }
            if (m >= 0) {
                s[scales + j + 4] = (byte) ((s[scales + j + 4] & 0x0F) | ((m & 0xF) << 4));
                s[scales + j] = (byte) ((s[scales + j] & 0x3F) | ((m >> 4) << 6));
            }
        }
    }

    private static void putHalf(byte[] s, int p, float v) {
        short h = HalfFloats.floatToF16(v);
        s[p] = (byte) h;
        s[p + 1] = (byte) (h >> 8);
    }
}
