package io.attnrt.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.attnrt.backend.reference.ReferenceBackend;
import io.attnrt.emu.EmulatedCuda;
import io.attnrt.emu.EmulatedDevice;
import io.attnrt.tensor.DType;
import io.attnrt.verify.DeviceOpSuite;
import io.attnrt.verify.OpCase;
import io.attnrt.verify.OpResult;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Every op of the cuda backend against the reference through the same harness as the CPU backends, on the
 * emulated device in CI (a real GPU with -Dattnrt.test.device=gpu): {@link DeviceOpSuite} covers every
 * kernel variant. Decode runs with the split heuristic and again with the context forced into 3 splits
 * (the reduce kernel); projections run through cuBLAS and again through the own GEMM.
 */
@EmulatedDevice
class CudaBackendOpsTest {
    private static CudaBackend cuda;
    private static ReferenceBackend reference;

    @BeforeAll
    static void open() {
        cuda = CudaBackend.create();
        reference = new ReferenceBackend();
        assertEquals(!EmulatedCuda.onRealGpu(), cuda.emulated(), "the device answering is the one expected: "
                + cuda.description());
    }

    @AfterAll
    static void close() {
        if (cuda != null) {
            cuda.close();
        }
        if (reference != null) {
            reference.close();
        }
    }

    private static Stream<DynamicTest> run(List<OpCase> cases, CudaBackend backend, String tag) {
        return cases.stream().map(c -> DynamicTest.dynamicTest(tag + c.op() + " " + c.shape(), () -> {
            OpResult r = c.run(backend, reference);
            assertTrue(r.passed(), r.summary());
        }));
    }

    @Test
    void activationsAreSixteenBit() {
        assertEquals(DType.BF16, cuda.activationDType());
        assertEquals(DType.BF16, cuda.weightDType(DType.F32));
        for (DType q : new DType[] {DType.Q8_0, DType.Q4_0, DType.Q4_K, DType.Q5_K, DType.Q6_K}) {
            assertEquals(q, cuda.weightDType(q), "quantized weights stay blocks on the device");
        }
    }

    /** Quantized prefill projections with the weight decoded in 128-row slices: out = 130 takes two GEMMs. */
    @TestFactory
    Stream<DynamicTest> quantizedGemmInSlicesMatchesTheReference() {
        List<OpCase> cases = DeviceOpSuite.rest().stream()
                .filter(c -> c.op().equals("linear") && c.shape().contains("weight=Q")
                        && Integer.parseInt(c.shape().replaceAll("^N=(\\d+).*", "$1")) > CudaLinear.GEMV_MAX_TOKENS)
                .toList();
        assertTrue(cases.stream().anyMatch(c -> c.shape().contains("OUT=130")), "a case that spans two slices");
        return cases.stream().map(c -> DynamicTest.dynamicTest("128-row slices " + c.shape(), () -> {
            cuda.forceDequantSliceBytes(1);
            try {
                OpResult r = c.run(cuda, reference);
                assertTrue(r.passed(), r.summary());
            } finally {
                cuda.forceDequantSliceBytes(0);
            }
        }));
    }

    @TestFactory
    Stream<DynamicTest> everyOpMatchesTheReference() {
        return run(DeviceOpSuite.cases(), cuda, "");
    }

    @TestFactory
    Stream<DynamicTest> splitKvDecodeMatchesTheReference() {
        return DeviceOpSuite.decode().stream().map(c -> DynamicTest.dynamicTest("splits=3 " + c.shape(), () -> {
            cuda.forceDecodeSplits(3);
            try {
                OpResult r = c.run(cuda, reference);
                assertTrue(r.passed(), r.summary());
            } finally {
                cuda.forceDecodeSplits(0);
            }
        }));
    }

    @TestFactory
    Stream<DynamicTest> ownGemmMatchesTheReference() {
        String before = System.getProperty("attnrt.cuda.gemm");
        System.setProperty("attnrt.cuda.gemm", "own");
        CudaBackend own;
        try {
            own = CudaBackend.create();
        } finally {
            if (before == null) {
                System.clearProperty("attnrt.cuda.gemm");
            } else {
                System.setProperty("attnrt.cuda.gemm", before);
            }
        }
        assertTrue(own.description().contains("own mma.sync GEMM"), own.description());
        List<OpCase> linear = DeviceOpSuite.rest().stream().filter(c -> c.op().equals("linear")).toList();
        List<DynamicTest> tests = run(linear, own, "own-gemm ").toList();
        return Stream.concat(tests.stream(), Stream.of(DynamicTest.dynamicTest("close", own::close)));
    }
}
