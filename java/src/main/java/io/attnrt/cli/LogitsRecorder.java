package io.attnrt.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.attnrt.model.Generator;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Keeps the logits of every generation step of one request and writes them as JSON or NumPy .npy. */
final class LogitsRecorder implements Generator.LogitsListener {
    private final List<float[]> logits = new ArrayList<>();
    private final List<Integer> tokens = new ArrayList<>();

    @Override
    public void onLogits(int request, int step, float[] row, int token) {
        logits.add(row);
        tokens.add(token);
    }

    int steps() {
        return logits.size();
    }

    void write(Path file, String model, String backend, int[] prompt) throws IOException {
        if (file.getFileName().toString().endsWith(".npy")) {
            writeNpy(file);
            return;
        }
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("model", model);
        doc.put("backend", backend);
        doc.put("prompt", prompt);
        doc.put("tokens", tokens);
        doc.put("logits", logits);
        new ObjectMapper().disable(SerializationFeature.INDENT_OUTPUT).writeValue(file.toFile(), doc);
    }

    /** float32 C-order array of shape [steps, vocab] (NumPy format 1.0). */
    private void writeNpy(Path file) throws IOException {
        int vocab = logits.isEmpty() ? 0 : logits.get(0).length;
        String dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + logits.size() + ", " + vocab + "), }";
        int unpadded = 10 + dict.length() + 1;
        int padded = (unpadded + 63) / 64 * 64;
        String header = dict + " ".repeat(padded - unpadded) + "\n";
        try (OutputStream os = Files.newOutputStream(file)) {
            os.write(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0});
            os.write(new byte[] {(byte) (header.length() & 0xff), (byte) (header.length() >>> 8)});
            os.write(header.getBytes(StandardCharsets.US_ASCII));
            ByteBuffer buf = ByteBuffer.allocate(vocab * 4).order(ByteOrder.LITTLE_ENDIAN);
            for (float[] row : logits) {
                buf.clear();
                buf.asFloatBuffer().put(row);
                os.write(buf.array(), 0, vocab * 4);
            }
        }
    }
}
