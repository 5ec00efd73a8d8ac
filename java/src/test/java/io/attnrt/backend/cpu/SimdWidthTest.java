package io.attnrt.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * The forced vector width ({@code -Dattnrt.cpu.simd=128|256|512}) is the one the kernels run. The build runs
 * the SIMD kernel tests once per width (surefire executions simd-128, simd-256, simd-512), so this test is
 * what proves each of those runs exercised the width it names and not the host's preferred one.
 */
class SimdWidthTest {

    @Test
    void theKernelsRunTheForcedWidth() {
        int forced = CpuBackend.simdBits();
        Kernels k = CpuBackend.loadKernels(true);
        if (forced == 0) {
            assertTrue(k.lanes() >= 4, k.describe());
        } else {
            assertEquals(forced / Float.SIZE, k.lanes(), k.describe());
            assertEquals("SIMD " + forced + "-bit (" + forced / Float.SIZE + " float lanes)", k.describe());
        }
        String regs = System.getProperty("attnrt.cpu.vectorRegisters");
        int registers = ((SimdKernels) k).vectorRegisters();
        assertTrue(registers == 16 || registers == 32, "registers " + registers);
        if (regs != null) {
            assertEquals(Integer.parseInt(regs), registers, "the forced register file");
        }
        assertEquals(0, k.keyTile() % k.lanes(), "key tiles are whole vectors");
        assertEquals(0, k.rowTile() % k.lanes(), "row tiles are whole vectors");
    }

    @Test
    void aMalformedWidthIsRefusedNamingTheProperty() {
        String old = System.getProperty("attnrt.cpu.simd");
        try {
            System.setProperty("attnrt.cpu.simd", "384");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, CpuBackend::create);
            assertTrue(e.getMessage().contains("attnrt.cpu.simd") && e.getMessage().contains("'384'"), e.getMessage());
        } finally {
            if (old == null) {
                System.clearProperty("attnrt.cpu.simd");
            } else {
                System.setProperty("attnrt.cpu.simd", old);
            }
        }
    }
}
