package io.attnrt.emu;

import static jcuda.driver.JCudaDriver.cuCtxSynchronize;
import static jcuda.driver.JCudaDriver.cuFuncSetAttribute;
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
import jcuda.driver.CUfunction_attribute;

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
        launch(f, grid[0], grid[1], 1, block[0], block[1], dynamicSmem, args);
    }

    /**
     * The one launch helper of the kernel tests: cuLaunchKernel, then cuCtxSynchronize (so a fault surfaces at
     * its kernel), with CUdeviceptr / Integer / Long / Float / Double arguments. Dynamic shared memory above
     * 48 KB needs {@link #optIn} first, as on a GPU.
     */
    static void launch(CUfunction f, int gx, int gy, int gz, int bx, int by, int dynamicSmem, Object... args) {
        Pointer[] params = new Pointer[args.length];
        for (int i = 0; i < args.length; i++) {
            Object a = args[i];
            if (a instanceof CUdeviceptr p) {
                params[i] = Pointer.to(p);
            } else if (a instanceof Integer v) {
                params[i] = Pointer.to(new int[] {v});
            } else if (a instanceof Long v) {
                params[i] = Pointer.to(new long[] {v});
            } else if (a instanceof Float v) {
                params[i] = Pointer.to(new float[] {v});
            } else if (a instanceof Double v) {
                params[i] = Pointer.to(new double[] {v});
            } else {
                throw new IllegalArgumentException("kernel argument " + i + " is a "
                        + (a == null ? "null" : a.getClass().getName())
                        + ", expected CUdeviceptr, Integer, Long, Float or Double");
            }
        }
        cuLaunchKernel(f, gx, gy, gz, bx, by, 1, dynamicSmem, null, Pointer.to(params), null);
        cuCtxSynchronize();
    }

    /** The opt-in a launch with more than 48 KB of dynamic shared memory needs. */
    static void optIn(CUfunction f, int dynamicSmem) {
        if (dynamicSmem > 48 * 1024) {
            cuFuncSetAttribute(f, CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, dynamicSmem);
        }
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
