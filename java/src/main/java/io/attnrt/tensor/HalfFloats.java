package io.attnrt.tensor;

/** Bit-exact conversions between float and the 16-bit IEEE half and bfloat16 formats (round to nearest even). */
public final class HalfFloats {
    private HalfFloats() {
    }

    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xffff) << 16);
    }

    public static short floatToBf16(float f) {
        int x = Float.floatToRawIntBits(f);
        if ((x & 0x7fffffff) > 0x7f800000) {
            return (short) ((x >>> 16) | 0x40); // quiet NaN, sign kept
        }
        int roundingBias = 0x7fff + ((x >>> 16) & 1);
        return (short) ((x + roundingBias) >>> 16);
    }

    public static float f16ToFloat(short half) {
        int h = half & 0xffff;
        int sign = (h & 0x8000) << 16;
        int exp = (h >>> 10) & 0x1f;
        int mant = h & 0x3ff;
        if (exp == 0x1f) {
            return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
        }
        if (exp == 0) {
            if (mant == 0) {
                return Float.intBitsToFloat(sign);
            }
            // subnormal half: mant · 2^-24
            float v = mant * 0x1p-24f;
            return sign == 0 ? v : -v;
        }
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }

    public static short floatToF16(float f) {
        int x = Float.floatToRawIntBits(f);
        int sign = (x >>> 16) & 0x8000;
        int abs = x & 0x7fffffff;
        if (abs >= 0x7f800000) { // inf or NaN
            return (short) (sign | 0x7c00 | (abs > 0x7f800000 ? 0x200 : 0));
        }
        if (abs >= 0x477ff000) { // rounds to >= 65520: overflow to inf
            return (short) (sign | 0x7c00);
        }
        if (abs < 0x38800000) { // below the smallest normal half: subnormal or zero
            float v = Float.intBitsToFloat(abs) * 0x1p24f; // in units of 2^-24
            int m = Math.round(v); // ties away; fix to even below
            if (Math.abs(v - (int) v - 0.5f) == 0f && (m & 1) == 1) {
                m -= 1;
            }
            return (short) (sign | m);
        }
        int exp = ((abs >>> 23) - 112) << 10;
        int mant = abs & 0x7fffff;
        int half = exp | (mant >>> 13);
        int rest = mant & 0x1fff;
        if (rest > 0x1000 || (rest == 0x1000 && (half & 1) == 1)) {
            half++;
        }
        return (short) (sign | half);
    }

    /** The value {@code f} becomes after a round trip through {@code dtype}. */
    public static float roundTo(DType dtype, float f) {
        return switch (dtype) {
            case F32 -> f;
            case F16 -> f16ToFloat(floatToF16(f));
            case BF16 -> bf16ToFloat(floatToBf16(f));
            default -> throw new IllegalArgumentException(dtype + " is block-quantized: no element-wise rounding");
        };
    }
}
