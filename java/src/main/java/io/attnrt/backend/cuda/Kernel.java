package io.attnrt.backend.cuda;

import static jcuda.driver.JCudaDriver.cuFuncSetAttribute;
import static jcuda.driver.JCudaDriver.cuLaunchKernel;

import jcuda.NativePointerObject;
import jcuda.Pointer;
import jcuda.driver.CUfunction;
import jcuda.driver.CUfunction_attribute;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.CUdeviceptr;

/**
 * One kernel of a loaded PTX module and the single place kernels are launched: arguments are packed
 * here (device pointers, {@code int}, {@code long} as {@code long long}, {@code float}, {@code double}),
 * dynamic shared memory above 48 KB is opted into once per kernel, and a failed launch becomes a
 * {@link CudaKernelException} naming the kernel, grid, block, shared memory and the CUDA error.
 */
final class Kernel {
    private static final int DEFAULT_SMEM_LIMIT = 48 * 1024;

    final String name;
    private final CUfunction function;
    private final int optInLimit;
    private int smemOptedIn = DEFAULT_SMEM_LIMIT;

    Kernel(String name, CUfunction function, int optInLimit) {
        this.name = name;
        this.function = function;
        this.optInLimit = optInLimit;
    }

    /** A null device pointer argument (an optional output the kernel skips). */
    static final CUdeviceptr NULL = new CUdeviceptr();

    void launch(CUstream stream, int gx, int gy, int gz, int bx, int by, int bz, int smem, Object... args) {
        if (gx <= 0 || gy <= 0 || gz <= 0) {
            return; // an empty grid: nothing to do (CUDA would reject it)
        }
        if (smem > smemOptedIn) {
            if (smem > optInLimit) {
                throw new CudaKernelException(describe(gx, gy, gz, bx, by, bz, smem) + " needs " + smem
                        + " bytes of shared memory but the device allows " + optInLimit);
            }
            check(cuFuncSetAttribute(function, CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                    smem), "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES=" + smem + ")", gx, gy, gz, bx, by, bz, smem);
            smemOptedIn = smem;
        }
        Pointer[] packed = new Pointer[args.length];
        for (int i = 0; i < args.length; i++) {
            packed[i] = pack(args[i], i);
        }
        int status = cuLaunchKernel(function, gx, gy, gz, bx, by, bz, smem, stream, Pointer.to(packed), null);
        check(status, "cuLaunchKernel", gx, gy, gz, bx, by, bz, smem);
    }

    private Pointer pack(Object a, int index) {
        if (a instanceof NativePointerObject p) {
            return Pointer.to(p);
        } else if (a instanceof Integer v) {
            return Pointer.to(new int[] {v});
        } else if (a instanceof Long v) {
            return Pointer.to(new long[] {v});
        } else if (a instanceof Float v) {
            return Pointer.to(new float[] {v});
        } else if (a instanceof Double v) {
            return Pointer.to(new double[] {v});
        } else if (a instanceof Boolean v) {
            return Pointer.to(new int[] {v ? 1 : 0});
        }
        throw new IllegalArgumentException(name + ": argument " + index + " has unsupported type "
                + (a == null ? "null" : a.getClass().getSimpleName()));
    }

    private void check(int status, String call, int gx, int gy, int gz, int bx, int by, int bz, int smem) {
        if (status != CUresult.CUDA_SUCCESS) {
            throw new CudaKernelException(describe(gx, gy, gz, bx, by, bz, smem) + ": " + call + " failed with "
                    + CUresult.stringFor(status));
        }
    }

    private String describe(int gx, int gy, int gz, int bx, int by, int bz, int smem) {
        return "kernel " + name + " grid (" + gx + "," + gy + "," + gz + ") block (" + bx + "," + by + "," + bz
                + ") dynamic smem " + smem + " B";
    }
}
