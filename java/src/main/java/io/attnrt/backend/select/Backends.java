package io.attnrt.backend.select;

import io.attnrt.backend.Backend;
import io.attnrt.backend.BackendUnavailableException;
import io.attnrt.backend.cpu.CpuBackend;
import io.attnrt.backend.cuda.CudaBackend;
import io.attnrt.backend.cuda.CudaProbe;
import io.attnrt.backend.reference.ReferenceBackend;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Backend selection as a provider chain: {@code auto} tries cuda → cpu (SIMD, else scalar); a name forces
 * one. The choice may come from the CLI, the system property {@code attnrt.backend} or the environment
 * variable {@code ATTNRT_BACKEND}, in that order.
 */
public final class Backends {
    private static final Logger LOG = LoggerFactory.getLogger(Backends.class);

    public static final String AUTO = "auto";

    private Backends() {
    }

    /** The backend name asked for by system property or environment, else {@code auto}. */
    public static String requestedName() {
        String p = System.getProperty("attnrt.backend");
        if (p != null && !p.isBlank()) {
            return p;
        }
        String e = System.getenv("ATTNRT_BACKEND");
        return e != null && !e.isBlank() ? e : AUTO;
    }

    /** Creates the named backend ({@code auto}, {@code cuda}, {@code cpu}, {@code reference}) and logs why. */
    public static BackendChoice create(String name) {
        String n = name == null ? AUTO : name.trim().toLowerCase(Locale.ROOT);
        BackendChoice choice = switch (n) {
            case AUTO -> auto();
            case "cuda" -> forcedCuda();
            case "cpu" -> cpu("forced by --backend cpu");
            case "reference" -> new BackendChoice(new ReferenceBackend(), "forced by --backend reference");
            default -> throw new IllegalArgumentException("unknown backend '" + name
                    + "': choose auto, cuda, cpu or reference");
        };
        LOG.info("backend: {} ({})", choice.backend().description(), choice.reason());
        return choice;
    }

    private static BackendChoice forcedCuda() {
        try {
            return new BackendChoice(CudaBackend.create(), "forced by --backend cuda");
        } catch (BackendUnavailableException e) {
            throw new BackendUnavailableException("the cuda backend is not available: " + e.getMessage()
                    + "; use --backend cpu");
        }
    }

    private static BackendChoice auto() {
        CudaProbe gpu = CudaProbe.probe();
        if (!gpu.available()) {
            return cpu("auto: no GPU: " + gpu.detail());
        }
        if (gpu.emulated()) {
            return cpu("auto: the CUDA device is attnrt's emulated test device, never used in production");
        }
        try {
            return new BackendChoice(CudaBackend.create(), "auto: found CUDA device " + gpu.detail());
        } catch (BackendUnavailableException e) {
            return cpu("auto: found CUDA device " + gpu.detail() + " but " + e.getMessage());
        }
    }

    private static BackendChoice cpu(String why) {
        CpuBackend cpu = CpuBackend.create();
        String simd = cpu.simd() ? "Vector API SIMD" : "scalar: start the JVM with --add-modules jdk.incubator.vector for SIMD";
        return new BackendChoice(cpu, why + "; " + simd);
    }
}
