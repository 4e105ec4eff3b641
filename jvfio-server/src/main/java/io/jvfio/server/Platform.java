package io.jvfio.server;

import java.util.List;

/** The platform extensions a server applies to every device it serves; none by default. */
public record Platform(List<PlatformExtension> extensions) {
    public Platform {
        extensions = List.copyOf(extensions);
    }

    public static Platform none() {
        return new Platform(List.of());
    }

    public static Platform of(PlatformExtension... extensions) {
        return new Platform(List.of(extensions));
    }

    /** {@code device} as clients see it on this platform: itself, plus every extension's part. */
    public VfioDevice apply(VfioDevice device) {
        return extensions.isEmpty() ? device : new PlatformDevice(device, extensions);
    }
}
