package io.attnrt.cli;

import io.attnrt.backend.Backend;
import io.attnrt.backend.select.BackendChoice;
import io.attnrt.backend.select.Backends;
import io.attnrt.backend.cpu.FmaPeak;
import io.attnrt.backend.cpu.MemoryBandwidth;
import io.attnrt.backend.reference.ReferenceBackend;
import io.attnrt.bench.AttentionBench;
import io.attnrt.bench.BenchReport;
import io.attnrt.bench.BenchRow;
import io.attnrt.bench.DecodeBench;
import io.attnrt.bench.GpuBench;
import io.attnrt.bench.LinearBench;
import io.attnrt.bench.BenchCharts;
import io.attnrt.bench.MachineInfo;
import io.attnrt.backend.cuda.CudaBackend;
import io.attnrt.bench.ModelBench;
import io.attnrt.bench.SamplingBench;
import io.attnrt.bench.ServeBench;
import io.attnrt.model.LlamaConfig;
import io.attnrt.tensor.DType;
import io.attnrt.text.Tokenizer;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Benchmark prefill attention, paged decode attention and whole-model prefill/decode on a "
                + "backend, side by side with the reference backend, the naive L×L attention and the machine's "
                + "measured memory bandwidth. Prints the machine's facts (CPU, vector width, threads, JVM) first; "
                + "writes a CSV and a PNG chart of each sweep.")
final class BenchCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--backend", defaultValue = "auto", description = "backend to measure (default ${DEFAULT-VALUE})")
    String backend;

    @Option(names = "--sections", split = ",", defaultValue = "prefill,decode,model,gemv",
            description = "which of prefill, decode, model, quant (the model in F32, Q8_0, Q4_K, Q6_K), linear (one F32 "
                    + "projection against the FMA peak, cpu), serve, sampling, gemv (cuda only) to run (default ${DEFAULT-VALUE})")
    List<String> sections;

    @Option(names = "--lengths", split = ",", defaultValue = "128,512,1024,2048,4096,8192,16384",
            description = "prefill lengths L (default ${DEFAULT-VALUE})")
    List<Integer> lengths;

    @Option(names = "--quick", description = "a short sweep (L ≤ 1024, small decode and model runs) for smoke tests")
    boolean quick;

    @Option(names = "--reference-max-length", defaultValue = "2048",
            description = "run the reference backend side by side up to this L (default ${DEFAULT-VALUE})")
    int referenceMaxLength;

    @Option(names = "--naive-max-length", defaultValue = "4096",
            description = "run the naive L×L attention up to this L (default ${DEFAULT-VALUE})")
    int naiveMaxLength;

    @Option(names = "--decode-tokens", defaultValue = "32", description = "decode steps of the model bench")
    int decodeTokens;

    @Option(names = "--csv", defaultValue = "bench.csv", description = "CSV output file (default ${DEFAULT-VALUE})")
    Path csv;

    @Option(names = "--charts", paramLabel = "DIR",
            description = "directory of the charts bench-<section>.png (default: the CSV's directory)")
    Path chartsDir;

    @Option(names = "--no-charts", description = "write no charts")
    boolean noCharts;

    /** The machine facts printed before the table and written before the CSV's header. */
    private MachineInfo machine;

    @Option(names = "--no-progress", description = "no progress bar on stderr")
    boolean noProgress;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Set<String> run = new LinkedHashSet<>(sections);
        for (String s : run) {
            if (!List.of("prefill", "decode", "model", "gemv", "serve", "quant", "sampling", "linear").contains(s)) {
                throw new IllegalArgumentException("unknown bench section '" + s
                        + "': choose prefill, decode, model, quant, linear, serve, sampling (and gemv on cuda)");
            }
        }
        BackendChoice choice = Backends.create(backend);
        if (choice.backend() instanceof CudaBackend cuda) {
            try (cuda) {
                return gpu(cuda, choice.reason(), run, out);
            }
        }
        try (Backend be = choice.backend(); Backend reference = new ReferenceBackend()) {
            out.printf("bench: %s (%s)%n", be.description(), choice.reason());
            machine = MachineInfo.detect(be);
            machine.print(out);
            BenchReport report = new BenchReport(out);
            double bandwidth = Double.NaN;
            if (run.contains("decode") || run.contains("model")) {
                bandwidth = MemoryBandwidth.measureReadGBs(Runtime.getRuntime().availableProcessors(), 512L << 20);
                report.add(new BenchRow("bandwidth", "stream-read", "all cores, median of 7 passes", Double.NaN,
                        Double.NaN, bandwidth, Double.NaN, Double.NaN, null, Double.NaN));
            }
            double peak = Double.NaN;
            int all = be instanceof io.attnrt.backend.cpu.CpuBackend cpu ? cpu.threads()
                    : Runtime.getRuntime().availableProcessors();
            int[] peakThreads = all > 1 ? new int[] {1, all} : new int[] {1}; // the last: the backend's threads
            double[] peaks = new double[peakThreads.length];
            if (run.contains("model") || run.contains("prefill") || run.contains("linear")) {
                // the compute limit of prefill: multiply-adds in registers on one core and on all of them
                for (int i = 0; i < peakThreads.length; i++) {
                    int t = peakThreads[i];
                    peak = peaks[i] = FmaPeak.measureGflops(t);
                    report.add(new BenchRow("fma-peak", "registers", t + (t == 1 ? " thread" : " threads")
                            + ", 12 FMA chains, median of 5", Double.NaN, peak, Double.NaN, Double.NaN, Double.NaN,
                            null, Double.NaN));
                }
            }
            double computePeak = peak;
            List<Runnable> tasks = new ArrayList<>();
            List<String> labels = new ArrayList<>();
            if (run.contains("prefill")) {
                AttentionBench ab = new AttentionBench(be, reference, referenceMaxLength, naiveMaxLength);
                for (AttentionBench.Shape s : prefillShapes()) {
                    labels.add("prefill " + s.describe());
                    tasks.add(() -> ab.run(s, report));
                }
            }
            if (run.contains("decode")) {
                DecodeBench db = new DecodeBench(be, reference, bandwidth, 1L << 20);
                for (DecodeBench.Shape s : decodeShapes()) {
                    labels.add("decode " + s.describe());
                    tasks.add(() -> db.run(s, report));
                }
            }
            if (run.contains("linear")) {
                if (!(be instanceof io.attnrt.backend.cpu.CpuBackend cpu)) {
                    throw new IllegalArgumentException("bench section 'linear' measures the cpu backend; on cuda "
                            + "the projection figures are the 'gemv' and 'model' sections");
                }
                // each thread count on a backend of its own, so the one-thread GEMM runs on one core
                LinearBench lb = new LinearBench(t -> new io.attnrt.backend.cpu.CpuBackend(t, cpu.simd()));
                for (int i = 0; i < peakThreads.length; i++) {
                    int t = peakThreads[i];
                    double p = peaks[i];
                    for (int[] s : LinearBench.SHAPES) {
                        labels.add("linear " + s[0] + "x" + s[1] + " " + t + "t");
                        tasks.add(() -> lb.run(t, p, s[0], s[1], quick ? 128 : Integer.MAX_VALUE, report));
                    }
                }
            }
            if (run.contains("model")) {
                ModelBench mb = new ModelBench(be,
                        () -> MemoryBandwidth.measureReadGBs(Runtime.getRuntime().availableProcessors(), 512L << 20),
                        computePeak);
                int steps = quick ? 8 : decodeTokens;
                labels.add("model prefill+decode batch 1");
                tasks.add(() -> mb.run(LlamaConfig.benchmark(), quick ? 32 : 128, steps, 1, DType.F32, report));
                if (!quick) {
                    labels.add("model prefill+decode batch 4");
                    tasks.add(() -> mb.run(LlamaConfig.benchmark(), 128, steps, 4, DType.F32, report));
                }
            }
            if (run.contains("quant")) {
                ModelBench mb = new ModelBench(be,
                        () -> MemoryBandwidth.measureReadGBs(Runtime.getRuntime().availableProcessors(), 512L << 20));
                // K-quants need rows of whole 256-blocks: the MLP is 1536 wide here (1408 in the F32 config)
                LlamaConfig cfg = LlamaConfig.builder().vocabSize(32000).hiddenSize(512).numHiddenLayers(8)
                        .numAttentionHeads(8).numKeyValueHeads(4).intermediateSize(1536).maxPositionEmbeddings(4096)
                        .build();
                int steps = quick ? 8 : decodeTokens;
                for (DType t : List.of(DType.F32, DType.Q8_0, DType.Q4_K, DType.Q6_K)) {
                    labels.add("model " + t + " prefill+decode batch 1");
                    tasks.add(() -> mb.run(cfg, quick ? 32 : 128, steps, 1, t, report));
                }
            }
            if (run.contains("sampling")) {
                SamplingBench sb = new SamplingBench(be, reference);
                for (int v : SamplingBench.VOCABS) {
                    labels.add("sampling V=" + v);
                    tasks.add(() -> sb.run(v, report));
                }
            }
            Tokenizer serveTokenizer = null;
            if (run.contains("serve")) {
                serveTokenizer = Tokenizer.load(ModelSource.extractBuiltinChat());
                ServeBench sb = new ServeBench(be, serveTokenizer, out);
                ServeBench.Workload w = quick ? new ServeBench.Workload(8, 4, 8, 32, 8, 16)
                        : new ServeBench.Workload(32, 16, 8, 64, 32, 96);
                labels.add("serve " + w.describe());
                tasks.add(() -> sb.run(LlamaConfig.benchmark(), w, quick ? 1 : 3, quick ? 256 : 1024, report));
            }
            try (Tokenizer closing = serveTokenizer) {
                runAll(labels, tasks, report, out);
            }
        }
        return 0;
    }

    @Option(names = "--tiny", hidden = true, description = "tiny shapes, to run the cuda bench on the emulated device")
    boolean tiny;

    /** The cuda sections: device figures against the device's own measured limits (see GpuBench). */
    private int gpu(CudaBackend cuda, String reason, Set<String> run, PrintWriter out) throws Exception {
        out.printf("bench: %s (%s)%n", cuda.description(), reason);
        machine = MachineInfo.detect(cuda);
        machine.print(out);
        BenchReport report = new BenchReport(out);
        GpuBench gb = new GpuBench(cuda, report);
        List<Runnable> tasks = new ArrayList<>();
        List<String> labels = new ArrayList<>();
        if (run.contains("prefill")) {
            List<Integer> ls = tiny ? List.of(65) : quick ? List.of(512, 1024, 2048, 4096, 8192) : lengths;
            for (int l : ls) {
                for (int d : new int[] {64, 128}) {
                    for (boolean causal : new boolean[] {true, false}) {
                        labels.add("prefill L=" + l + " d=" + d + (causal ? " causal" : ""));
                        int heads = tiny ? 2 : 2048 / d; // hidden 2048 worth of heads, as FlashAttention-2's benchmark
                        tasks.add(() -> gb.prefill(l, d, heads, tiny ? 1 : heads, causal, tiny ? l : 16384, report));
                    }
                }
            }
        }
        if (run.contains("decode")) {
            for (int[] bc : tiny ? List.of(new int[] {1, 40}) : GpuBench.decodeShapes(quick)) {
                labels.add("decode B=" + bc[0] + " ctx=" + bc[1]);
                tasks.add(() -> gb.decode(bc[0], bc[1], report));
            }
        }
        if (run.contains("gemv")) {
            int[][] shapes = tiny ? new int[][] {{64, 64}} : new int[][] {{4096, 4096}, {14336, 4096}, {4096, 14336},
                {128256, 2048}};
            for (int[] s : shapes) {
                labels.add("gemv " + s[0] + "x" + s[1]);
                tasks.add(() -> gb.gemv(s[0], s[1], 1, report));
            }
        }
        if (run.contains("model")) {
            if (tiny) {
                labels.add("model tiny");
                tasks.add(() -> gb.model(LlamaConfig.builder().vocabSize(256).hiddenSize(64).numHiddenLayers(1)
                        .numAttentionHeads(1).numKeyValueHeads(1).intermediateSize(64).maxPositionEmbeddings(64)
                        .build(), 4, 2, 1, report));
            } else {
                int steps = quick ? 16 : decodeTokens;
                for (int batch : quick ? new int[] {1, 8} : new int[] {1, 8, 32}) {
                    labels.add("model 1B batch " + batch);
                    tasks.add(() -> gb.model(GpuBench.llama32OneB(), 128, steps, batch, report));
                }
                for (int batch : quick ? new int[] {1} : new int[] {1, 8, 32}) {
                    labels.add("model 8B batch " + batch);
                    tasks.add(() -> gb.model(GpuBench.llama31EightB(), 128, steps, batch, report));
                }
            }
        }
        runAll(labels, tasks, report, out);
        return 0;
    }

    /** Runs the sections in order under the progress bar, then writes the CSV and the charts. */
    private void runAll(List<String> labels, List<Runnable> tasks, BenchReport report, PrintWriter out)
            throws java.io.IOException {
        io.attnrt.bench.Progress progress = new io.attnrt.bench.Progress(System.err, tasks.size(), !noProgress);
        for (int i = 0; i < tasks.size(); i++) {
            progress.step(labels.get(i));
            tasks.get(i).run();
        }
        progress.finish();
        report.writeCsv(csv, machine.csvComments());
        out.printf("wrote %d rows to %s%n", report.rows().size(), csv);
        if (!noCharts) {
            Path dir = chartsDir != null ? chartsDir : csv.toAbsolutePath().getParent();
            for (Path chart : BenchCharts.writeOrWarn(report.rows(), machine, dir, spec.commandLine().getErr())) {
                out.printf("wrote chart %s%n", chart);
            }
        }
    }

    private List<AttentionBench.Shape> prefillShapes() {
        List<AttentionBench.Shape> shapes = new ArrayList<>();
        for (int l : lengths) {
            if (quick && l > 1024) {
                continue;
            }
            if (l <= 0) {
                throw new IllegalArgumentException("prefill length must be > 0, got " + l);
            }
            shapes.add(new AttentionBench.Shape(l, 128, 8, 2, true));   // Llama-style GQA 4:1
            if (l <= 4096) {
                shapes.add(new AttentionBench.Shape(l, 64, 8, 8, true)); // MHA, small heads
            }
            if (l <= 1024) {
                shapes.add(new AttentionBench.Shape(l, 128, 8, 1, false)); // MQA, bidirectional
            }
        }
        return shapes;
    }

    private List<DecodeBench.Shape> decodeShapes() {
        if (quick) {
            return List.of(new DecodeBench.Shape(1, 512, 128, 32, 8, 16), new DecodeBench.Shape(8, 512, 128, 32, 8, 16));
        }
        int[][] bc = {{1, 512}, {1, 4096}, {1, 16384}, {8, 512}, {8, 4096}, {32, 512}, {32, 2048}};
        List<DecodeBench.Shape> shapes = new ArrayList<>();
        for (int[] p : bc) {
            shapes.add(new DecodeBench.Shape(p[0], p[1], 128, 32, 8, 16));
        }
        // every GQA ratio at one context: 8 KV heads under 8 (MHA), 16 and 32 query heads, and 32/32 MHA
        for (int[] hk : new int[][] {{8, 8}, {16, 8}, {32, 32}}) {
            shapes.add(new DecodeBench.Shape(1, 4096, 128, hk[0], hk[1], 16));
        }
        return shapes;
    }
}
