package io.attnrt.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.attnrt.backend.reference.ReferenceBackend;
import io.attnrt.verify.OpCase;
import io.attnrt.verify.OpResult;
import io.attnrt.verify.OpSuite;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/** Every case of the standard op sweep, on the CPU backend with SIMD and with the scalar kernels (2 threads). */
class CpuBackendOpsTest {
    private static final CpuBackend SIMD = new CpuBackend(2, true);
    private static final CpuBackend SCALAR = new CpuBackend(2, false);
    private static final ReferenceBackend REFERENCE = new ReferenceBackend();

    @AfterAll
    static void close() {
        SIMD.close();
        SCALAR.close();
        REFERENCE.close();
    }

    @TestFactory
    Stream<DynamicTest> standardSweep() {
        List<DynamicTest> tests = new ArrayList<>();
        for (CpuBackend backend : new CpuBackend[] {SIMD, SCALAR}) {
            String mode = backend.simd() ? "simd" : "scalar";
            for (OpCase c : OpSuite.standard()) {
                tests.add(DynamicTest.dynamicTest(mode + " " + c.op() + " " + c.shape(), () -> {
                    OpResult r = c.run(backend, REFERENCE);
                    assertTrue(r.passed(), r.summary());
                }));
            }
        }
        return tests.stream();
    }
}
