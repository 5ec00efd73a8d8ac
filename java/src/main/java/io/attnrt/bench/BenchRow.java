package io.attnrt.bench;

/**
 * One measured line of a benchmark. NaN marks a figure that doesn't apply.
 *
 * @param section     prefill-attention, decode-attention, model-prefill, model-decode, bandwidth
 * @param impl        what ran: a backend name, "naive-LxL", ...
 * @param config      shape in words
 * @param seconds     median wall time of one call
 * @param gflops      achieved GFLOP/s (attention FLOP = 4·L²·d·heads, halved when causal)
 * @param gbytes      achieved GB/s of bytes that must move (decode)
 * @param tokensPerS  tokens per second (whole-model rows)
 * @param peakMemMb   live tensors + heap allocated during the call, MiB (an upper bound of the peak)
 * @param versus      what the ratio compares with
 * @param ratio       this row's speed ÷ the compared one (or ÷ the machine limit)
 */
public record BenchRow(String section, String impl, String config, double seconds, double gflops, double gbytes,
                       double tokensPerS, double peakMemMb, String versus, double ratio) {
    static final String CSV_HEADER = "section,impl,config,seconds,gflops,gbytes_per_s,tokens_per_s,peak_mem_mib,versus,ratio";

    String csv() {
        return String.join(",", section, impl, '"' + config + '"', num(seconds), num(gflops), num(gbytes),
                num(tokensPerS), num(peakMemMb), versus == null ? "" : versus, num(ratio));
    }

    private static String num(double v) {
        return Double.isNaN(v) ? "" : String.format(java.util.Locale.ROOT, "%.6g", v);
    }
}
