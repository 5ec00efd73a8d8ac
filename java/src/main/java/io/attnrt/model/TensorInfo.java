package io.attnrt.model;

import io.attnrt.tensor.DType;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * One tensor of a safetensors file: its name, element type, shape (row-major; empty for a scalar) and the
 * file that holds it.
 */
public record TensorInfo(String name, DType dtype, int[] shape, Path file) {
    public TensorInfo {
        shape = shape.clone();
    }

    /** A copy of the shape. */
    @Override
    public int[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    public long numel() {
        long n = 1;
        for (int d : shape) {
            n *= d;
        }
        return n;
    }

    public long byteSize() {
        return dtype.bytesFor(numel());
    }

    /** Whether the shape equals {@code expected}. */
    public boolean hasShape(int... expected) {
        return Arrays.equals(shape, expected);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t && name.equals(t.name) && dtype == t.dtype && Arrays.equals(shape, t.shape)
                && file.equals(t.file);
    }

    @Override
    public int hashCode() {
        return (name.hashCode() * 31 + dtype.hashCode()) * 31 + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape) + " in " + file;
    }
}
