package io.attnrt.cli;

import io.attnrt.backend.Backend;
import io.attnrt.backend.select.BackendChoice;
import io.attnrt.backend.select.Backends;
import io.attnrt.backend.reference.ReferenceBackend;
import io.attnrt.verify.DeviceOpSuite;
import io.attnrt.verify.OpCase;
import io.attnrt.verify.OpResult;
import io.attnrt.verify.OpSuite;
import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "verify", mixinStandardHelpOptions = true,
        description = "Run every op of a backend against the reference backend over a sweep of shapes; "
                + "exit code 1 if any op fails.")
final class VerifyCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--backend", defaultValue = "auto", description = "backend to check: auto, cuda, cpu, reference")
    String backend;

    @Option(names = "--quick", description = "a smaller sweep (~40 cases)")
    boolean quick;

    @Option(names = "--failures-only", description = "print only the failing rows")
    boolean failuresOnly;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        BackendChoice choice = Backends.create(backend);
        // A device backend has kernel variants the CPU sweep does not name (head dims 96/256, GEMV vs GEMM).
        boolean device = choice.backend().name().equals("cuda");
        List<OpCase> cases = device ? DeviceOpSuite.forDevice(quick) : quick ? OpSuite.quick() : OpSuite.standard();
        try (Backend candidate = choice.backend(); Backend reference = new ReferenceBackend()) {
            out.printf("verify: %s against reference, %d cases%n", candidate.description(), cases.size());
            String fmt = "%-18s %-58s %11s %11s  %s%n";
            out.printf(fmt, "op", "shape", "max abs err", "max rel err", "result");
            out.flush();
            int[] done = {0};
            List<OpResult> results = OpSuite.runAll(cases, candidate, reference, r -> {
                done[0]++;
                if (!failuresOnly || !r.passed()) {
                    out.printf(fmt, r.op(), r.shape(), String.format("%.3g", r.maxAbsError()),
                            String.format("%.3g", r.maxRelError()),
                            r.passed() ? "pass" : "FAIL" + (r.error() == null ? "" : ": " + r.error()));
                    out.flush();
                }
            });
            long failed = results.stream().filter(r -> !r.passed()).count();
            out.printf("%d passed, %d failed%n", results.size() - failed, failed);
            return failed == 0 ? 0 : 1;
        }
    }
}
