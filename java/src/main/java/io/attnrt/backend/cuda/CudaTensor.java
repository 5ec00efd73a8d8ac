package io.attnrt.backend.cuda;

import io.attnrt.backend.Tensor;
import io.attnrt.tensor.DType;
import jcuda.driver.CUdeviceptr;

/** A tensor in device memory: one allocation of exactly {@code byteSize()} bytes. */
final class CudaTensor extends Tensor {
    final CUdeviceptr ptr;

    CudaTensor(CudaBackend backend, DType dtype, CUdeviceptr ptr, int... shape) {
        super(backend, dtype, shape);
        this.ptr = ptr;
    }

    void released() {
        markFreed();
    }

    /** The allocation's device address as a number, for kernels that read pointers from device memory. */
    long address() {
        if (ptr instanceof Address a) {
            return a.value();
        }
        throw new IllegalStateException(describe() + " was not allocated by the cuda backend");
    }

    /** A device pointer whose address can be read (JCuda keeps it in a protected field). */
    static final class Address extends CUdeviceptr {
        long value() {
            return getNativePointer();
        }
    }
}
