package io.attnrt.backend.host;

import io.attnrt.backend.Backend;
import io.attnrt.tensor.DType;
import io.attnrt.tensor.HalfFloats;
import io.attnrt.tensor.Quant;
import io.attnrt.backend.Tensor;

/**
 * A tensor in Java heap memory: F32 in a {@code float[]}, F16/BF16 as raw bits in a {@code short[]}, a
 * block-quantized weight as its raw blocks in a {@code byte[]} (rows are whole blocks).
 * Shared by the CPU backends; only their package code touches the arrays.
 */
public final class HostTensor extends Tensor {
    private float[] f32;
    private short[] bits16;
    private byte[] blocks;

    HostTensor(Backend backend, DType dtype, int... shape) {
        super(backend, dtype, shape);
        long n = numel();
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("tensor of " + n + " elements is too large for host memory "
                    + java.util.Arrays.toString(shape));
        }
        if (dtype.isQuantized()) {
            int row = shape[shape.length - 1];
            if (row % dtype.blockSize() != 0) {
                throw new IllegalArgumentException(dtype + " stores rows as blocks of " + dtype.blockSize()
                        + " elements; a row of " + row + " " + java.util.Arrays.toString(shape) + " is not whole blocks");
            }
            long bytes = dtype.bytesFor(n);
            if (bytes > Integer.MAX_VALUE - 8) {
                throw new IllegalArgumentException("tensor of " + bytes + " bytes is too large for host memory "
                        + java.util.Arrays.toString(shape));
            }
            blocks = new byte[(int) bytes];
        } else if (dtype == DType.F32) {
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

    /** The raw blocks of a quantized tensor (the live array). */
    public byte[] blocks() {
        if (blocks == null) {
            throw new IllegalStateException(isFreed() ? "tensor " + describe() + " was freed"
                    : "tensor " + describe() + " is not block-quantized");
        }
        return blocks;
    }

    /** Element {@code i} as float, whatever the dtype (a quantized one decodes its whole block). */
    public float get(int i) {
        return switch (dtype()) {
            case F32 -> f32[i];
            case F16 -> HalfFloats.f16ToFloat(bits16[i]);
            case BF16 -> HalfFloats.bf16ToFloat(bits16[i]);
            default -> {
                float[] block = new float[dtype().blockSize()];
                int b = i / dtype().blockSize();
                Quant.dequantize(dtype(), blocks, b * dtype().blockBytes(), block, 0, block.length);
                yield block[i % dtype().blockSize()];
            }
        };
    }

    /** Stores {@code value} at {@code i}, rounded to the dtype. */
    public void set(int i, float value) {
        switch (dtype()) {
            case F32 -> f32[i] = value;
            case F16 -> bits16[i] = HalfFloats.floatToF16(value);
            case BF16 -> bits16[i] = HalfFloats.floatToBf16(value);
            default -> throw new UnsupportedOperationException(describe() + ": attnrt does not quantize; a "
                    + dtype() + " tensor is only read");
        }
    }

    /**
     * Copies {@code length} elements starting at {@code offset} into {@code dst} as floats; for a quantized
     * tensor offset and length must be whole blocks.
     */
    public void getRow(int offset, float[] dst, int dstOffset, int length) {
        if (blocks != null) {
            DType t = dtype();
            if (offset % t.blockSize() != 0) {
                throw new IllegalArgumentException(describe() + ": offset " + offset + " is inside a " + t + " block");
            }
            Quant.dequantize(t, blocks, offset / t.blockSize() * t.blockBytes(), dst, dstOffset, length);
        } else if (f32 != null) {
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
        blocks = null;
        markFreed();
    }
}
