package io.attnrt.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The attnrt command line end to end, in-process. */
class AttnrtCliTest {
    private static final String NL = System.lineSeparator();
    private static final Pattern RUN_TEXT = Pattern.compile("(?s).*" + NL + "text:      (.*)" + NL
            + "generated: \\[(.*?)]" + NL + ".*");

    record Outcome(int exit, String out, String err) {
    }

    /** test-data/tiny-llama's files into dir, for a model directory a test adds tokenizer files to. */
    static void copyTinyLlama(Path dir) throws java.io.IOException {
        try (var files = Files.list(Path.of("test-data", "tiny-llama"))) {
            for (Path f : files.toList()) {
                Files.copy(f, dir.resolve(f.getFileName()));
            }
        }
    }

    static Outcome run(String... args) {
        CommandLine cl = AttnrtCli.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int exit = cl.execute(args);
        return new Outcome(exit, out.toString(), err.toString());
    }

    record Generated(String text, int[] ids) {
    }

    /** What {@code run} prints for these arguments (a fresh prefill: no cache shared with chat). */
    static Generated runGenerated(String... args) {
        Outcome o = AttnrtCliTest.run(args);
        assertEquals(0, o.exit(), o.err());
        Matcher m = RUN_TEXT.matcher(o.out());
        assertTrue(m.matches(), o.out());
        int[] ids = m.group(2).isEmpty() ? new int[0]
                : java.util.Arrays.stream(m.group(2).split(", ")).mapToInt(Integer::parseInt).toArray();
        return new Generated(m.group(1), ids);
    }

    /** Where {@code part} first occurs in {@code ids}, or -1. */
    static int indexOf(int[] ids, int[] part) {
        for (int i = 0; i + part.length <= ids.length; i++) {
            if (java.util.Arrays.equals(ids, i, i + part.length, part, 0, part.length)) {
                return i;
            }
        }
        return -1;
    }

    @Test
    void runWithoutArgumentsGeneratesFromTheBuiltInModel() {
        Outcome o = run("run", "-n", "12", "--backend", "cpu", "--stop-token", "-1");
        assertEquals(0, o.exit(), o.err());
        assertTrue(o.out().contains("built-in tiny-llama"), o.out());
        assertTrue(o.out().contains("backend:   cpu"), o.out());
        assertTrue(o.out().matches("(?s).*generated: \\[(\\d+, ){11}\\d+\\].*"), o.out());
        assertTrue(o.out().contains("tokens/s"), o.out());
        // prefill, the decode rate over its second half, and what a fresh process waits for before the first token
        assertTrue(o.out().matches("(?s).*\nsteady:    \\d+\\.\\d tokens/s \\(decode tokens 7-11\\)\n.*"), o.out());
        assertTrue(o.out().matches("(?s).*\nfirst token: \\d+\\.\\d ms after the model was ready \\(time to first "
                + "token\\); JVM start \\d+ ms, backend \\+ model load \\d+ ms\n.*"), o.out());
    }

    @Test
    void runMatchesTheReferenceGreedyContinuation() throws Exception {
        JsonNode c = new ObjectMapper().readTree(Path.of("test-data/tiny-llama/reference.json").toFile())
                .get("cases").get(2);
        StringBuilder ids = new StringBuilder();
        for (JsonNode t : c.get("prompt")) {
            ids.append(ids.length() == 0 ? "" : ",").append(t.asInt());
        }
        Outcome o = run("run", "--model", "test-data/tiny-llama", "--tokens", ids.toString(), "-n", "16");
        assertEquals(0, o.exit(), o.err());
        String expected = c.get("greedy").get("tokens").toString().replace(",", ", ");
        assertTrue(o.out().contains("generated: " + expected), o.out() + "\nexpected " + expected);
    }

    /** A GGUF file runs as it is: its own tokenizer turns the prompt into the byte ids of its reference. */
    @Test
    void runTakesAGgufFileWithItsTokenizer() throws Exception {
        JsonNode c = new ObjectMapper().readTree(Path.of("test-data/gguf/tiny-q4_k_m.reference.json").toFile())
                .get("cases").get(1);
        assertEquals("Hello", c.get("text").asText());
        Outcome o = run("run", "--model", "test-data/gguf/tiny-q4_k_m.gguf", "--prompt", "Hello", "-n", "8",
                "--backend", "cpu");
        assertEquals(0, o.exit(), o.err());
        String expected = c.get("greedy").get("tokens").toString().replace(",", ", ");
        assertTrue(o.out().contains("generated: " + expected), o.out() + "\nexpected " + expected);
        Outcome t = run("tokenize", "--model", "test-data/gguf/tiny-q4_k_m.gguf", "--text", "Hello");
        assertEquals(0, t.exit(), t.err());
        assertEquals("72,101,108,108,111", t.out().trim());
    }

    @Test
    void aFileThatIsNotGgufIsAClearError() {
        Outcome o = run("run", "--model", "test-data/tiny-llama/config.json", "-n", "2", "--backend", "cpu");
        assertEquals(2, o.exit());
        assertTrue(o.err().contains("is a file but not a GGUF file"), o.err());
    }

    @Test
    void cudaBackendAnswersWithAClearError() {
        Outcome o = run("run", "--backend", "cuda");
        assertEquals(2, o.exit());
        assertTrue(o.err().contains("cuda") && o.err().contains("not available"), o.err());
    }

    @Test
    void tokenOutsideTheVocabularyIsAClearError() {
        Outcome o = run("run", "--tokens", "1,2,999", "--backend", "cpu");
        assertEquals(2, o.exit());
        assertTrue(o.err().contains("token id 999"), o.err());
    }

    @Test
    void runTokenizesThePromptWithTheModelsTokenizerAndStreamsTheText(@TempDir Path dir) throws Exception {
        // tiny-llama is byte-level; bytes-256 is the Hugging Face tokenizer.json that says so
        copyTinyLlama(dir);
        Files.copy(Path.of("test-data", "tokenizers", "bytes-256", "tokenizer.json"), dir.resolve("tokenizer.json"));
        Outcome o = run("run", "--model", dir.toString(), "--prompt", "Hello", "-n", "8", "--backend", "cpu");
        assertEquals(0, o.exit(), o.err());
        assertTrue(o.out().contains("prompt:    [72, 101, 108, 108, 111]"), o.out());
        JsonNode hello = new ObjectMapper().readTree(dir.resolve("reference.json").toFile()).get("cases").get(1);
        assertEquals("Hello", hello.get("text").asText());
        int[] greedy = new int[8];
        for (int i = 0; i < 8; i++) {
            greedy[i] = hello.get("greedy").get("tokens").get(i).intValue();
        }
        assertTrue(o.out().contains("generated: " + java.util.Arrays.toString(greedy)), o.out());
        try (io.attnrt.text.Tokenizer t = io.attnrt.text.Tokenizer.load(dir)) {
            String text = t.decode(greedy, true);
            assertTrue(o.out().contains("text:      " + text + System.lineSeparator()), o.out() + "\nexpected " + text);
        }
    }

    @Test
    void stopEndsTheRunAtTheTokenThatCompletesItAndLeavesItOutOfTheText(@TempDir Path dir) throws Exception {
        copyTinyLlama(dir);
        Files.copy(Path.of("test-data", "tokenizers", "bytes-256", "tokenizer.json"), dir.resolve("tokenizer.json"));
        String[] hello = {"run", "--model", dir.toString(), "--prompt", "Hello", "-n", "16", "--backend", "cpu"};
        Generated full = runGenerated(hello);
        assertTrue(full.text().contains("T."), "the greedy text no longer contains the stop string: " + full.text());
        String[] withStop = java.util.Arrays.copyOf(hello, hello.length + 4);
        withStop[hello.length] = "--stop";
        withStop[hello.length + 1] = "T.";
        withStop[hello.length + 2] = "--stop";
        withStop[hello.length + 3] = "not in the text";
        Generated stopped = runGenerated(withStop);
        assertEquals(full.text().substring(0, full.text().indexOf("T.")), stopped.text());
        int at = indexOf(full.ids(), new int[] {'T', '.'});
        assertTrue(at > 0 && at + 2 < full.ids().length, java.util.Arrays.toString(full.ids()));
        assertEquals(java.util.Arrays.toString(java.util.Arrays.copyOf(full.ids(), at + 2)),
                java.util.Arrays.toString(stopped.ids()), "generated: up to the token that completed the match");

        Outcome noTokenizer = run("run", "--model", "test-data/tiny-llama", "--stop", "x", "--backend", "cpu");
        assertEquals(2, noTokenizer.exit());
        assertTrue(noTokenizer.err().contains("--stop needs the model directory's tokenizer.json"), noTokenizer.err());
    }

    @Test
    void chatRendersTheTemplateOfTokenizerConfigAroundThePrompt(@TempDir Path dir) throws Exception {
        copyTinyLlama(dir);
        Outcome noTokenizer = run("run", "--model", dir.toString(), "--prompt", "Hi", "--chat", "--backend", "cpu");
        assertEquals(2, noTokenizer.exit());
        assertTrue(noTokenizer.err().contains("--chat needs") && noTokenizer.err().contains("tokenizer.json"),
                noTokenizer.err());
        Files.copy(Path.of("test-data", "tokenizers", "bytes-256", "tokenizer.json"), dir.resolve("tokenizer.json"));
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"chat_template\": \"{% for m in messages %}"
                + "<{{ m.role }}>{{ m.content }}{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}\"}");
        Outcome o = run("run", "--model", dir.toString(), "--prompt", "Hi", "--chat", "--system", "Be kind", "-n", "2",
                "--backend", "cpu");
        assertEquals(0, o.exit(), o.err());
        int[] expected = "<system>Be kind<user>Hi<assistant>".chars().toArray();
        assertTrue(o.out().contains("prompt:    " + java.util.Arrays.toString(expected)), o.out());
        Outcome systemAlone = run("run", "--model", dir.toString(), "--prompt", "Hi", "--system", "x");
        assertEquals(2, systemAlone.exit());
        assertTrue(systemAlone.err().contains("--system needs --chat"), systemAlone.err());
    }

    @Test
    void generationStopsAtTheModelsContext() {
        // tiny-llama's context is 256 tokens; the built-in prompt is 14 bytes
        Outcome o = run("run", "-n", "1000", "--backend", "cpu");
        assertEquals(0, o.exit(), o.err());
        assertTrue(o.out().matches("(?s).*generated: \\[(\\d+, ){241}\\d+\\].*"), o.out());
    }

    @Test
    void tokenizePrintsIdsOrPiecesFromTheTokenizerAlone() {
        Path bpe = Path.of("test-data", "tokenizers", "byte-level-bpe");
        Outcome ids = run("tokenize", "--model", bpe.toString(), "--text", "Hello world");
        assertEquals(0, ids.exit(), ids.err());
        assertEquals("471,72,101,293,277", ids.out().strip());
        Outcome plain = run("tokenize", "--model", bpe.toString(), "--text", "Hello world", "--no-special", "--pieces");
        assertEquals(List.of("72\tH", "101\te", "293\tllo", "277\t\u0120world"), plain.out().strip().lines().toList());
        Outcome none = run("tokenize", "--model", "test-data/tiny-llama", "--text", "x");
        assertEquals(2, none.exit());
        assertTrue(none.err().contains("no tokenizer.json"), none.err());

        Outcome text = run("detokenize", "--model", bpe.toString(), "--ids", "471,72,101,293,277");
        assertEquals(0, text.exit(), text.err());
        assertEquals("<|begin_of_text|>Hello world", text.out().strip());
        assertEquals("Hello world", run("detokenize", "--model", bpe.toString(), "--ids", "471,72,101,293,277",
                "--skip-special").out().strip());
        Outcome outside = run("detokenize", "--model", bpe.toString(), "--ids", "72,9999");
        assertEquals(2, outside.exit());
        assertTrue(outside.err().contains("token id 9999 at position 1"), outside.err());
    }

    @Test
    void aTokenizerWithIdsBeyondTheEmbeddingIsRefused(@TempDir Path dir) throws Exception {
        copyTinyLlama(dir);
        Files.copy(Path.of("test-data", "tokenizers", "byte-level-bpe", "tokenizer.json"), dir.resolve("tokenizer.json"));
        Outcome o = run("run", "--model", dir.toString(), "--prompt", "Hi", "--backend", "cpu");
        assertEquals(2, o.exit());
        assertTrue(o.err().contains("token ids up to 473") && o.err().contains("256 rows"), o.err());
    }

    @Test
    void missingModelDirectoryIsAClearError(@TempDir Path dir) {
        Outcome o = run("run", "--model", dir.resolve("nope").toString());
        assertEquals(2, o.exit());
        assertTrue(o.err().contains("nope"), o.err());
    }

    @Test
    void logitsOutWritesJsonAndNpy(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("logits.json");
        assertEquals(0, run("run", "-n", "5", "--logits-out", json.toString()).exit());
        JsonNode doc = new ObjectMapper().readTree(json.toFile());
        assertEquals(5, doc.get("logits").size());
        assertEquals(256, doc.get("logits").get(0).size());
        assertEquals(5, doc.get("tokens").size());

        Path npy = dir.resolve("logits.npy");
        assertEquals(0, run("run", "-n", "5", "--logits-out", npy.toString()).exit());
        byte[] bytes = Files.readAllBytes(npy);
        int headerLen = (bytes[8] & 0xff) | (bytes[9] & 0xff) << 8;
        String header = new String(bytes, 10, headerLen, java.nio.charset.StandardCharsets.US_ASCII);
        assertTrue(header.contains("'shape': (5, 256)"), header);
        assertEquals(10 + headerLen + 5 * 256 * 4, bytes.length);
        // the same run writes the same numbers in both formats
        ByteBuffer data = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(doc.get("logits").get(0).get(3).floatValue(), data.getFloat(10 + headerLen + 3 * 4), 0f);
    }

    @Test
    void verifyQuickPassesOnTheCpuBackend() {
        Outcome o = run("verify", "--quick", "--backend", "cpu");
        assertEquals(0, o.exit(), o.out() + o.err());
        assertTrue(o.out().matches("(?s).*\\n\\d+ passed, 0 failed\\n.*"), o.out());
    }

    @Test
    void benchWritesACsvWithTheMeasuredRows(@TempDir Path dir) throws Exception {
        Path csv = dir.resolve("bench.csv");
        Outcome o = run("bench", "--backend", "cpu", "--sections", "prefill", "--lengths", "64",
                "--csv", csv.toString(), "--no-progress");
        assertEquals(0, o.exit(), o.err());
        List<String> lines = Files.readAllLines(csv).stream().filter(l -> !l.startsWith("#")).toList();
        assertTrue(lines.get(0).startsWith("section,impl,config"), lines.get(0));
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("prefill-attention,cpu,")), lines.toString());
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("prefill-attention,naive-LxL,")), lines.toString());
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("prefill-attention,cpu/reference,")), lines.toString());
        // one length is no sweep: no chart
        assertFalse(o.out().contains("wrote chart"), o.out());
        assertFalse(Files.exists(dir.resolve("bench-prefill-attention.png")));
    }

    @Test
    void benchStatesTheMachineAndDrawsItsSweep(@TempDir Path dir) throws Exception {
        Path csv = dir.resolve("bench.csv");
        Outcome o = run("bench", "--backend", "cpu", "--sections", "prefill", "--lengths", "32,64",
                "--csv", csv.toString(), "--no-progress");
        assertEquals(0, o.exit(), o.err());
        // the machine before the table, key by key
        int machine = o.out().indexOf("machine:" + NL);
        int table = o.out().indexOf("section ");
        assertTrue(machine >= 0 && machine < table, o.out());
        for (String key : List.of("cpu", "logical_cpus", "cpu_simd_flags", "jvm_use_avx", "jvm_max_vector_size",
                "vector_api_float_bits", "backend", "threads", "jvm", "os")) {
            assertTrue(o.out().substring(machine, table).contains(NL + "  " + key + ": "), key + " in " + o.out());
        }
        // the same as # comments before the CSV's header
        List<String> lines = Files.readAllLines(csv);
        int header = lines.indexOf(lines.stream().filter(l -> l.startsWith("section,impl,config")).findFirst()
                .orElseThrow());
        assertTrue(header > 10, lines.toString());
        assertTrue(lines.subList(0, header).stream().allMatch(l -> l.startsWith("# ")), lines.toString());
        assertTrue(lines.contains("# threads: " + Runtime.getRuntime().availableProcessors()), lines.toString());
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("# backend: cpu: ")), lines.toString());
        assertTrue(lines.subList(header + 1, lines.size()).stream().noneMatch(l -> l.startsWith("#")));
        // two lengths are a sweep: its chart beside the CSV
        Path png = dir.resolve("bench-prefill-attention.png");
        assertTrue(o.out().contains("wrote chart " + png), o.out());
        java.awt.image.BufferedImage img = javax.imageio.ImageIO.read(png.toFile());
        assertEquals(io.attnrt.bench.BenchCharts.WIDTH, img.getWidth());
        assertEquals(io.attnrt.bench.BenchCharts.HEIGHT, img.getHeight());
        try (var files = Files.list(dir)) {
            assertEquals(List.of("bench-prefill-attention.png", "bench.csv"),
                    files.map(f -> f.getFileName().toString()).sorted().toList());
        }
    }

    @Test
    void benchChartsGoWhereTheyAreToldOrNowhere(@TempDir Path dir) throws Exception {
        String[] args = {"bench", "--backend", "cpu", "--sections", "prefill", "--lengths", "16,32",
            "--reference-max-length", "0", "--naive-max-length", "0", "--no-progress"};
        Outcome none = run(concat(args, "--csv", dir.resolve("a.csv").toString(), "--no-charts"));
        assertEquals(0, none.exit(), none.err());
        assertFalse(none.out().contains("wrote chart"), none.out());
        Outcome elsewhere = run(concat(args, "--csv", dir.resolve("b.csv").toString(), "--charts",
                dir.resolve("charts").toString()));
        assertEquals(0, elsewhere.exit(), elsewhere.err());
        assertTrue(Files.isRegularFile(dir.resolve("charts/bench-prefill-attention.png")), elsewhere.out());
        // a chart that cannot be written is a warning: the bench and its CSV stand
        Outcome blocked = run(concat(args, "--csv", dir.resolve("c.csv").toString(), "--charts",
                dir.resolve("b.csv").toString()));
        assertEquals(0, blocked.exit(), blocked.err());
        assertTrue(blocked.err().contains("bench: charts not drawn"), blocked.err());
        assertTrue(Files.readAllLines(dir.resolve("c.csv")).stream().anyMatch(l -> l.startsWith("prefill-attention,cpu,")));
        try (var files = Files.list(dir)) {
            assertEquals(List.of("a.csv", "b.csv", "c.csv", "charts"),
                    files.map(f -> f.getFileName().toString()).sorted().toList());
        }
    }

    private static String[] concat(String[] a, String... b) {
        String[] all = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }

    @Test
    void benchServeLoadsARealServerAndReportsEachScenario(@TempDir Path dir) throws Exception {
        Path csv = dir.resolve("bench.csv");
        Outcome o = run("bench", "--backend", "cpu", "--sections", "serve", "--quick", "--csv", csv.toString(),
                "--no-progress");
        assertEquals(0, o.exit(), o.err());
        List<String> lines = Files.readAllLines(csv);
        for (String row : new String[] {"serve,one-at-a-time,", "serve,batched-4,", "serve-long-prompt,chunked-128,",
                "serve-long-prompt,unchunked,", "serve-prefix-cache,cached,"}) {
            assertTrue(lines.stream().anyMatch(l -> l.startsWith(row)), row + " missing from " + lines);
        }
        // Every request of both runs was answered: the summary names the request rate of each.
        assertTrue(o.out().matches("(?s).*one-at-a-time +\\d+\\.\\d+ requests/s.*batched-4 +\\d+\\.\\d+ requests/s.*"),
                o.out());
    }

    @Test
    void benchEstimatesTheNaiveMemoryWhereItIsTooSlowToRun(@TempDir Path dir) throws Exception {
        Path csv = dir.resolve("bench.csv");
        Outcome o = run("bench", "--backend", "cpu", "--sections", "prefill", "--lengths", "96",
                "--naive-max-length", "64", "--reference-max-length", "0", "--csv", csv.toString(), "--no-progress");
        assertEquals(0, o.exit(), o.err());
        String est = Files.readAllLines(csv).stream().filter(l -> l.startsWith("prefill-attention,naive-LxL(est),"))
                .findFirst().orElseThrow(() -> new AssertionError(o.out()));
        // inputs + output + one 96x96 float score matrix of the d=128, 8/2-head shape
        double mib = (4.0 * (96 * 1024 * 2 + 2 * 96 * 256) + 4.0 * 96 * 96) / (1 << 20);
        assertTrue(est.contains(String.format(java.util.Locale.ROOT, "%.6g", mib)), est + " expected " + mib);
    }

    @Test
    void unknownBackendIsRejected() {
        Outcome o = run("verify", "--backend", "tpu");
        assertEquals(2, o.exit());
        assertTrue(o.err().contains("unknown backend 'tpu'"), o.err());
    }
}
