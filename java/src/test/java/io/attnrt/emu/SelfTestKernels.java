package io.attnrt.emu;

import static jcuda.driver.JCudaDriver.cuCtxSynchronize;
import static jcuda.driver.JCudaDriver.cuLaunchKernel;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import jcuda.Pointer;
import jcuda.Sizeof;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;

/**
 * Device buffers and launches for the tests of the self-test kernels ({@code cuda/selftest}, PTX resources
 * {@code ptx-selftest/NAME.ptx}). Every buffer made through one instance is freed by {@link #close()}.
 */
final class SelfTestKernels implements AutoCloseable {
    private final List<CUdeviceptr> allocations = new ArrayList<>();

    CUdeviceptr alloc(long bytes) {
        CUdeviceptr p = new CUdeviceptr();
        cuMemAlloc(p, bytes);
        allocations.add(p);
        return p;
    }

    CUdeviceptr upload(float[] values) {
        CUdeviceptr p = alloc((long) values.length * Sizeof.FLOAT);
        cuMemcpyHtoD(p, Pointer.to(values), (long) values.length * Sizeof.FLOAT);
        return p;
    }

    CUdeviceptr upload(short[] values) {
        CUdeviceptr p = alloc((long) values.length * Sizeof.SHORT);
        cuMemcpyHtoD(p, Pointer.to(values), (long) values.length * Sizeof.SHORT);
        return p;
    }

    CUdeviceptr upload(int[] values) {
        CUdeviceptr p = alloc((long) values.length * Sizeof.INT);
        cuMemcpyHtoD(p, Pointer.to(values), (long) values.length * Sizeof.INT);
        return p;
    }

    /** A device buffer of n floats, all {@code value}: a result never written keeps this sentinel. */
    CUdeviceptr filled(int n, float value) {
        float[] host = new float[n];
        java.util.Arrays.fill(host, value);
        return upload(host);
    }

    static float[] floats(CUdeviceptr p, int n) {
        float[] host = new float[n];
        cuMemcpyDtoH(Pointer.to(host), p, (long) n * Sizeof.FLOAT);
        return host;
    }

    static int[] ints(CUdeviceptr p, int n) {
        int[] host = new int[n];
        cuMemcpyDtoH(Pointer.to(host), p, (long) n * Sizeof.INT);
        return host;
    }

    /**
     * cuLaunchKernel with kernelParams built from {@code args} (CUdeviceptr or Integer, in the kernel's
     * parameter order), then waits for the grid.
     */
    static void launch(CUfunction f, int[] grid, int[] block, int dynamicSmem, Object... args) {
        Pointer[] params = new Pointer[args.length];
        for (int i = 0; i < args.length; i++) {
            if (args[i] instanceof CUdeviceptr p) {
                params[i] = Pointer.to(p);
            } else if (args[i] instanceof Integer v) {
                params[i] = Pointer.to(new int[] {v});
            } else {
                throw new IllegalArgumentException("kernel argument " + i + " is a " + args[i].getClass()
                        + ", expected CUdeviceptr or Integer");
            }
        }
        cuLaunchKernel(f, grid[0], grid[1], 1, block[0], block[1], 1, dynamicSmem, null, Pointer.to(params), null);
        cuCtxSynchronize();
    }

    static int[] dims(int x) {
        return new int[] {x, 1};
    }

    static int[] dims(int x, int y) {
        return new int[] {x, y};
    }

    static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }

    /** Uniform in [-1, 1) without exact zeros, so a result that was never written cannot pass as a sum. */
    static float[] randomFloats(Random random, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            float x;
            do {
                x = random.nextFloat() * 2 - 1;
            } while (x == 0f);
            v[i] = x;
        }
        return v;
    }

    @Override
    public void close() {
        for (CUdeviceptr p : allocations) {
            cuMemFree(p);
        }
        allocations.clear();
    }
}
