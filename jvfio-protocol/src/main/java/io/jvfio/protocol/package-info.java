/**
 * The vfio-user wire format (QEMU docs/interop/vfio-user.rst; constants from linux/vfio.h).
 *
 * <h2>Conventions</h2>
 * <ul>
 *   <li>Buffers are {@link java.lang.foreign.MemorySegment}s (heap or native), little-endian, packed.</li>
 *   <li>A <em>payload</em> is the message without its 16-byte {@link io.jvfio.protocol.Header}. Every typed
 *       record implements {@link io.jvfio.protocol.Payload} ({@code encodedSize()}, {@code encode(dst)}) and has
 *       {@code static decode(MemorySegment payload)}; decoders validate lengths first and throw only
 *       {@link io.jvfio.protocol.ProtocolException} (with the errno to answer) on bad input. Trailing bytes after
 *       a fixed-size struct are ignored; data-carrying messages must be exactly struct + count bytes.</li>
 *   <li>Each wire struct is declared once, as a {@link java.lang.foreign.StructLayout} with named fields
 *       bound to its record (the package-private {@code Struct}); offsets, encoders and decoders derive from
 *       it, and records of the same shape share one layout.</li>
 *   <li>Hot path (zero allocation): {@link io.jvfio.protocol.Header} and {@link io.jvfio.protocol.RegionAccess}
 *       static flyweights, and the static DMA_READ/DMA_WRITE helpers ({@code DmaReadRequest.encode},
 *       {@code DmaWriteRequest.validate}, ...). Everything else allocates and is meant for setup-time commands.</li>
 *   <li>u32 fields are Java {@code int}s (use {@link io.jvfio.protocol.ArgSz#unsigned} / {@code Integer.toUnsignedLong});
 *       u64 fields are {@code long}s compared unsigned where it matters.</li>
 * </ul>
 *
 * <h2>Command → records</h2>
 * <table>
 *   <caption>request and reply payload types</caption>
 *   <tr><th>command</th><th>request</th><th>reply</th></tr>
 *   <tr><td>1 VERSION</td><td>{@link io.jvfio.protocol.Version}</td><td>{@link io.jvfio.protocol.Version}</td></tr>
 *   <tr><td>2 DMA_MAP</td><td>{@link io.jvfio.protocol.DmaMap}</td><td>none</td></tr>
 *   <tr><td>3 DMA_UNMAP</td><td>{@link io.jvfio.protocol.DmaUnmap}</td><td>{@link io.jvfio.protocol.DmaUnmap}</td></tr>
 *   <tr><td>4 DEVICE_GET_INFO</td><td>{@link io.jvfio.protocol.DeviceInfo}</td><td>{@link io.jvfio.protocol.DeviceInfo}</td></tr>
 *   <tr><td>5 DEVICE_GET_REGION_INFO</td><td>{@link io.jvfio.protocol.RegionInfo}</td><td>{@link io.jvfio.protocol.RegionInfo}</td></tr>
 *   <tr><td>6 DEVICE_GET_REGION_IO_FDS</td><td>{@link io.jvfio.protocol.RegionIoFds}</td><td>{@link io.jvfio.protocol.RegionIoFds}</td></tr>
 *   <tr><td>7 DEVICE_GET_IRQ_INFO</td><td>{@link io.jvfio.protocol.IrqInfo}</td><td>{@link io.jvfio.protocol.IrqInfo}</td></tr>
 *   <tr><td>8 DEVICE_SET_IRQS</td><td>{@link io.jvfio.protocol.IrqSet}</td><td>none</td></tr>
 *   <tr><td>9 REGION_READ</td><td>{@link io.jvfio.protocol.RegionReadRequest}</td><td>{@link io.jvfio.protocol.RegionData}</td></tr>
 *   <tr><td>10 REGION_WRITE</td><td>{@link io.jvfio.protocol.RegionData}</td><td>{@link io.jvfio.protocol.RegionWriteReply}</td></tr>
 *   <tr><td>11 DMA_READ</td><td>{@link io.jvfio.protocol.DmaReadRequest}</td><td>{@link io.jvfio.protocol.DmaReadReply}</td></tr>
 *   <tr><td>12 DMA_WRITE</td><td>{@link io.jvfio.protocol.DmaWriteRequest}</td><td>{@link io.jvfio.protocol.DmaWriteReply}</td></tr>
 *   <tr><td>13 DEVICE_RESET</td><td>{@link io.jvfio.protocol.DeviceReset}</td><td>none</td></tr>
 *   <tr><td>15 REGION_WRITE_MULTI</td><td>{@link io.jvfio.protocol.RegionWriteMulti}</td><td>{@link io.jvfio.protocol.RegionWriteMultiReply}</td></tr>
 *   <tr><td>16 DEVICE_FEATURE</td><td>{@link io.jvfio.protocol.DeviceFeature}</td><td>{@link io.jvfio.protocol.DeviceFeature}</td></tr>
 *   <tr><td>17 MIG_DATA_READ</td><td>{@link io.jvfio.protocol.MigDataReadRequest}</td><td>{@link io.jvfio.protocol.MigData}</td></tr>
 *   <tr><td>18 MIG_DATA_WRITE</td><td>{@link io.jvfio.protocol.MigData}</td><td>{@link io.jvfio.protocol.MigDataWriteReply}</td></tr>
 *   <tr><td>19 GET_PRECOPY_INFO</td><td>{@link io.jvfio.protocol.PrecopyInfo}</td><td>{@link io.jvfio.protocol.PrecopyInfo}</td></tr>
 * </table>
 * {@link io.jvfio.protocol.Message#decodeRequest} / {@link io.jvfio.protocol.Message#decodeReply} dispatch by command.
 */
package io.jvfio.protocol;
