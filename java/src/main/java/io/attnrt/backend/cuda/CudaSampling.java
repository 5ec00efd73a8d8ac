package io.attnrt.backend.cuda;

import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;

import io.attnrt.backend.SamplingParams;
import io.attnrt.tensor.DType;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;

/**
 * Device sampling through {@code sample_f32} (cuda/sampling.cu): per row the SamplingParams procedure in
 * double precision with exact fixed-point sums, so the token equals the reference's except when u lands
 * within ~1e-13 of a boundary or a cut falls among equally probable tokens of distinct logits (see the
 * kernel's header); only the token ids come back. Scratch layout in one workspace: probabilities [rows·vocab] doubles, then the per-row
 * uniforms (double), temperatures (float), top-p (float), top-k (int) and the result ids (int); 16-bit
 * logits are widened to F32 after that.
 */
final class CudaSampling {
    private CudaSampling() {
    }

    static int[] sample(CudaBackend be, CudaTensor logits, SamplingParams[] params, double[] uniforms,
                        Workspace scratch) {
        int rows = logits.dim(0);
        int vocab = logits.dim(1);
        int[] tokens = new int[rows];
        if (rows == 0) {
            return tokens;
        }
        float[] temperature = new float[rows];
        float[] topP = new float[rows];
        int[] topK = new int[rows];
        for (int r = 0; r < rows; r++) {
            temperature[r] = params[r].temperature();
            topP[r] = params[r].topP();
            topK[r] = params[r].topK();
        }
        long probs = 8L * rows * vocab;
        long uOff = probs;
        long tOff = uOff + 8L * rows;
        long pOff = tOff + 4L * rows;
        long kOff = pOff + 4L * rows;
        long outOff = kOff + 4L * rows;
        long widenOff = (outOff + 4L * rows + 15) & ~15L;
        boolean widen = logits.dtype() != DType.F32;
        CUdeviceptr base = scratch.get(widenOff + (widen ? 4L * rows * vocab : 0));
        cuMemcpyHtoD(base.withByteOffset(uOff), Pointer.to(uniforms), 8L * rows);
        cuMemcpyHtoD(base.withByteOffset(tOff), Pointer.to(temperature), 4L * rows);
        cuMemcpyHtoD(base.withByteOffset(pOff), Pointer.to(topP), 4L * rows);
        cuMemcpyHtoD(base.withByteOffset(kOff), Pointer.to(topK), 4L * rows);
        CUdeviceptr f32 = logits.ptr;
        if (widen) {
            long n = (long) rows * vocab;
            f32 = base.withByteOffset(widenOff);
            be.launch("convert_" + CudaBackend.sfx(logits.dtype()) + "_f32", (int) Math.min((n + 2047) / 2048, 65535),
                    1, 1, 256, 0, logits.ptr, f32, n);
        }
        be.launch("sample_f32", rows, 1, 1, 1024, 0, f32, rows, vocab, base.withByteOffset(tOff),
                base.withByteOffset(kOff), base.withByteOffset(pOff), base.withByteOffset(uOff),
                base.withByteOffset(outOff), base);
        cuMemcpyDtoH(Pointer.to(tokens), base.withByteOffset(outOff), 4L * rows);
        return tokens;
    }
}
