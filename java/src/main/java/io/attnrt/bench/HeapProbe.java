package io.attnrt.bench;

import java.lang.management.ManagementFactory;

/**
 * Bytes allocated on the Java heap by every thread of the JVM (pool workers included) between two reads.
 * Added to the bytes of live tensors, it bounds an op's transient peak memory from above: what an op
 * allocates while it runs is at most what it could hold at once.
 */
final class HeapProbe {
    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    private HeapProbe() {
    }

    static boolean supported() {
        return THREADS.isThreadAllocatedMemorySupported() && THREADS.isThreadAllocatedMemoryEnabled();
    }

    /** Total bytes allocated so far by all live threads. */
    static long allocatedBytes() {
        long[] ids = THREADS.getAllThreadIds();
        long sum = 0;
        for (long a : THREADS.getThreadAllocatedBytes(ids)) {
            if (a > 0) {
                sum += a;
            }
        }
        return sum;
    }
}
