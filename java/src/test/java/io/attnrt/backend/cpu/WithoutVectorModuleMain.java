package io.attnrt.backend.cpu;

import io.attnrt.backend.reference.ReferenceBackend;
import io.attnrt.verify.OpResult;
import io.attnrt.verify.OpSuite;
import java.util.List;

/**
 * Run in a JVM started WITHOUT {@code --add-modules jdk.incubator.vector} by {@link CpuBackendModuleTest}:
 * the backend must come up scalar, refuse SIMD with a clear message, and pass the quick op sweep.
 * Prints one line per problem and exits non-zero if there is any.
 */
public final class WithoutVectorModuleMain {
    private WithoutVectorModuleMain() {
    }

    public static void main(String[] args) {
        int problems = 0;
        if (CpuBackend.vectorModulePresent()) {
            System.out.println("PROBLEM: the vector module is present; the test must start this JVM without it");
            System.exit(2);
        }
        try {
            new CpuBackend(2, true).close();
            System.out.println("PROBLEM: SIMD was accepted without the vector module");
            problems++;
        } catch (IllegalStateException e) {
            System.out.println("refused: " + e.getMessage());
        }
        try (CpuBackend cpu = CpuBackend.create(); ReferenceBackend ref = new ReferenceBackend()) {
            System.out.println("description: " + cpu.description());
            if (cpu.simd()) {
                System.out.println("PROBLEM: create() chose SIMD");
                problems++;
            }
            List<OpResult> results = OpSuite.runAll(OpSuite.quick(), cpu, ref, null);
            for (OpResult r : results) {
                if (!r.passed()) {
                    System.out.println("PROBLEM: " + r.summary());
                    problems++;
                }
            }
            System.out.println("cases: " + results.size());
        }
        System.exit(problems == 0 ? 0 : 1);
    }
}
