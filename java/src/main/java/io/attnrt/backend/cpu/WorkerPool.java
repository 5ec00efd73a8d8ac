package io.attnrt.backend.cpu;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed set of daemon threads running one parallel-for at a time. The calling thread takes part as
 * worker 0, so {@code threads} workers need only {@code threads - 1} extra threads and a one-thread pool
 * owns none. Task indices are handed out dynamically from a shared counter, which balances uneven tasks
 * (causal attention tiles) without any per-call allocation beyond one small job record.
 *
 * <p>Decode issues hundreds of short parallel-fors per token, so waking the workers must cost
 * microseconds: idle workers spin for up to {@link #SPIN_NANOS} before parking, and so does the caller
 * before waiting.
 */
final class WorkerPool implements AutoCloseable {

    /** One unit of a parallel-for: task {@code index}, run on worker {@code worker} (for per-thread scratch). */
    @FunctionalInterface
    interface Task {
        void run(int index, int worker);
    }

    /**
     * How long an idle thread spins before parking: longer than the gaps between the parallel ops of a decode
     * step (waking a parked thread costs tens of microseconds, as much as a whole small op), short enough
     * that an idle pool gives its cores back at once. Measured in time, not iterations: a pause instruction
     * lasts from a few to over a hundred cycles depending on the CPU.
     */
    private static final long SPIN_NANOS = 500_000;

    /** Whether a thread idle since {@code since} should keep spinning; reads the clock every 64th spin only. */
    private static boolean keepSpinning(int spins, long since) {
        return (spins & 63) != 0 || System.nanoTime() - since < SPIN_NANOS;
    }

    private final int threads;
    private final Thread[] helpers;
    private volatile Job current;
    private volatile boolean closed;

    WorkerPool(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("a worker pool needs at least 1 thread, got " + threads);
        }
        this.threads = threads;
        this.helpers = new Thread[threads - 1];
        for (int i = 0; i < helpers.length; i++) {
            int worker = i + 1;
            Thread t = new Thread(() -> helperLoop(worker), "attnrt-cpu-worker-" + worker);
            t.setDaemon(true);
            helpers[i] = t;
        }
        for (Thread t : helpers) {
            t.start();
        }
    }

    int threads() {
        return threads;
    }

    /**
     * Runs {@code task} for every index in [0, count) across the pool and returns when all are done. The
     * first exception a task throws is rethrown here (after the other tasks finish or are skipped).
     */
    synchronized void parallelFor(int count, Task task) {
        if (closed) {
            throw new IllegalStateException("the cpu backend's worker pool is closed");
        }
        if (count <= 0) {
            return;
        }
        if (count == 1 || helpers.length == 0 || isHelper(Thread.currentThread())) {
            for (int i = 0; i < count; i++) {
                task.run(i, 0);
            }
            return;
        }
        int participants = Math.min(threads, count);
        Job job = new Job(task, count, participants - 1, Thread.currentThread());
        current = job;
        for (int i = 0; i < participants - 1; i++) {
            LockSupport.unpark(helpers[i]);
        }
        job.work(0);
        job.awaitTasks();
        current = null;
        Throwable error = job.error;
        if (error instanceof RuntimeException re) {
            throw re;
        }
        if (error instanceof Error e) {
            throw e;
        }
        if (error != null) {
            throw new IllegalStateException(error);
        }
    }

    private boolean isHelper(Thread t) {
        for (Thread h : helpers) {
            if (h == t) {
                return true;
            }
        }
        return false;
    }

    private void helperLoop(int worker) {
        Job last = null;
        while (!closed) {
            Job job = current;
            int spins = 0;
            long idleSince = System.nanoTime();
            while ((job == null || job == last || worker > job.helpers) && !closed) {
                if (keepSpinning(++spins, idleSince)) {
                    Thread.onSpinWait();
                } else {
                    LockSupport.parkNanos(this, TimeUnit.MILLISECONDS.toNanos(100));
                }
                job = current;
            }
            if (closed) {
                return;
            }
            last = job;
            job.work(worker);
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Thread t : helpers) {
            LockSupport.unpark(t);
        }
        for (Thread t : helpers) {
            try {
                t.join(1000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private static final class Job {
        final Task task;
        final int count;
        /** Helper threads taking part (workers 1..helpers). */
        final int helpers;
        final Thread caller;
        final AtomicInteger next = new AtomicInteger();
        /**
         * Tasks finished (run, failed or skipped). The caller waits for this to reach count, not for every
         * woken helper to check in: a helper that wakes after the caller took the last task finds nothing to
         * do and costs the caller nothing.
         */
        final AtomicInteger done = new AtomicInteger();
        volatile Throwable error;

        Job(Task task, int count, int helpers, Thread caller) {
            this.task = task;
            this.count = count;
            this.helpers = helpers;
            this.caller = caller;
        }

        void work(int worker) {
            int i;
            while ((i = next.getAndIncrement()) < count) {
                if (error == null) { // after a failure the remaining indices are drained without running
                    try {
                        task.run(i, worker);
                    } catch (Throwable t) {
                        synchronized (this) {
                            if (error == null) {
                                error = t;
                            }
                        }
                    }
                }
                if (done.incrementAndGet() == count && Thread.currentThread() != caller) {
                    LockSupport.unpark(caller);
                }
            }
        }

        void awaitTasks() {
            int spins = 0;
            long since = System.nanoTime();
            while (done.get() != count) {
                if (keepSpinning(++spins, since)) {
                    Thread.onSpinWait();
                } else {
                    LockSupport.parkNanos(this, TimeUnit.MILLISECONDS.toNanos(10));
                }
            }
        }
    }
}
