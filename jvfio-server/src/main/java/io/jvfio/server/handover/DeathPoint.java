package io.jvfio.server.handover;

/**
 * Steps of a hand-over where a test makes the process die as SIGKILL would — {@code Runtime.halt}:
 * no finally block, no shutdown hook, the kernel closes the fds without shutdown(2) — chosen with
 * {@code -Djvfio.handover.dieAt=NAME}. Each step must leave exactly one process owning the device,
 * or none (the guest then sees what a SIGKILL of its server gives), never two.
 */
enum DeathPoint {
    /**
     * The successor has loaded the state (device stopped), not yet said LOADED: the old server still
     * owns the device and runs it again. (A successor that dies once LOADED went out races the old
     * server's COMMIT: if it dies first, the old server serves on; if not, none owns the device.)
     */
    SUCCESSOR_LOADED("successor-loaded"),
    /** The successor has received the COMMIT, before its device starts: the old server gave the device up, so none owns it. */
    SUCCESSOR_COMMITTED("successor-committed"),
    /** The old server has received LOADED and not yet sent COMMIT: none owns the device (the successor waits for a COMMIT that never comes). */
    OLD_LOADED("old-loaded"),
    /** The old server has sent COMMIT: the successor owns the device. */
    OLD_COMMITTED("old-committed");

    private static final String PROPERTY = "jvfio.handover.dieAt";
    private static final int KILLED = 128 + 9;
    private static final String CHOSEN = System.getProperty(PROPERTY, "");

    private final String name;

    DeathPoint(String name) {
        this.name = name;
    }

    /** Halts the process here if the test chose this step. */
    void reached() {
        if (name.equals(CHOSEN)) {
            System.err.println("jvfio: dying at hand-over step " + name + " (" + PROPERTY + ")");
            System.err.flush();
            Runtime.getRuntime().halt(KILLED);
        }
    }
}
