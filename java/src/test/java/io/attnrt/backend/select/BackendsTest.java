package io.attnrt.backend.select;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.attnrt.backend.Backend;
import io.attnrt.backend.BackendUnavailableException;
import org.junit.jupiter.api.Test;

class BackendsTest {
    @Test
    void autoFallsBackToTheCpuAndSaysWhy() {
        BackendChoice c = Backends.create("auto");
        try (Backend b = c.backend()) {
            assertEquals("cpu", b.name());
            assertTrue(c.reason().startsWith("auto: "), c.reason());
            assertTrue(c.reason().contains("cuda") || c.reason().contains("GPU"), c.reason());
        }
    }

    @Test
    void namedBackendsAreForced() {
        try (Backend b = Backends.create("reference").backend()) {
            assertEquals("reference", b.name());
        }
        try (Backend b = Backends.create(" CPU ").backend()) {
            assertEquals("cpu", b.name());
        }
    }

    @Test
    void cudaWithoutADriverAndUnknownNamesAreClearErrors() {
        var e = assertThrows(BackendUnavailableException.class, () -> Backends.create("cuda"));
        assertTrue(e.getMessage().contains("not available") && e.getMessage().contains("--backend cpu"), e.getMessage());
        var u = assertThrows(IllegalArgumentException.class, () -> Backends.create("gpu0"));
        assertTrue(u.getMessage().contains("auto, cuda, cpu or reference"), u.getMessage());
    }
}
