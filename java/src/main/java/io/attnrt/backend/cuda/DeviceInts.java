package io.attnrt.backend.cuda;

import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;

import java.util.Arrays;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;

/**
 * Index metadata (token ids, positions, slots, block tables, sequence starts) on the device. Every layer
 * of a step passes the same host arrays, so each array is copied up once per step and then found again:
 * an entry is reused while its host array is the same object with the same contents. Copies are
 * synchronous on the null stream, which orders them after every kernel already queued that may still
 * read the buffer being overwritten.
 */
final class DeviceInts implements AutoCloseable {
    private static final int ENTRIES = 16;

    private final int[][] hostRef = new int[ENTRIES][];
    private final int[][] contents = new int[ENTRIES][];
    private final CUdeviceptr[] device = new CUdeviceptr[ENTRIES];
    private final long[] capacity = new long[ENTRIES];
    private final long[] lastUse = new long[ENTRIES];
    private long clock;

    /** A device copy of {@code values}, valid until {@link #ENTRIES} other arrays have been asked for. */
    CUdeviceptr of(int[] values) {
        clock++;
        for (int i = 0; i < ENTRIES; i++) {
            if (hostRef[i] == values && Arrays.equals(contents[i], values)) {
                lastUse[i] = clock;
                return device[i];
            }
        }
        int victim = 0;
        for (int i = 1; i < ENTRIES; i++) {
            if (lastUse[i] < lastUse[victim]) {
                victim = i;
            }
        }
        long bytes = Math.max(4L, 4L * values.length);
        if (capacity[victim] < bytes) {
            if (device[victim] != null) {
                cuMemFree(device[victim]);
            }
            long grown = Math.max(bytes, 2 * capacity[victim]);
            device[victim] = new CUdeviceptr();
            cuMemAlloc(device[victim], grown);
            capacity[victim] = grown;
        }
        if (values.length > 0) {
            cuMemcpyHtoD(device[victim], Pointer.to(values), 4L * values.length);
        }
        hostRef[victim] = values;
        contents[victim] = values.clone();
        lastUse[victim] = clock;
        return device[victim];
    }

    @Override
    public void close() {
        for (int i = 0; i < ENTRIES; i++) {
            if (device[i] != null) {
                cuMemFree(device[i]);
                device[i] = null;
            }
        }
    }
}
