package io.jvfio.client;

import io.jvfio.linux.Fd;
import io.jvfio.protocol.RegionInfo;
import io.jvfio.protocol.Vfio;
import java.util.Optional;

/** A region's info as the device described it, with the fd to mmap it when it is mmap-able. */
public record RegionDescription(RegionInfo info, Fd fd) implements AutoCloseable {
    public long size() {
        return info.size();
    }

    public boolean readable() {
        return (info.flags() & Vfio.REGION_INFO_FLAG_READ) != 0;
    }

    public boolean writable() {
        return (info.flags() & Vfio.REGION_INFO_FLAG_WRITE) != 0;
    }

    public boolean mmappable() {
        return (info.flags() & Vfio.REGION_INFO_FLAG_MMAP) != 0 && fd != null;
    }

    public Optional<Fd> mmapFd() {
        return Optional.ofNullable(fd);
    }

    @Override
    public void close() {
        if (fd != null) {
            fd.close();
        }
    }
}
