package io.attnrt.emu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Builds and runs cuda/emu/test/simt_test.cu, the emulator's own test program: the shuffled fiber order catches a
 * missing __syncthreads / __syncwarp for (nearly) every seed while an in-order run passes by luck, shared memory is
 * per block and poisoned, warp collectives follow PTX semantics (widths, partial warps, disjoint masks), atomics,
 * cp.async groups, and every misuse (bad masks, exited lanes, deadlocks, misaligned ldmatrix/cp.async) ends in a
 * fault. It needs the program to set the seed per launch, which the kernel-library ABI does not offer.
 */
@EmulatedDevice
class EmulatorSimtProgramTest {
    @Test
    void simtSelfTestProgramPasses(@TempDir Path dir) throws IOException, InterruptedException {
        assumeFalse(EmulatedCuda.onRealGpu(), "tests the emulator itself");
        EmulatedCuda.emulatorDir(); // fails with the reason when the emulated device could not be built
        Path root = Path.of("").toAbsolutePath();
        Path script = root.resolve("scripts/emu-kernels.sh");
        assertTrue(Files.isRegularFile(script), "no " + script + ": run the tests from the project directory");
        Path program = dir.resolve("simt_test");
        run(List.of("bash", script.toString(), "--program", program.toString(),
                root.resolve("cuda/emu/test/simt_test.cu").toString()), dir.resolve("build.log"), "building simt_test");
        String output = run(List.of(program.toString()), dir.resolve("run.log"), "running simt_test");
        assertTrue(output.contains("simt_test: all passed"), output);
    }

    // Output goes to a file, so a child that hangs cannot block the reader past the timeout.
    private static String run(List<String> command, Path log, String what) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!process.waitFor(5, TimeUnit.MINUTES)) {
            process.destroyForcibly();
            throw new AssertionError(what + " did not finish in 5 minutes:\n" + Files.readString(log));
        }
        String output = Files.readString(log, StandardCharsets.UTF_8);
        assertEquals(0, process.exitValue(), what + " failed:\n" + output);
        return output;
    }
}
