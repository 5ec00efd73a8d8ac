package io.attnrt.backend.cuda;

import static jcuda.driver.JCudaDriver.cuCtxCreate;
import static jcuda.driver.JCudaDriver.cuCtxDestroy;
import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDeviceGetAttribute;
import static jcuda.driver.JCudaDriver.cuDeviceGetName;
import static jcuda.driver.JCudaDriver.cuInit;
import static jcuda.driver.JCudaDriver.cuModuleGetFunction;
import static jcuda.driver.JCudaDriver.cuModuleLoadData;
import static jcuda.driver.JCudaDriver.cuModuleUnload;

import io.attnrt.backend.BackendUnavailableException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import jcuda.CudaException;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.JCudaDriver;

/**
 * Device 0, a context on it, and the kernels of every PTX module the jar carries ({@code ptx/index.txt}
 * lists them; the build writes it). Kernels are looked up by name once and cached.
 */
final class CudaDevice implements AutoCloseable {
    final String name;
    final int major;
    final int minor;
    final int smCount;
    final int smemOptIn;
    final long totalMemory;
    final boolean emulated;
    private final CUcontext context;
    private static final Pattern ENTRY = Pattern.compile("\\.entry\\s+([A-Za-z_][A-Za-z0-9_$]*)\\s*\\(");

    private final Map<String, CUmodule> modules = new LinkedHashMap<>();
    /** Which module defines each kernel, from the PTX's {@code .entry} lines: lookups never probe the others. */
    private final Map<String, CUmodule> moduleOfKernel = new HashMap<>();
    private final Map<String, Kernel> kernels = new HashMap<>();
    private boolean closed;

    private CudaDevice(String name, int major, int minor, int smCount, int smemOptIn, long totalMemory,
                       CUcontext context) {
        this.name = name;
        this.major = major;
        this.minor = minor;
        this.smCount = smCount;
        this.smemOptIn = smemOptIn;
        this.totalMemory = totalMemory;
        this.emulated = CudaProbe.EMULATED_DEVICE_NAME.equals(name);
        this.context = context;
    }

    static CudaDevice open() {
        CudaProbe probe = CudaProbe.probe();
        if (!probe.available()) {
            throw new BackendUnavailableException("the cuda backend needs an NVIDIA GPU: " + probe.detail());
        }
        if (probe.major() < 8) {
            throw new BackendUnavailableException("the cuda backend needs compute capability 8.0 or newer "
                    + "(tensor-core bf16 mma, cp.async); found " + probe.detail());
        }
        List<String> names = moduleNames();
        JCudaDriver.setExceptionsEnabled(true);
        try {
            cuInit(0);
            CUdevice device = new CUdevice();
            cuDeviceGet(device, 0);
            byte[] nameBytes = new byte[256];
            cuDeviceGetName(nameBytes, nameBytes.length, device);
            String deviceName = cString(nameBytes);
            int sms = attribute(device, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
            int optIn = attribute(device, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
            long[] total = new long[1];
            JCudaDriver.cuDeviceTotalMem(total, device);
            CUcontext ctx = new CUcontext();
            cuCtxCreate(ctx, 0, device);
            CudaDevice d = new CudaDevice(deviceName, probe.major(), probe.minor(), sms, optIn, total[0], ctx);
            try {
                for (String module : names) {
                    d.load(module);
                }
            } catch (RuntimeException e) {
                d.close();
                throw e;
            }
            return d;
        } catch (CudaException e) {
            throw new BackendUnavailableException("CUDA initialisation failed: " + e.getMessage());
        }
    }

    /** The PTX modules the jar carries, or why there are none. */
    static List<String> moduleNames() {
        try (InputStream in = CudaDevice.class.getClassLoader().getResourceAsStream("ptx/index.txt")) {
            if (in == null) {
                throw new BackendUnavailableException("this attnrt jar carries no PTX kernels (it was built "
                        + "without nvcc): rebuild with the CUDA toolkit installed");
            }
            List<String> names = new ArrayList<>();
            for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                if (!line.isBlank()) {
                    names.add(line.strip());
                }
            }
            return names;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void load(String module) {
        byte[] ptx = readPtx(module);
        CUmodule m = new CUmodule();
        try {
            cuModuleLoadData(m, ptx);
        } catch (CudaException e) {
            throw new BackendUnavailableException("the driver rejected ptx/" + module + ".ptx (" + e.getMessage()
                    + "): the PTX may be newer than this driver supports; rebuild with the toolkit matching it");
        }
        modules.put(module, m);
        Matcher entry = ENTRY.matcher(new String(ptx, StandardCharsets.US_ASCII));
        while (entry.find()) {
            moduleOfKernel.put(entry.group(1), m);
        }
    }

    private static byte[] readPtx(String module) {
        try (InputStream in = CudaDevice.class.getClassLoader().getResourceAsStream("ptx/" + module + ".ptx")) {
            if (in == null) {
                throw new BackendUnavailableException("ptx/" + module + ".ptx is listed but missing from the jar");
            }
            byte[] text = in.readAllBytes();
            return Arrays.copyOf(text, text.length + 1); // NUL-terminated, as cuModuleLoadData expects
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The kernel of that name from whichever module holds it. */
    Kernel kernel(String kernelName) {
        Kernel k = kernels.get(kernelName);
        if (k != null) {
            return k;
        }
        CUmodule m = moduleOfKernel.get(kernelName);
        if (m != null) {
            CUfunction f = new CUfunction();
            cuModuleGetFunction(f, m, kernelName);
            k = new Kernel(kernelName, f, smemOptIn);
            kernels.put(kernelName, k);
            return k;
        }
        throw new CudaKernelException("no kernel " + kernelName + " in the PTX modules " + modules.keySet());
    }

    void makeCurrent() {
        cuCtxSetCurrent(context);
    }

    String describe() {
        return name + " (compute capability " + major + "." + minor + ", " + smCount + " SMs, "
                + String.format("%.1f GiB", totalMemory / (double) (1L << 30)) + (emulated ? ", EMULATED" : "") + ")";
    }

    private static int attribute(CUdevice device, int attribute) {
        int[] v = new int[1];
        cuDeviceGetAttribute(v, attribute, device);
        return v[0];
    }

    private static String cString(byte[] bytes) {
        int end = 0;
        while (end < bytes.length && bytes[end] != 0) {
            end++;
        }
        return new String(bytes, 0, end, StandardCharsets.US_ASCII);
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (CUmodule m : modules.values()) {
            cuModuleUnload(m);
        }
        cuCtxDestroy(context);
    }
}
