package io.attnrt.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

/** The pool runs every index exactly once per call, its results visible to the caller, whoever ran them. */
class WorkerPoolTest {

    @Test
    void everyIndexRunsExactlyOnceAndItsWritesAreVisibleOnReturn() {
        try (WorkerPool pool = new WorkerPool(3)) {
            java.util.SplittableRandom rnd = new java.util.SplittableRandom(7);
            for (int call = 0; call < 20_000; call++) {
                int count = 1 + rnd.nextInt(9); // mostly fewer tasks than a decode op has: helpers often find none
                int[] plain = new int[count]; // plain writes: visibility must come from the pool's hand-off
                AtomicIntegerArray runs = new AtomicIntegerArray(count);
                int stamp = call;
                pool.parallelFor(count, (i, worker) -> {
                    assertTrue(worker >= 0 && worker < 3);
                    runs.incrementAndGet(i);
                    plain[i] = stamp + i;
                });
                for (int i = 0; i < count; i++) {
                    assertEquals(1, runs.get(i), "call " + call + " index " + i);
                    assertEquals(stamp + i, plain[i], "call " + call + " index " + i);
                }
            }
        }
    }

    @Test
    void theFirstFailureIsRethrownAfterTheOtherTasksAndThePoolStaysUsable() {
        try (WorkerPool pool = new WorkerPool(2)) {
            IllegalStateException boom = new IllegalStateException("task 5 failed");
            int[] ran = new int[64];
            IllegalStateException thrown = assertThrows(IllegalStateException.class, () -> pool.parallelFor(64,
                    (i, worker) -> {
                        if (i == 5) {
                            throw boom;
                        }
                        ran[i] = 1;
                    }));
            assertSame(boom, thrown);
            int[] after = new int[16];
            pool.parallelFor(16, (i, worker) -> after[i] = i + 1);
            int[] want = new int[16];
            for (int i = 0; i < 16; i++) {
                want[i] = i + 1;
            }
            assertArrayEquals(want, after);
        }
    }

    @Test
    void longTasksSpreadOverTheHelpers() {
        try (WorkerPool pool = new WorkerPool(2)) {
            boolean[] seen = new boolean[2];
            for (int attempt = 0; attempt < 50 && !(seen[0] && seen[1]); attempt++) {
                pool.parallelFor(8, (i, worker) -> {
                    seen[worker] = true;
                    long until = System.nanoTime() + 2_000_000;
                    while (System.nanoTime() < until) {
                        Thread.onSpinWait();
                    }
                });
            }
            assertTrue(seen[0] && seen[1], "both the caller and the helper ran tasks");
        }
    }
}
