package io.attnrt.backend.cuda;

import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;

import jcuda.driver.CUdeviceptr;

/**
 * A scratch device buffer that grows to the largest size asked for and is then reused (split-KV partials,
 * sampling scratch, converted weights). Kernels on the null stream run in order, so one user at a time.
 */
final class Workspace implements AutoCloseable {
    private CUdeviceptr ptr;
    private long capacity;

    CUdeviceptr get(long bytes) {
        if (bytes > capacity) {
            if (ptr != null) {
                cuMemFree(ptr);
            }
            long grown = Math.max(bytes, capacity + capacity / 2);
            ptr = new CUdeviceptr();
            cuMemAlloc(ptr, grown);
            capacity = grown;
        }
        if (ptr == null) {
            ptr = new CUdeviceptr();
            cuMemAlloc(ptr, 256);
            capacity = 256;
        }
        return ptr;
    }

    long capacity() {
        return capacity;
    }

    @Override
    public void close() {
        if (ptr != null) {
            cuMemFree(ptr);
            ptr = null;
            capacity = 0;
        }
    }
}
