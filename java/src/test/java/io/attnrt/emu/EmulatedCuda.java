package io.attnrt.emu;

import static jcuda.driver.JCudaDriver.cuCtxCreate;
import static jcuda.driver.JCudaDriver.cuCtxDestroy;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDeviceGetName;
import static jcuda.driver.JCudaDriver.cuInit;
import static jcuda.driver.JCudaDriver.cuModuleGetFunction;
import static jcuda.driver.JCudaDriver.cuModuleLoadData;
import static jcuda.driver.JCudaDriver.cuModuleUnload;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import jcuda.CudaException;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.JCudaDriver;
import org.junit.jupiter.api.function.Executable;

/**
 * A CUDA context for tests tagged {@link EmulatedDevice}: on the emulated CUDA device (the fake
 * {@code libcuda.so.1} / {@code libcublas.so.12} that {@code scripts/build-emulator.sh} builds and the surefire
 * execution {@code emulated-device} puts on {@code LD_LIBRARY_PATH}), or on a real GPU when the build runs with
 * {@code -Dattnrt.test.device=gpu}. Opening checks that the device answering is the one expected, so a test can
 * never pass on the wrong one; everything it cannot set up (emulator not built, PTX not built because nvcc was
 * missing) fails the test with the reason, never skips it.
 *
 * <pre>{@code
 * try (EmulatedCuda cuda = EmulatedCuda.open()) {
 *     CUfunction add = cuda.function(cuda.loadPtx("ptx/vector_add.ptx"), "vector_add");
 *     ...
 * }
 * }</pre>
 *
 * JCuda exceptions are enabled: a failing driver call throws {@link jcuda.CudaException} whose message is the
 * CUresult name.
 */
public final class EmulatedCuda implements AutoCloseable {
    /** The JUnit tag of the tests that need a CUDA device. */
    public static final String TAG = "emulated-device";
    /** What the emulated device calls itself (cuDeviceGetName). */
    public static final String EMULATED_DEVICE_NAME = "attnrt emulated device";
    /** System property: {@code emulator} (default) or {@code gpu}. */
    public static final String DEVICE_PROPERTY = "attnrt.test.device";
    /** System property: the directory the emulator was built into. */
    public static final String EMULATOR_DIR_PROPERTY = "attnrt.emu.dir";

    private final CUdevice device;
    private final CUcontext context;
    private final String deviceName;
    private final List<CUmodule> modules = new ArrayList<>();
    private boolean closed;

    private EmulatedCuda(CUdevice device, CUcontext context, String deviceName) {
        this.device = device;
        this.context = context;
        this.deviceName = deviceName;
    }

    /** Whether this run targets a real GPU ({@code -Dattnrt.test.device=gpu}) instead of the emulator. */
    public static boolean onRealGpu() {
        String target = System.getProperty(DEVICE_PROPERTY, "emulator");
        if (!target.equals("emulator") && !target.equals("gpu")) {
            throw new IllegalStateException(DEVICE_PROPERTY + "=" + target + ": expected emulator or gpu");
        }
        return target.equals("gpu");
    }

    /** The directory holding the emulator build; fails the test when it is not usable. */
    public static Path emulatorDir() {
        String dir = System.getProperty(EMULATOR_DIR_PROPERTY);
        if (dir == null) {
            throw new AssertionError("system property " + EMULATOR_DIR_PROPERTY + " is not set: run the "
                    + "emulated-device tests through Maven (surefire execution 'emulated-device')");
        }
        Path path = Path.of(dir);
        Path unavailable = path.resolve("UNAVAILABLE");
        if (Files.exists(unavailable)) {
            throw new AssertionError("the emulated CUDA device was not built: " + read(unavailable).strip());
        }
        if (!Files.exists(path.resolve("libcuda.so.1"))) {
            throw new AssertionError("no emulated libcuda.so.1 in " + path + ": scripts/build-emulator.sh did not run");
        }
        return path;
    }

    /**
     * Initialises the driver API, checks the device is the expected one, and creates a context that is current
     * on the calling thread until {@link #close()}.
     */
    public static EmulatedCuda open() {
        if (!onRealGpu()) {
            Path dir = emulatorDir();
            String libraryPath = System.getenv("LD_LIBRARY_PATH");
            if (libraryPath == null || !Arrays.asList(libraryPath.split(":")).contains(dir.toString())) {
                throw new AssertionError("LD_LIBRARY_PATH (" + libraryPath + ") does not contain " + dir
                        + ": the test JVM would load the real CUDA driver, or none");
            }
        }
        createTmpDir();
        JCudaDriver.setExceptionsEnabled(true);
        cuInit(0);
        CUdevice device = new CUdevice();
        cuDeviceGet(device, 0);
        byte[] nameBytes = new byte[256];
        cuDeviceGetName(nameBytes, nameBytes.length, device);
        String name = cString(nameBytes);
        if (onRealGpu() && name.equals(EMULATED_DEVICE_NAME)) {
            throw new AssertionError("-D" + DEVICE_PROPERTY + "=gpu but the emulated driver answered: "
                    + "LD_LIBRARY_PATH points at the emulator");
        }
        if (!onRealGpu() && !name.equals(EMULATED_DEVICE_NAME)) {
            throw new AssertionError("expected the emulated CUDA device but found '" + name + "'");
        }
        CUcontext context = new CUcontext();
        cuCtxCreate(context, 0, device);
        return new EmulatedCuda(device, context, name);
    }

    // JCuda extracts its natives into java.io.tmpdir, which Maven points at a directory of the build.
    private static void createTmpDir() {
        try {
            Files.createDirectories(Path.of(System.getProperty("java.io.tmpdir")));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public CUdevice device() {
        return device;
    }

    public CUcontext context() {
        return context;
    }

    public String deviceName() {
        return deviceName;
    }

    /**
     * Loads a PTX module from the test classpath: {@code ptx/NAME.ptx} (the kernels of {@code cuda/}) or
     * {@code ptx-selftest/NAME.ptx} (those of {@code cuda/selftest}). Unloaded by {@link #close()}.
     */
    public CUmodule loadPtx(String resource) {
        CUmodule module = new CUmodule();
        cuModuleLoadData(module, ptxImage(resource));
        modules.add(module);
        return module;
    }

    /** A module from PTX text given inline (NUL-terminated here). Unloaded by {@link #close()}. */
    public CUmodule loadPtxText(String ptx) {
        CUmodule module = new CUmodule();
        cuModuleLoadData(module, nulTerminated(ptx.getBytes(StandardCharsets.US_ASCII)));
        modules.add(module);
        return module;
    }

    public CUfunction function(CUmodule module, String name) {
        CUfunction function = new CUfunction();
        cuModuleGetFunction(function, module, name);
        return function;
    }

    /** The PTX resource as the NUL-terminated image cuModuleLoadData expects. */
    public static byte[] ptxImage(String resource) {
        try (InputStream in = EmulatedCuda.class.getClassLoader().getResourceAsStream(resource)) {
            if (in == null) {
                throw new AssertionError("PTX resource " + resource + " is not on the test classpath: the build "
                        + "compiles cuda/ to PTX only when nvcc is found (look for '[attnrt] nvcc not found' in the "
                        + "build output); the CUDA tests need the CUDA toolkit — install it or set CUDA_HOME");
            }
            return nulTerminated(in.readAllBytes());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Runs a JCuda call that must fail and checks the result it failed with, by name (JCuda's exception message
     * is the CUresult or cublasStatus name). Returns the exception.
     */
    public static CudaException assertCudaError(String expectedResult, Executable call) {
        try {
            call.execute();
        } catch (CudaException e) {
            if (!expectedResult.equals(e.getMessage())) {
                throw new AssertionError("expected " + expectedResult + " but the call failed with " + e.getMessage(), e);
            }
            return e;
        } catch (Throwable t) {
            throw new AssertionError("expected " + expectedResult + " but the call threw " + t, t);
        }
        throw new AssertionError("expected " + expectedResult + " but the call succeeded");
    }

    private static byte[] nulTerminated(byte[] text) {
        return Arrays.copyOf(text, text.length + 1);
    }

    private static String cString(byte[] bytes) {
        int end = 0;
        while (end < bytes.length && bytes[end] != 0) {
            end++;
        }
        return new String(bytes, 0, end, StandardCharsets.UTF_8);
    }

    private static String read(Path path) {
        try {
            return Files.readString(path);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Unloads the modules and destroys the context (and with it every allocation made in it). */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (CUmodule module : modules) {
            cuModuleUnload(module);
        }
        cuCtxDestroy(context);
    }
}
