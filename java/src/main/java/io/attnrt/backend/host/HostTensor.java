package io.attnrt.backend.host;

import io.attnrt.backend.Backend;
import io.attnrt.tensor.DType;
import io.attnrt.tensor.HalfFloats;
import io.attnrt.backend.Tensor;

/**
 * A tensor in Java heap memory: F32 in a {@code float[]}, F16/BF16 as raw bits in a {@code short[]}.
 * Shared by the CPU backends; only their package code touches the arrays.
 */
public final class HostTensor extends Tensor {
    private float[] f32;
    private short[] bits16;

    HostTensor(Backend backend, DType dtype, int... shape) {
        super(backend, dtype, shape);
        long n = numel();
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("tensor of " + n + " elements is too large for host memory "
                    + java.util.Arrays.toString(shape));
        }
        if (dtype == DType.F32) {
            f32 = new float[(int) n];
        } else {
            bits16 = new short[(int) n];
        }
    }

    /** The F32 elements (the live array, not a copy). */
    public float[] f32() {
        if (f32 == null) {
            throw new IllegalStateException(isFreed() ? "tensor " + describe() + " was freed"
                    : "tensor " + describe() + " is not F32");
        }
        return f32;
    }

    /** The raw 16-bit elements of an F16/BF16 tensor (the live array). */
    public short[] bits16() {
        if (bits16 == null) {
            throw new IllegalStateException(isFreed() ? "tensor " + describe() + " was freed"
                    : "tensor " + describe() + " is not 16-bit");
        }
        return bits16;
    }

    /** Element {@code i} as float, whatever the dtype. */
    public float get(int i) {
        return switch (dtype()) {
            case F32 -> f32[i];
            case F16 -> HalfFloats.f16ToFloat(bits16[i]);
            case BF16 -> HalfFloats.bf16ToFloat(bits16[i]);
        };
    }

    /** Stores {@code value} at {@code i}, rounded to the dtype. */
    public void set(int i, float value) {
        switch (dtype()) {
            case F32 -> f32[i] = value;
            case F16 -> bits16[i] = HalfFloats.floatToF16(value);
            case BF16 -> bits16[i] = HalfFloats.floatToBf16(value);
        }
    }

    /** Copies {@code length} elements starting at {@code offset} into {@code dst} as floats. */
    public void getRow(int offset, float[] dst, int dstOffset, int length) {
        if (f32 != null) {
            System.arraycopy(f32, offset, dst, dstOffset, length);
        } else if (dtype() == DType.BF16) {
            for (int i = 0; i < length; i++) {
                dst[dstOffset + i] = HalfFloats.bf16ToFloat(bits16[offset + i]);
            }
        } else {
            for (int i = 0; i < length; i++) {
                dst[dstOffset + i] = HalfFloats.f16ToFloat(bits16[offset + i]);
            }
        }
    }

    void release() {
        f32 = null;
        bits16 = null;
        markFreed();
    }
}
