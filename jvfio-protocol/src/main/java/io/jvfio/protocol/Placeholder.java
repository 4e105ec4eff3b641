package io.jvfio.protocol;

/** Placeholder until the module has its first type; delete it then. */
final class Placeholder {
    private Placeholder() {}
}
