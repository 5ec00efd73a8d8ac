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
}
