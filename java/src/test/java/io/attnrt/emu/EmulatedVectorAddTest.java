package io.attnrt.emu;

import static jcuda.driver.JCudaDriver.cuCtxSynchronize;
import static jcuda.driver.JCudaDriver.cuLaunchKernel;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import jcuda.Pointer;
import jcuda.Sizeof;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** cuda/vector_add.cu launched through JCuda's cuLaunchKernel, checked element by element against Java. */
@EmulatedDevice
class EmulatedVectorAddTest {
    private static EmulatedCuda cuda;
    private static CUfunction vectorAdd;

    @BeforeAll
    static void open() {
        cuda = EmulatedCuda.open();
        vectorAdd = cuda.function(cuda.loadPtx("ptx/vector_add.ptx"), "vector_add");
    }

    @AfterAll
    static void close() {
        if (cuda != null) {
            cuda.close();
        }
    }

    @Test
    void addsRandomVectorsOfAnOddLength() {
        // Not a multiple of the block size: the last block has threads past n, which must not write.
        assertVectorAdd(100_003, 256, 7);
    }

    @Test
    void addsWithOneElementPerBlock() {
        assertVectorAdd(37, 1, 11);
    }

    private static void assertVectorAdd(int n, int blockSize, long seed) {
        Random random = new Random(seed);
        float[] a = new float[n];
        float[] b = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) random.nextGaussian() * 100;
            b[i] = (float) random.nextGaussian();
        }
        long bytes = (long) n * Sizeof.FLOAT;
        CUdeviceptr da = new CUdeviceptr();
        CUdeviceptr db = new CUdeviceptr();
        CUdeviceptr dout = new CUdeviceptr();
        cuMemAlloc(da, bytes);
        cuMemAlloc(db, bytes);
        cuMemAlloc(dout, bytes);
        try {
            cuMemcpyHtoD(da, Pointer.to(a), bytes);
            cuMemcpyHtoD(db, Pointer.to(b), bytes);
            Pointer params = Pointer.to(Pointer.to(da), Pointer.to(db), Pointer.to(dout), Pointer.to(new int[] {n}));
            int grid = (n + blockSize - 1) / blockSize;
            cuLaunchKernel(vectorAdd, grid, 1, 1, blockSize, 1, 1, 0, null, params, null);
            cuCtxSynchronize();
            float[] out = new float[n];
            cuMemcpyDtoH(Pointer.to(out), dout, bytes);
            for (int i = 0; i < n; i++) {
                // One IEEE fp32 addition on both sides: bit-identical.
                assertEquals(a[i] + b[i], out[i], 0.0f, "element " + i);
            }
        } finally {
            cuMemFree(da);
            cuMemFree(db);
            cuMemFree(dout);
        }
    }
}
