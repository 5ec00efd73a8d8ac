package io.attnrt.backend.cuda;

import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What CUDA device, if any, this process can see through the driver API — asked once, without creating a
 * context. attnrt never loads the emulated device's libraries itself; if the dynamic linker hands it
 * the emulated driver anyway (a test environment leaking into production), the probe says so and logs a
 * warning, because results there are correct but timings mean nothing.
 *
 * @param available   a device answered cuInit and cuDeviceGet
 * @param deviceName  its name, or null
 * @param major       compute capability major (0 when none)
 * @param minor       compute capability minor
 * @param emulated    the device is attnrt's emulated device (a CPU test target)
 * @param detail      one line for logs: the device, or why there is none
 */
public record CudaProbe(boolean available, String deviceName, int major, int minor, boolean emulated, String detail) {
    /** The name the emulated driver (cuda/emu) reports for its device. */
    public static final String EMULATED_DEVICE_NAME = "attnrt emulated device";

    private static final Logger LOG = LoggerFactory.getLogger(CudaProbe.class);
    private static volatile CudaProbe cached;

    /** Probes once per process. */
    public static CudaProbe probe() {
        CudaProbe p = cached;
        if (p == null) {
            synchronized (CudaProbe.class) {
                if (cached == null) {
                    cached = run();
                }
                p = cached;
            }
        }
        return p;
    }

    /** A fresh probe, not cached: its warning is logged again (tests). */
    static CudaProbe run() {
        try {
            JCudaDriver.setExceptionsEnabled(false);
            int status = JCudaDriver.cuInit(0);
            if (status != CUresult.CUDA_SUCCESS) {
                return none("the CUDA driver found no usable device (" + CUresult.stringFor(status) + ")");
            }
            int[] count = new int[1];
            JCudaDriver.cuDeviceGetCount(count);
            if (count[0] == 0) {
                return none("the CUDA driver reports no device");
            }
            CUdevice device = new CUdevice();
            JCudaDriver.cuDeviceGet(device, 0);
            byte[] name = new byte[256];
            JCudaDriver.cuDeviceGetName(name, name.length, device);
            String deviceName = new String(name, java.nio.charset.StandardCharsets.US_ASCII).trim().replace("\0", "");
            int[] major = new int[1];
            int[] minor = new int[1];
            JCudaDriver.cuDeviceGetAttribute(major, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device);
            JCudaDriver.cuDeviceGetAttribute(minor, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device);
            boolean emulated = EMULATED_DEVICE_NAME.equals(deviceName);
            if (emulated) {
                LOG.warn("CUDA device 0 is the attnrt emulated device, a CPU test target: its libcuda.so.1 came from "
                        + "LD_LIBRARY_PATH; results are correct but nothing about speed is real");
            }
            return new CudaProbe(true, deviceName, major[0], minor[0], emulated,
                    deviceName + " (compute capability " + major[0] + "." + minor[0] + (emulated ? ", EMULATED" : "") + ")");
        } catch (UnsatisfiedLinkError | NoClassDefFoundError e) {
            return none("no NVIDIA driver (libcuda.so.1 could not be loaded)");
        }
    }

    private static CudaProbe none(String why) {
        return new CudaProbe(false, null, 0, 0, false, why);
    }
}
