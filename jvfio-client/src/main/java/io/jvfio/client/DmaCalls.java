package io.jvfio.client;

import io.jvfio.linux.Fd;
import io.jvfio.linux.Mapping;
import io.jvfio.linux.Memfd;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.DmaMap;
import io.jvfio.protocol.DmaUnmap;
import io.jvfio.protocol.Payload;
import io.jvfio.protocol.Vfio;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.function.BooleanSupplier;

/**
 * A {@link VfioUserClient}'s DMA_MAP and DMA_UNMAP, kept in step with the {@link DmaMemory} from which
 * the server's DMA_READ/DMA_WRITE are served.
 */
final class DmaCalls {
    private final CallChannel channel;
    private final DmaMemory memory;
    private final ClientOptions options;
    /** Whether the connection takes calls (up and not being closed): worth a DMA_UNMAP. */
    private final BooleanSupplier usable;

    DmaCalls(CallChannel channel, DmaMemory memory, ClientOptions options, BooleanSupplier usable) {
        this.channel = channel;
        this.memory = memory;
        this.options = options;
        this.usable = usable;
    }

    private void call(Command command, Payload request, List<Fd> fds, long maxReply) throws IOException {
        channel.call(command, request, fds, options.callTimeout(), maxReply, 0);
    }

    void map(long iova, long size, int flags, Fd fd, long fileOffset) throws IOException {
        call(Command.DMA_MAP, DmaMap.of(flags, fileOffset, iova, size), List.of(fd), 0);
    }

    /** A memfd of {@code size} bytes mapped here and DMA_MAPped with its fd; {@code onRelease} sees it closed. */
    DmaBuffer allocate(long iova, long size, DmaBuffer.Release onRelease) throws IOException {
        channel.checkAlive();
        int flags = Vfio.DMA_MAP_FLAG_READ | Vfio.DMA_MAP_FLAG_WRITE;
        Mapping mapping;
        try (Fd fd = Memfd.create("jvfio-dma-" + Long.toHexString(iova), size)) {
            mapping = Mapping.map(fd, 0, size, true);
            try {
                memory.add(iova, mapping.segment(), flags);
                try {
                    map(iova, size, flags, fd, 0);
                } catch (IOException | RuntimeException e) {
                    memory.remove(iova, size);
                    throw e;
                }
            } catch (IOException | RuntimeException e) {
                mapping.close();
                throw e;
            }
        }
        return new DmaBuffer(iova, mapping, onRelease);
    }

    /** Ends a {@link DmaBuffer}: DMA_UNMAP while connected, then the local mapping. */
    void release(DmaBuffer buffer, Mapping mapping) throws IOException {
        try {
            if (usable.getAsBoolean()) {
                unmap(buffer.iova(), buffer.size());
            }
        } finally {
            memory.remove(buffer.iova(), buffer.size());
            mapping.close();
        }
    }

    /** DMA_MAP without an fd: the server reaches {@code region} through DMA_READ/DMA_WRITE messages only. */
    void register(long iova, MemorySegment region, int flags) throws IOException {
        memory.add(iova, region, flags);
        try {
            call(Command.DMA_MAP, DmaMap.of(flags, 0, iova, region.byteSize()), List.of(), 0);
        } catch (IOException | RuntimeException e) {
            memory.remove(iova, region.byteSize());
            throw e;
        }
    }

    void unmap(long iova, long size) throws IOException {
        call(Command.DMA_UNMAP, DmaUnmap.of(iova, size), List.of(), DmaUnmap.SIZE);
        memory.remove(iova, size);
    }

    void unmapAll() throws IOException {
        call(Command.DMA_UNMAP, DmaUnmap.all(), List.of(), DmaUnmap.SIZE);
        memory.clear();
    }
}
