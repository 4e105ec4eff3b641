package io.jvfio.server;

import java.util.Collections;
import java.util.EnumSet;
import java.util.Set;

/** What a client may do with a region (or a device with a DMA window): read it, write it, or both. */
public enum Access {
    READ, WRITE;

    /** Read and write. */
    public static final Set<Access> READ_WRITE = Collections.unmodifiableSet(EnumSet.allOf(Access.class));
    /** Read only. */
    public static final Set<Access> READ_ONLY = Collections.unmodifiableSet(EnumSet.of(READ));
    /** Write only. */
    public static final Set<Access> WRITE_ONLY = Collections.unmodifiableSet(EnumSet.of(WRITE));
    /** Neither: an absent region. */
    public static final Set<Access> NONE = Collections.unmodifiableSet(EnumSet.noneOf(Access.class));
}
