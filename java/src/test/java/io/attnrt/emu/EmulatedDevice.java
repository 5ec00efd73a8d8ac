package io.attnrt.emu;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.Tag;

/**
 * Marks a test class (or method) that needs a CUDA device: it runs in the surefire execution
 * {@code emulated-device}, on the emulated device by default and on a real GPU with
 * {@code -Dattnrt.test.device=gpu}, never in the default test execution. Open the device with {@link EmulatedCuda}.
 */
@Target({ElementType.TYPE, ElementType.METHOD})
@Retention(RetentionPolicy.RUNTIME)
@Tag(EmulatedCuda.TAG)
public @interface EmulatedDevice {
}
