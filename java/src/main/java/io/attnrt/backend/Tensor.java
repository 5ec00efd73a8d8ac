package io.attnrt.backend;

import io.attnrt.tensor.DType;
import java.util.Arrays;

/**
 * A dense row-major tensor owned by one {@link Backend}. Its storage (host arrays, device memory) is
 * opaque to callers: data moves in and out only through {@link Backend#upload} and
 * {@link Backend#download}, so a model written against tensors runs unchanged on any backend.
 *
 * <p>Backends subclass this to attach their storage. Closing a tensor frees it on its backend.
 */
public abstract class Tensor implements AutoCloseable {
    private final Backend backend;
    private final DType dtype;
    private final int[] shape;
    private final long numel;
    private boolean freed;

    protected Tensor(Backend backend, DType dtype, int... shape) {
        if (shape.length == 0) {
            throw new IllegalArgumentException("a tensor needs at least one dimension");
        }
        long n = 1;
        for (int d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            }
            n = Math.multiplyExact(n, d);
        }
        this.backend = backend;
        this.dtype = dtype;
        this.shape = shape.clone();
        this.numel = n;
    }

    public final Backend backend() {
        return backend;
    }

    public final DType dtype() {
        return dtype;
    }

    /** A copy of the shape. */
    public final int[] shape() {
        return shape.clone();
    }

    public final int rank() {
        return shape.length;
    }

    /** Size of dimension {@code i}; negative {@code i} counts from the end. */
    public final int dim(int i) {
        return shape[i < 0 ? shape.length + i : i];
    }

    public final long numel() {
        return numel;
    }

    public final long byteSize() {
        return dtype.bytesFor(numel);
    }

    /** Rows of the tensor seen as a matrix [numel / lastDim, lastDim]. */
    public final int rows() {
        int last = shape[shape.length - 1];
        return last == 0 ? 0 : (int) (numel / last);
    }

    public final boolean isFreed() {
        return freed;
    }

    /** Called by the owning backend when it releases the storage. */
    protected final void markFreed() {
        freed = true;
    }

    @Override
    public void close() {
        if (!freed) {
            backend.free(this);
        }
    }

    public String describe() {
        return dtype + Arrays.toString(shape) + "@" + backend.name();
    }

    @Override
    public String toString() {
        return describe();
    }
}
