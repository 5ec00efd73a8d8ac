package io.attnrt.backend.host;

import io.attnrt.backend.Backend;
import io.attnrt.backend.OpChecks;
import io.attnrt.tensor.DType;
import io.attnrt.tensor.HalfFloats;
import io.attnrt.backend.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;

/** Tensor memory management shared by the backends that keep tensors on the Java heap. */
public abstract class HostMemoryBackend implements Backend {
    private final AtomicLong bytesInUse = new AtomicLong();

    @Override
    public Tensor allocate(DType dtype, int... shape) {
        HostTensor t = new HostTensor(this, dtype, shape);
        bytesInUse.addAndGet(t.byteSize());
        return t;
    }

    @Override
    public Tensor upload(float[] data, DType dtype, int... shape) {
        OpChecks.floatValuesInto("upload as " + dtype, dtype);
        HostTensor t = (HostTensor) allocate(dtype, shape);
        if (data.length != t.numel()) {
            free(t);
            throw new IllegalArgumentException("upload of " + data.length + " values into shape "
                    + Arrays.toString(shape) + " (" + t.numel() + " elements)");
        }
        fill(t, data);
        return t;
    }

    @Override
    public Tensor uploadRaw(ByteBuffer littleEndian, DType dtype, int... shape) {
        HostTensor t = (HostTensor) allocate(dtype, shape);
        long need = t.byteSize();
        if (littleEndian.remaining() < need) {
            free(t);
            throw new IllegalArgumentException("raw upload of shape " + Arrays.toString(shape) + " " + dtype
                    + " needs " + need + " bytes, buffer has " + littleEndian.remaining());
        }
        ByteBuffer src = littleEndian.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        if (dtype.isQuantized()) {
            src.get(t.blocks());
        } else if (dtype == DType.F32) {
            src.asFloatBuffer().get(t.f32(), 0, (int) t.numel());
        } else {
            src.asShortBuffer().get(t.bits16(), 0, (int) t.numel());
        }
        return t;
    }

    @Override
    public float[] download(Tensor t) {
        HostTensor h = own(t, "download");
        float[] out = new float[(int) h.numel()];
        h.getRow(0, out, 0, out.length);
        return out;
    }

    @Override
    public void write(Tensor dst, float[] data) {
        HostTensor h = own(dst, "write");
        if (data.length != h.numel()) {
            throw new IllegalArgumentException("write of " + data.length + " values into " + h.describe());
        }
        fill(h, data);
    }

    private static void fill(HostTensor t, float[] data) {
        OpChecks.floatValuesInto(t.describe(), t.dtype());
        if (t.dtype() == DType.F32) {
            System.arraycopy(data, 0, t.f32(), 0, data.length);
        } else if (t.dtype() == DType.BF16) {
            short[] b = t.bits16();
            for (int i = 0; i < data.length; i++) {
                b[i] = HalfFloats.floatToBf16(data[i]);
            }
        } else {
            short[] b = t.bits16();
            for (int i = 0; i < data.length; i++) {
                b[i] = HalfFloats.floatToF16(data[i]);
            }
        }
    }

    @Override
    public void free(Tensor t) {
        if (t.isFreed()) {
            return;
        }
        HostTensor h = own(t, "free");
        bytesInUse.addAndGet(-h.byteSize());
        h.release();
    }

    @Override
    public long bytesInUse() {
        return bytesInUse.get();
    }

    @Override
    public void close() {
    }

    /** The tensor as this backend's host tensor, or a clear error if it belongs elsewhere or was freed. */
    protected final HostTensor own(Tensor t, String what) {
        if (t == null) {
            throw new IllegalArgumentException(what + ": tensor is null");
        }
        if (t.backend() != this || !(t instanceof HostTensor h)) {
            throw new IllegalArgumentException(what + ": tensor " + t.describe() + " belongs to backend '"
                    + t.backend().name() + "', not to this '" + name() + "' backend");
        }
        if (h.isFreed()) {
            throw new IllegalArgumentException(what + ": tensor " + t.describe() + " was freed");
        }
        return h;
    }
}
