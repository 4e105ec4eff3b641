package io.jvfio.devices.virtio;

/** How the driver's queue notifications (writes to the notify area of the BAR) reach the device. */
public enum NotifyMode {
    /**
     * Trapped: the client forwards each notify write as a (posted) REGION_WRITE; the session thread
     * wakes the queue's worker. Costs nothing while idle.
     */
    TRAPPED,
    /**
     * Mapped and polled: the notify area is a page of a memfd the client maps into the guest
     * (a SPARSE_MMAP area of the BAR), so a notify is a plain store; a device thread polls the
     * page. No message per notify, but a thread that spins while the queues are busy. QEMU stops
     * posting BAR writes for a device with any mmap-able region, so the other registers then
     * cost a round trip each.
     */
    POLLED
}
