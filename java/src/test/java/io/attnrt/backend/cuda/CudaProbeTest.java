package io.attnrt.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.attnrt.emu.EmulatedCuda;
import io.attnrt.emu.EmulatedDevice;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * The runtime's CUDA probe on whatever device the emulated-device test JVM sees: on the emulated device
 * it must recognise it and warn; on a real GPU (-Dattnrt.test.device=gpu) it must not call it emulated.
 */
@EmulatedDevice
class CudaProbeTest {
    @Test
    void probeRecognisesTheDeviceItRunsOn() {
        Logger log = (Logger) LoggerFactory.getLogger(CudaProbe.class);
        ListAppender<ILoggingEvent> appender = new ListAppender<>();
        appender.start();
        log.addAppender(appender);
        try {
            CudaProbe p = CudaProbe.run(); // not probe(): that one is cached, and warned when another test called it
            assertTrue(p.available(), p.detail());
            assertTrue(p.major() >= 8, p.detail());
            if (EmulatedCuda.onRealGpu()) {
                assertFalse(p.emulated(), p.detail());
            } else {
                assertTrue(p.emulated(), p.detail());
                assertEquals(CudaProbe.EMULATED_DEVICE_NAME, p.deviceName());
                assertTrue(p.detail().contains("EMULATED"), p.detail());
                assertTrue(appender.list.stream().anyMatch(e -> e.getLevel() == Level.WARN
                        && e.getFormattedMessage().contains("emulated device")), "a warning is logged");
            }
        } finally {
            log.detachAppender(appender);
        }
    }
}
