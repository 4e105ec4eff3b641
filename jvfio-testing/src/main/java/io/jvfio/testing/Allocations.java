package io.jvfio.testing;

import java.lang.reflect.Method;

/**
 * The JDK's count of bytes the calling thread has allocated, for tests that prove a hot path
 * allocates nothing. Looked up reflectively: tests compile inside their module, which (rightly)
 * does not read java.management.
 */
public final class Allocations {
    private static final Object THREAD_BEAN;
    private static final Method CURRENT_THREAD_ALLOCATED_BYTES;

    static {
        try {
            THREAD_BEAN = Class.forName("java.lang.management.ManagementFactory").getMethod("getThreadMXBean").invoke(null);
            CURRENT_THREAD_ALLOCATED_BYTES = Class.forName("com.sun.management.ThreadMXBean").getMethod("getCurrentThreadAllocatedBytes");
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private Allocations() {}

    /** Bytes the calling thread has allocated since it started. */
    public static long currentThread() {
        try {
            return (long) CURRENT_THREAD_ALLOCATED_BYTES.invoke(THREAD_BEAN);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("the JDK's thread allocation counter is not available", e);
        }
    }
}
