package io.attnrt.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.attnrt.backend.reference.ReferenceBackend;
import io.attnrt.tensor.DType;
import io.attnrt.backend.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LlamaWeightsTest {
    static final Path TINY = LlamaConfigTest.TINY;
    static final Path SHARDED = LlamaConfigTest.TINY_BF16;

    @TempDir
    Path dir;

    /** The tensor's values decoded straight from the file bytes, independently of the loader and backend. */
    private static float[] fileValues(WeightFiles files, String name) {
        TensorInfo info = files.info(name);
        ByteBuffer b = files.data(name).order(ByteOrder.LITTLE_ENDIAN);
        float[] out = new float[(int) info.numel()];
        for (int i = 0; i < out.length; i++) {
            out[i] = switch (info.dtype()) {
                case F32 -> b.getFloat(4 * i);
                case BF16 -> Float.intBitsToFloat((b.getShort(2 * i) & 0xffff) << 16);
                case F16 -> throw new AssertionError("no F16 test model");
                default -> throw new AssertionError("not an element type: " + info.dtype());
            };
        }
        return out;
    }

    /** The rows [first, first + count) of a backend tensor: where one checkpoint tensor landed. */
    private record Rows(Tensor tensor, int first, int count) {
        Rows(Tensor t) {
            this(t, 0, t.dim(0));
        }

        float[] download(ReferenceBackend backend) {
            int cols = (int) (tensor.numel() / tensor.dim(0));
            return Arrays.copyOfRange(backend.download(tensor), first * cols, (first + count) * cols);
        }
    }

    /** name -> where it is, for every checkpoint tensor, in the Hugging Face naming. */
    private static Map<String, Rows> byName(LlamaWeights w) {
        Map<String, Rows> m = new LinkedHashMap<>();
        m.put("model.embed_tokens.weight", new Rows(w.embedTokens()));
        for (int i = 0; i < w.numLayers(); i++) {
            LayerWeights l = w.layer(i);
            String p = "model.layers." + i + ".";
            m.put(p + "input_layernorm.weight", new Rows(l.attnNorm()));
            m.put(p + "self_attn.q_proj.weight", new Rows(l.wq()));
            m.put(p + "self_attn.k_proj.weight", new Rows(l.wk()));
            m.put(p + "self_attn.v_proj.weight", new Rows(l.wv()));
            m.put(p + "self_attn.o_proj.weight", new Rows(l.wo()));
            m.put(p + "post_attention_layernorm.weight", new Rows(l.mlpNorm()));
            int inter = l.wGateUp().dim(0) / 2;
            m.put(p + "mlp.gate_proj.weight", new Rows(l.wGateUp(), 0, inter));
            m.put(p + "mlp.up_proj.weight", new Rows(l.wGateUp(), inter, inter));
            m.put(p + "mlp.down_proj.weight", new Rows(l.wDown()));
        }
        m.put("model.norm.weight", new Rows(w.finalNorm()));
        if (!w.tiedEmbeddings()) {
            m.put("lm_head.weight", new Rows(w.lmHead()));
        }
        return m;
    }

    private static void assertLoadsExactly(Path modelDir, DType dtype, boolean tied) {
        LlamaConfig cfg = LlamaConfig.load(modelDir.resolve("config.json"));
        ReferenceBackend backend = new ReferenceBackend();
        try (WeightFiles files = WeightFiles.open(modelDir)) {
            LlamaWeights w = LlamaWeights.load(files, cfg, backend);
            assertEquals(cfg, w.config());
            assertEquals(2, w.numLayers());
            assertEquals(tied, w.tiedEmbeddings());
            if (tied) {
                assertSame(w.embedTokens(), w.lmHead());
            } else {
                assertNotEquals(w.embedTokens(), w.lmHead());
            }
            Map<String, Rows> tensors = byName(w);
            assertEquals(files.names().size(), tensors.size());
            long fileBytes = 0;
            for (Map.Entry<String, Rows> e : tensors.entrySet()) {
                Rows r = e.getValue();
                assertEquals(dtype, r.tensor().dtype(), e.getKey());
                int[] shape = r.tensor().shape();
                shape[0] = r.count();
                assertArrayEquals(files.info(e.getKey()).shape(), shape, e.getKey());
                float[] expected = fileValues(files, e.getKey());
                float[] actual = r.download(backend);
                // bit-exact: uploading raw bytes must not round anything
                for (int i = 0; i < expected.length; i++) {
                    if (Float.floatToRawIntBits(expected[i]) != Float.floatToRawIntBits(actual[i])) {
                        throw new AssertionError(e.getKey() + "[" + i + "]: file " + expected[i] + ", backend " + actual[i]);
                    }
                }
                fileBytes += files.info(e.getKey()).byteSize();
            }
            assertEquals(fileBytes, w.bytes());
            assertEquals(fileBytes, backend.bytesInUse());
            w.close();
            w.close();
            assertEquals(0, backend.bytesInUse());
            assertThrows(IllegalStateException.class, w::embedTokens);
        }
    }

    @Test
    void loadsTinyF32Exactly() {
        assertLoadsExactly(TINY, DType.F32, false);
    }

    @Test
    void loadsShardedTiedBf16Exactly() {
        assertLoadsExactly(SHARDED, DType.BF16, true);
    }

    // ---------------------------------------------------------------- bad models

    /** Copies tiny-llama into the temp dir, with {@code replace} tensors swapped in and {@code drop} left out. */
    private Path tinyCopy(Map<String, float[][]> replace, String... drop) throws IOException {
        Files.copy(TINY.resolve("config.json"), dir.resolve("config.json"));
        SafetensorsTestWriter out = new SafetensorsTestWriter();
        try (WeightFiles files = WeightFiles.open(TINY)) {
            for (String name : files.names()) {
                if (Arrays.asList(drop).contains(name)) {
                    continue;
                }
                if (replace.containsKey(name)) {
                    float[][] rows = replace.get(name);
                    ByteBuffer b = ByteBuffer.allocate(rows.length * rows[0].length * 4).order(ByteOrder.LITTLE_ENDIAN);
                    for (float[] r : rows) {
                        for (float v : r) {
                            b.putFloat(v);
                        }
                    }
                    out.add(name, "F32", new int[] {rows.length, rows[0].length}, b.array());
                } else {
                    ByteBuffer src = files.data(name);
                    byte[] bytes = new byte[src.remaining()];
                    src.get(bytes);
                    out.add(name, "F32", files.info(name).shape(), bytes);
                }
            }
        }
        out.write(dir.resolve(WeightFiles.SINGLE_FILE));
        return dir;
    }

    @Test
    void wrongShapeIsReportedBeforeAnythingIsUploaded() throws IOException {
        String k = "model.layers.0.self_attn.k_proj.weight";
        Path model = tinyCopy(Map.of(k, new float[64][64]));
        LlamaConfig cfg = LlamaConfig.load(model.resolve("config.json"));
        ReferenceBackend backend = new ReferenceBackend();
        Tensor unrelated = backend.upload(new float[] {1, 2, 3}, DType.F32, 3);
        long before = backend.bytesInUse();
        try (WeightFiles files = WeightFiles.open(model)) {
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> LlamaWeights.load(files, cfg, backend));
            assertEquals("tensor " + k + " in " + model.resolve(WeightFiles.SINGLE_FILE) + " has shape [64, 64] but the"
                    + " config (num_key_value_heads=2, head_dim=16, hidden_size=64) needs [32, 64]", e.getMessage());
        }
        assertEquals(before, backend.bytesInUse());
        assertArrayEquals(new float[] {1, 2, 3}, backend.download(unrelated));
    }

    @Test
    void missingTensorIsNamed() throws IOException {
        String up = "model.layers.1.mlp.up_proj.weight";
        Path model = tinyCopy(Map.of(), up);
        ReferenceBackend backend = new ReferenceBackend();
        try (WeightFiles files = WeightFiles.open(model)) {
            ModelFormatException e = assertThrows(ModelFormatException.class,
                    () -> LlamaWeights.load(files, LlamaConfig.load(model.resolve("config.json")), backend));
            assertTrue(e.getMessage().contains(up) && e.getMessage().contains(model.toString()), e.getMessage());
        }
        assertEquals(0, backend.bytesInUse());
    }

    @Test
    void untiedModelNeedsItsLmHead() throws IOException {
        Path model = tinyCopy(Map.of(), "lm_head.weight");
        try (WeightFiles files = WeightFiles.open(model)) {
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> LlamaWeights.load(files,
                    LlamaConfig.load(model.resolve("config.json")), new ReferenceBackend()));
            assertTrue(e.getMessage().contains("lm_head.weight") && e.getMessage().contains("tie_word_embeddings"),
                    e.getMessage());
        }
    }

    @Test
    void configWithMoreLayersThanTheFiles() {
        LlamaConfig three = new LlamaConfig(64, 176, 4, 2, 3, 16, 1e-5, 10000, 256, 256, false);
        try (WeightFiles files = WeightFiles.open(TINY)) {
            ModelFormatException e = assertThrows(ModelFormatException.class,
                    () -> LlamaWeights.load(files, three, new ReferenceBackend()));
            assertTrue(e.getMessage().contains("model.layers.2.input_layernorm.weight"), e.getMessage());
        }
    }

    @Test
    void tensorsTheConfigDoesNotUseAreRefusedByName() {
        LlamaConfig one = new LlamaConfig(64, 176, 4, 2, 1, 16, 1e-5, 10000, 256, 256, false);
        ReferenceBackend backend = new ReferenceBackend();
        try (WeightFiles files = WeightFiles.open(TINY)) {
            ModelFormatException e = assertThrows(ModelFormatException.class,
                    () -> LlamaWeights.load(files, one, backend));
            assertTrue(e.getMessage().contains("not used by the config") && e.getMessage().contains("model.layers.1."),
                    e.getMessage());
        }
        assertEquals(0, backend.bytesInUse(), "nothing loaded half-way");
    }

    /** Fails the n-th raw upload, as a device running out of memory would. */
    private static final class FailingBackend extends ReferenceBackend {
        private int uploadsLeft;

        FailingBackend(int failOnUpload) {
            this.uploadsLeft = failOnUpload;
        }

        @Override
        public Tensor uploadRaw(ByteBuffer littleEndian, DType dtype, int... shape) {
            if (--uploadsLeft == 0) {
                throw new IllegalStateException("simulated out of memory");
            }
            return super.uploadRaw(littleEndian, dtype, shape);
        }
    }

    @Test
    void failedUploadFreesWhatWasUploaded() {
        LlamaConfig cfg = LlamaConfig.load(TINY.resolve("config.json"));
        FailingBackend backend = new FailingBackend(12);
        Tensor unrelated = backend.upload(new float[] {4, 5}, DType.F32, 2);
        long before = backend.bytesInUse();
        try (WeightFiles files = WeightFiles.open(TINY)) {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> LlamaWeights.load(files, cfg, backend));
            assertEquals("simulated out of memory", e.getMessage());
        }
        assertEquals(before, backend.bytesInUse());
        assertFalse(unrelated.isFreed());
    }

    // ---------------------------------------------------------------- random weights

    private static double mean(float[] v) {
        double s = 0;
        for (float x : v) {
            s += x;
        }
        return s / v.length;
    }

    private static double std(float[] v) {
        double m = mean(v);
        double s = 0;
        for (float x : v) {
            s += (x - m) * (x - m);
        }
        return Math.sqrt(s / v.length);
    }

    @Test
    void randomWeightsHaveTheConfigShapesAndScales() {
        LlamaConfig cfg = LlamaConfig.builder().vocabSize(300).hiddenSize(96).numHiddenLayers(2).numAttentionHeads(6)
                .numKeyValueHeads(2).intermediateSize(200).build();
        ReferenceBackend backend = new ReferenceBackend();
        try (LlamaWeights w = LlamaWeights.random(cfg, backend, DType.F32, 42)) {
            assertEquals(cfg.parameterCount() * 4, w.bytes());
            assertEquals(w.bytes(), backend.bytesInUse());
            LayerWeights l = w.layer(1);
            assertArrayEquals(new int[] {96, 96}, l.wq().shape());
            assertArrayEquals(new int[] {32, 96}, l.wk().shape());
            assertArrayEquals(new int[] {96, 200}, l.wDown().shape());
            assertArrayEquals(new int[] {300, 96}, w.lmHead().shape());

            assertArrayEquals(new int[] {400, 96}, l.wGateUp().shape());
            float[] gate = Arrays.copyOf(backend.download(l.wGateUp()), 200 * 96);
            assertEquals(0, mean(gate), 0.01);
            assertEquals(1 / Math.sqrt(96), std(gate), 0.05 / Math.sqrt(96));
            float[] down = backend.download(l.wDown());
            assertEquals(1 / Math.sqrt(200), std(down), 0.05 / Math.sqrt(200));
            float[] embed = backend.download(w.embedTokens());
            assertEquals(1.0, std(embed), 0.05);
            float[] norm = backend.download(l.attnNorm());
            assertEquals(1.0, mean(norm), 0.02);
            double normStd = std(norm);
            assertTrue(normStd > 0.02 && normStd < 0.08, "norm weights should be 1 ± 0.05, std " + normStd);
            // distinct tensors (and the gate and up halves of the fused one) get distinct draws
            float[] gateUp = backend.download(l.wGateUp());
            assertFalse(Arrays.equals(gate, Arrays.copyOfRange(gateUp, 200 * 96, 400 * 96)));
            assertFalse(Arrays.equals(backend.download(l.wq()), backend.download(l.wk())));
        }
        assertEquals(0, backend.bytesInUse());
    }

    @Test
    void randomWeightsAreDeterministicPerSeed() {
        LlamaConfig cfg = LlamaConfig.builder().vocabSize(50).hiddenSize(32).numHiddenLayers(1).numAttentionHeads(2)
                .intermediateSize(40).tieWordEmbeddings(true).build();
        ReferenceBackend backend = new ReferenceBackend();
        try (LlamaWeights a = LlamaWeights.random(cfg, backend, DType.BF16, 7);
             LlamaWeights b = LlamaWeights.random(cfg, backend, DType.BF16, 7);
             LlamaWeights c = LlamaWeights.random(cfg, backend, DType.BF16, 8)) {
            assertEquals(DType.BF16, a.layer(0).wv().dtype());
            assertSame(a.embedTokens(), a.lmHead());
            // a tied embedding is the output head, so it is scaled like one
            assertEquals(1 / Math.sqrt(32), std(backend.download(a.embedTokens())), 0.1 / Math.sqrt(32));
            assertArrayEquals(backend.download(a.layer(0).wo()), backend.download(b.layer(0).wo()));
            assertFalse(Arrays.equals(backend.download(a.layer(0).wo()), backend.download(c.layer(0).wo())));
            assertEquals(cfg.parameterCount() * 2, a.bytes());
        }
        assertEquals(0, backend.bytesInUse());
    }

    @Test
    void randomBenchmarkWeightsAreQuickToMake() {
        LlamaConfig cfg = LlamaConfig.benchmark();
        ReferenceBackend backend = new ReferenceBackend();
        long start = System.nanoTime();
        try (LlamaWeights w = LlamaWeights.random(cfg, backend, DType.BF16, 1)) {
            double seconds = (System.nanoTime() - start) / 1e9;
            assertEquals(cfg.parameterCount() * 2, w.bytes());
            assertTrue(seconds < 20, "generating " + cfg.parameterCount() + " parameters took " + seconds + " s");
        }
    }

    @Test
    void layerIndexIsCheckedAndTensorsLiveOnTheGivenBackend() {
        ReferenceBackend backend = new ReferenceBackend();
        LlamaConfig cfg = LlamaConfig.load(TINY.resolve("config.json"));
        try (WeightFiles files = WeightFiles.open(TINY); LlamaWeights w = LlamaWeights.load(files, cfg, backend)) {
            assertThrows(IndexOutOfBoundsException.class, () -> w.layer(2));
            assertThrows(IndexOutOfBoundsException.class, () -> w.layer(-1));
            for (Tensor t : byName(w).values().stream().map(Rows::tensor).toList()) {
                assertSame(backend, t.backend());
                assertFalse(t.isFreed());
            }
        }
    }
}
