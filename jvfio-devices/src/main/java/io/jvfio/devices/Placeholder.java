package io.jvfio.devices;

/** Placeholder until the module has its first type; delete it then. */
final class Placeholder {
    private Placeholder() {}
}
