package io.attnrt.emu;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import jcuda.driver.JCudaDriver;
import jcuda.jcublas.JCublas;
import jcuda.jcublas.JCublas2;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The fakes export every symbol the JCuda natives import. The emulated-device JVM runs with LD_BIND_NOW=1, so
 * loading a native resolves all its imports at once and a function missing from the fake libcuda.so.1 or
 * libcublas.so.12 fails the load here instead of killing the JVM (exit 127) at its first call, whenever that is.
 */
@EmulatedDevice
class EmulatorLoadTest {
    @BeforeEach
    void emulatorOnly() {
        assumeFalse(EmulatedCuda.onRealGpu(), "checks the emulator's fake libraries; a real GPU uses NVIDIA's");
    }

    @Test
    void bindNowIsInForce() {
        assertEquals("1", System.getenv("LD_BIND_NOW"), "the emulated-device JVM must run with LD_BIND_NOW=1");
        // A library importing a symbol nobody defines loads under lazy binding and fails under LD_BIND_NOW:
        // this proves the flag reached the dynamic linker of this JVM.
        String canary = EmulatedCuda.emulatorDir().resolve("test/libattnrt_emu_bindnow_canary.so").toString();
        UnsatisfiedLinkError error = assertThrows(UnsatisfiedLinkError.class, () -> System.load(canary));
        assertTrue(error.getMessage().contains("attnrt_emu_symbol_nobody_defines"), error.getMessage());
    }

    @Test
    void jcudaDriverNativeResolvesEveryImport() {
        assertDoesNotThrow(() -> JCudaDriver.setExceptionsEnabled(true));
    }

    @Test
    void jcublas2NativeResolvesEveryImport() {
        assertDoesNotThrow(() -> JCublas2.setExceptionsEnabled(true));
    }

    @Test
    void legacyJcublasNativeResolvesEveryImport() {
        assertDoesNotThrow(() -> JCublas.setExceptionsEnabled(true));
    }
}
