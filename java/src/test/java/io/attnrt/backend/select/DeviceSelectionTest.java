package io.attnrt.backend.select;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.attnrt.backend.Backend;
import io.attnrt.emu.EmulatedCuda;
import io.attnrt.emu.EmulatedDevice;
import org.junit.jupiter.api.Test;

/**
 * The provider chain with a CUDA driver present: on the emulated device {@code auto} must never pick it (it is
 * a test target), while {@code --backend cuda} opens it; on a real GPU {@code auto} takes the cuda backend.
 */
@EmulatedDevice
class DeviceSelectionTest {
    @Test
    void autoTakesARealGpuButNeverTheEmulatedDevice() {
        BackendChoice c = Backends.create("auto");
        try (Backend b = c.backend()) {
            if (EmulatedCuda.onRealGpu()) {
                assertEquals("cuda", b.name(), c.reason());
            } else {
                assertEquals("cpu", b.name(), c.reason());
                assertTrue(c.reason().contains("emulated"), c.reason());
            }
        }
    }

    @Test
    void forcedCudaOpensTheDeviceAndSaysWhichOne() {
        BackendChoice c = Backends.create("cuda");
        try (Backend b = c.backend()) {
            assertEquals("cuda", b.name());
            assertEquals("forced by --backend cuda", c.reason());
            assertTrue(b.description().startsWith("cuda on "), b.description());
        }
    }
}
