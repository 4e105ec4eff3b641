package io.jvfio.nvme;

/** Hears each completed command of an {@link IoQueue}: the tag it was submitted with, its status and result. */
@FunctionalInterface
public interface CompletionListener {
    /**
     * @param tag    the caller's tag from the submit
     * @param status the status ({@link NvmeStatus}; 0 is success, {@link NvmeException#describe} names it)
     * @param result the completion's Dword 0 (command specific)
     */
    void completed(long tag, int status, int result);
}
