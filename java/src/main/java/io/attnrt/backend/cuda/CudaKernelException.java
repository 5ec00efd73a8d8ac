package io.attnrt.backend.cuda;

/** A CUDA call or kernel launch failed; the message names the kernel, its launch shape and the CUDA error. */
public final class CudaKernelException extends RuntimeException {
    public CudaKernelException(String message) {
        super(message);
    }
}
