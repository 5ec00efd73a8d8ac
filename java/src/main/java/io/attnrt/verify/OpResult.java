package io.attnrt.verify;

import java.util.Locale;

/**
 * The outcome of one {@link OpCase}: how far the candidate backend's outputs are from the reference's.
 *
 * <p>For floating-point outputs, element i passes iff {@code |a − r| ≤ atol + rtol·|r|} (a = candidate,
 * r = reference); {@code maxAbsError} is the largest {@code |a − r|}, and {@code maxRelError} the largest
 * {@code |a − r| / max(|r|, 1e-6·scale)} where scale is the largest |r| of that output — the floor keeps
 * elements that happen to be near zero from reporting huge relative errors that mean nothing. Integer
 * outputs (argmax, sample) must match exactly: atol = rtol = 0, maxAbsError is the largest index
 * difference and maxRelError the fraction of entries that differ.
 *
 * @param op          the Backend op name, e.g. {@code attentionPrefill}
 * @param shape       the case's shapes and options in words
 * @param maxAbsError see above; NaN when no comparison happened
 * @param maxRelError see above; NaN when no comparison happened
 * @param atol        absolute tolerance of the case
 * @param rtol        relative tolerance of the case
 * @param passed      every element within tolerance and no error
 * @param error       null, or why the case could not be compared: the candidate threw (the exception's
 *                    class and message), or returned NaN/Inf where the reference is finite
 */
public record OpResult(String op, String shape, double maxAbsError, double maxRelError, double atol, double rtol,
                       boolean passed, String error) {

    /** One aligned line for logs and the verify command. */
    public String summary() {
        String verdict = passed ? "PASS" : "FAIL";
        String detail = error != null ? "  error: " + error
                : String.format(Locale.ROOT, "  maxAbs=%.3e maxRel=%.3e (atol=%.1e rtol=%.1e)",
                        maxAbsError, maxRelError, atol, rtol);
        return String.format(Locale.ROOT, "%s %-17s %s%s", verdict, op, shape, detail);
    }
}
