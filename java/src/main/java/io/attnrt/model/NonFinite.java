package io.attnrt.model;

import io.attnrt.tensor.DType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.LongBuffer;

/**
 * Counts the NaN and infinite values in a tensor's raw little-endian bytes. A value is non-finite exactly when
 * its exponent bits are all ones, in all three dtypes. The count works on eight bytes at a time (two F32 or
 * four 16-bit values per long), because it runs over every weight of a checkpoint at load.
 */
final class NonFinite {
    private NonFinite() {
    }

    /** The number of NaN or ±Inf values among {@code data}'s remaining bytes (not moved) of {@code dtype}. */
    static long count(ByteBuffer data, DType dtype) {
        if (dtype.isQuantized()) {
            return io.attnrt.tensor.Quant.countNonFinite(dtype, data);
        }
        ByteBuffer b = data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        // per lane: the exponent mask; lanes are whole values, so the lane order inside a long does not matter
        long exp;
        long top;
        long fill;
        switch (dtype) {
            case F32 -> { exp = 0x7f800000_7f800000L; top = 0x80000000_80000000L; fill = 0x7fffffff_7fffffffL; }
            case F16 -> { exp = 0x7c00_7c00_7c00_7c00L; top = 0x8000_8000_8000_8000L; fill = 0x7fff_7fff_7fff_7fffL; }
            case BF16 -> { exp = 0x7f80_7f80_7f80_7f80L; top = 0x8000_8000_8000_8000L; fill = 0x7fff_7fff_7fff_7fffL; }
            default -> throw new IllegalArgumentException("no non-finite count for " + dtype);
        }
        long n = 0;
        LongBuffer longs = b.asLongBuffer();
        while (longs.hasRemaining()) {
            // z lane is 0 exactly when the exponent is all ones; adding fill sets a lane's top bit unless its z is
            // 0, and never carries into the next lane since z ≤ the exponent mask < the top bit
            long z = (longs.get() & exp) ^ exp;
            long finite = (z + fill) & top;
            if (finite != top) {
                n += Long.bitCount(~finite & top);
            }
        }
        int tailStart = b.position() + (b.remaining() & ~7);
        int size = dtype.byteSize();
        for (int i = tailStart; i + size <= b.limit(); i += size) {
            long v = size == 4 ? b.getInt(i) : b.getShort(i);
            long m = exp & (size == 4 ? 0xffffffffL : 0xffffL);
            if ((v & m) == m) {
                n++;
            }
        }
        return n;
    }
}
