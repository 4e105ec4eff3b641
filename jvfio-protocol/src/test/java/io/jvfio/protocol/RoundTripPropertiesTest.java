package io.jvfio.protocol;

import static io.jvfio.protocol.TestSupport.roundTrip;
import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Assume;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;
import net.jqwik.api.constraints.Size;
import net.jqwik.api.constraints.UniqueElements;

/** encode → decode is the identity for every message type. */
class RoundTripPropertiesTest {

    static boolean wraps(long start, long size) {
        return size != 0 && Long.compareUnsigned(start + size - 1, start) < 0;
    }

    // ---- header

    @Property
    void header(@ForAll @IntRange(max = 0xffff) int msgId, @ForAll("commands") Command c,
                @ForAll @LongRange(min = 16, max = 0xFFFF_FFFFL) long size, @ForAll boolean reply,
                @ForAll boolean noReply, @ForAll @IntRange(min = 1, max = 4095) int errno) throws Exception {
        int flags = (reply ? Header.TYPE_REPLY : Header.TYPE_COMMAND) | (noReply ? Header.FLAG_NO_REPLY : 0)
                | (reply && errno % 2 == 0 ? Header.FLAG_ERROR : 0);
        HeaderRecord h = new HeaderRecord(msgId, c, size, flags, reply ? errno : 0);
        MemorySegment s = MemorySegment.ofArray(new byte[16]);
        h.encode(s);
        assertThat(HeaderRecord.decode(s)).isEqualTo(h);
        assertThat(Header.isNoReply(s)).isEqualTo(noReply);
    }

    @Provide
    Arbitrary<Command> commands() {
        return Arbitraries.of(Command.class);
    }

    // ---- VERSION

    @Property
    void version(@ForAll @IntRange(max = 0xffff) int major, @ForAll @IntRange(max = 0xffff) int minor,
                 @ForAll("caps") VersionCapabilities caps, @ForAll boolean absent) throws Exception {
        roundTrip(new Version(major, minor, absent ? null : caps), Version::decode);
    }

    @Provide
    Arbitrary<VersionCapabilities> caps() {
        Arbitrary<Integer> fds = Arbitraries.integers().between(0, 1024);
        Arbitrary<Long> xfer = Arbitraries.longs().between(0, Long.MAX_VALUE);
        Arbitrary<Boolean> wm = Arbitraries.of(true, false);
        Arbitrary<String> key = Arbitraries.strings().withCharRange('a', 'z').ofMinLength(1).ofMaxLength(8).map(k -> "x_" + k);
        Arbitrary<String> val = Arbitraries.strings().ofMaxLength(10);
        return Combinators.combine(fds, xfer, wm, key, val, Arbitraries.integers().between(-1, 7))
                .as((f, x, w, k, v, twin) -> {
                    VersionCapabilities c = VersionCapabilities.DEFAULTS.withMaxMsgFds(f).withMaxDataXferSize(x).withWriteMultiple(w)
                            .with(k, com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.textNode(v));
                    return twin < 0 ? c : c.withTwinSocket(twin).withMigration(4096, twin * 4096L);
                });
    }

    @Property
    void capabilitiesJson(@ForAll("caps") VersionCapabilities caps) throws Exception {
        assertThat(VersionCapabilities.parse(caps.toJson())).isEqualTo(caps);
    }

    // ---- DMA

    @Property
    void dmaMap(@ForAll @IntRange(min = 32) int argsz, @ForAll("dmaMapFlags") int flags, @ForAll long offset,
                @ForAll long address, @ForAll long size) throws Exception {
        Assume.that(size != 0 && !wraps(address, size) && !wraps(offset, size));
        roundTrip(new DmaMap(argsz, flags, offset, address, size), DmaMap::decode);
    }

    @Provide
    Arbitrary<Integer> dmaMapFlags() {
        return Combinators.combine(Arbitraries.integers().between(0, 3), Arbitraries.of(0, 4, 8)).as((rw, mode) -> rw | mode);
    }

    @Property
    void dmaUnmap(@ForAll long address, @ForAll long size, @ForAll @IntRange(max = 2) int kind,
                  @ForAll @IntRange(max = 40) int pgShift, @ForAll @Size(max = 64) byte[] bitmap, @ForAll boolean withData)
            throws Exception {
        DmaUnmap u;
        switch (kind) {
            case 0 -> {
                Assume.that(!wraps(address, size));
                u = DmaUnmap.of(address, size);
            }
            case 1 -> u = DmaUnmap.all();
            default -> {
                Assume.that(!wraps(address, size));
                Bitmap b = withData ? Bitmap.of(1L << pgShift, bitmap) : Bitmap.request(1L << pgShift, bitmap.length);
                u = new DmaUnmap(24 + 16 + bitmap.length, Vfio.DMA_UNMAP_FLAG_GET_DIRTY_BITMAP, address, size, b);
            }
        }
        roundTrip(u, DmaUnmap::decode);
    }

    @Property
    void dmaReadRequest(@ForAll long address, @ForAll @LongRange(max = 1 << 20) long count) throws Exception {
        Assume.that(!wraps(address, count));
        roundTrip(new DmaReadRequest(address, count), DmaReadRequest::decode);
    }

    @Property
    void dmaReadReply(@ForAll long address, @ForAll @Size(max = 300) byte[] data) throws Exception {
        DmaReadReply r = new DmaReadReply(address, data);
        roundTrip(r, DmaReadReply::decode);
        MemorySegment spec = r.toSegment();
        assertThat(DmaReadReply.decode(spec, address, data.length + 3L)).isEqualTo(r);
        // QEMU 10.1 layout: u32 count, data at 12
        MemorySegment legacy = MemorySegment.ofArray(new byte[12 + data.length]);
        legacy.set(Wire.U64, 0, address);
        legacy.set(Wire.U32, 8, data.length);
        MemorySegment.copy(spec, 16, legacy, 12, data.length);
        assertThat(DmaReadReply.decode(legacy, address, data.length)).isEqualTo(r);
    }

    @Property
    void dmaWrite(@ForAll long address, @ForAll @Size(max = 300) byte[] data) throws Exception {
        Assume.that(!wraps(address, data.length));
        roundTrip(new DmaWriteRequest(address, data), DmaWriteRequest::decode);
        DmaWriteReply reply = new DmaWriteReply(address, data.length);
        roundTrip(reply, DmaWriteReply::decode);
        assertThat(DmaWriteReply.decode(reply.toSegment(), address, data.length)).isEqualTo(reply);
        assertThat(DmaWriteReply.decode(MemorySegment.ofArray(new byte[0]), address, data.length)).isEqualTo(reply);
    }

    // ---- device / region / irq info

    @Property
    void deviceInfo(@ForAll @LongRange(max = 512) long offered, @ForAll int flags, @ForAll int numRegions,
                    @ForAll int numIrqs, @ForAll("rawCaps") List<RawCapability> caps) throws Exception {
        DeviceInfo r = roundTrip(DeviceInfo.reply(offered, flags, numRegions, numIrqs, caps), DeviceInfo::decode);
        assertThat(r.encodedSize()).isLessThanOrEqualTo(Math.max(offered, 16));
        roundTrip(DeviceInfo.request((int) offered + 16), DeviceInfo::decode);
    }

    @Provide
    Arbitrary<List<RawCapability>> rawCaps() {
        Arbitrary<RawCapability> cap = Combinators.combine(Arbitraries.integers().between(0, 0xffff),
                Arbitraries.integers().between(0, 0xffff), Arbitraries.integers().between(0, 6),
                Arbitraries.bytes())
                .as((id, ver, words, fill) -> {
                    byte[] b = new byte[words * 8];
                    java.util.Arrays.fill(b, fill);
                    return new RawCapability(id, ver, b);
                });
        return cap.list().ofMaxSize(4);
    }

    @Property
    void regionInfo(@ForAll @LongRange(max = 1024) long offered, @ForAll int index, @ForAll int flags, @ForAll long size,
                    @ForAll long offset, @ForAll("regionCaps") List<InfoCapability> caps) throws Exception {
        RegionInfo r = roundTrip(RegionInfo.reply(offered, index, flags, size, offset, caps), RegionInfo::decode);
        assertThat(r.encodedSize()).isLessThanOrEqualTo(Math.max(offered, 32));
        if (ArgSz.fits(32 + CapabilityChain.size(caps), offered)) {
            assertThat(r.caps()).isEqualTo(caps);
        }
        roundTrip(RegionInfo.request((int) offered + 32, index), RegionInfo::decode);
    }

    @Provide
    Arbitrary<List<InfoCapability>> regionCaps() {
        Arbitrary<InfoCapability> sparse = Combinators.combine(Arbitraries.longs(), Arbitraries.longs())
                .as(SparseMmapCap.Area::new).list().ofMaxSize(5).map(SparseMmapCap::new);
        Arbitrary<InfoCapability> type = Combinators.combine(Arbitraries.integers(), Arbitraries.integers()).as(RegionTypeCap::new);
        Arbitrary<InfoCapability> fds = Combinators.combine(Arbitraries.longs(), Arbitraries.longs(), Arbitraries.longs(),
                Arbitraries.integers()).as(SparseMmapFdsCap.Area::new).list().ofMaxSize(5).map(SparseMmapFdsCap::new);
        Arbitrary<InfoCapability> raw = Combinators.combine(Arbitraries.of(3, 4, 5, 99), Arbitraries.integers().between(0, 3))
                .as((id, words) -> new RawCapability(id, 1, new byte[words * 8]));
        return Arbitraries.oneOf(sparse, type, fds, raw).list().ofMaxSize(4);
    }

    @Property
    void regionIoFds(@ForAll @LongRange(max = 512) long offered, @ForAll int index,
                     @ForAll("ioFdEntries") List<IoFdEntry> entries) throws Exception {
        RegionIoFds r = roundTrip(RegionIoFds.reply(offered, index, entries), RegionIoFds::decode);
        assertThat(r.encodedSize()).isLessThanOrEqualTo(Math.max(offered, 16));
        roundTrip(RegionIoFds.request((int) offered + 16, index), RegionIoFds::decode);
    }

    @Provide
    Arbitrary<List<IoFdEntry>> ioFdEntries() {
        Arbitrary<IoFdEntry> ev = Combinators.combine(Arbitraries.longs(), Arbitraries.longs(), Arbitraries.integers(),
                Arbitraries.integers(), Arbitraries.longs()).as(IoFdEntry::ioeventfd);
        Arbitrary<IoFdEntry> rg = Combinators.combine(Arbitraries.longs(), Arbitraries.longs(), Arbitraries.integers(),
                Arbitraries.integers(), Arbitraries.longs()).as(IoFdEntry::ioregionfd);
        Arbitrary<IoFdEntry> sh = Combinators.combine(Arbitraries.longs(), Arbitraries.longs(), Arbitraries.integers(),
                Arbitraries.integers(), Arbitraries.integers(), Arbitraries.longs(), Arbitraries.longs()).as(IoFdEntry::shadowIoeventfd);
        return Arbitraries.oneOf(ev, rg, sh).list().ofMaxSize(6);
    }

    @Property
    void irqInfo(@ForAll @IntRange(min = 16) int argsz, @ForAll int flags, @ForAll int index, @ForAll int count) throws Exception {
        roundTrip(new IrqInfo(argsz, flags, index, count), IrqInfo::decode);
    }

    @Property
    void irqSet(@ForAll @IntRange(max = 2) int dataBit, @ForAll @IntRange(max = 2) int actionBit, @ForAll int index,
                @ForAll @IntRange(max = 1 << 20) int start, @ForAll @IntRange(max = 2048) int count,
                @ForAll @Size(max = 64) byte[] bools) throws Exception {
        int action = Vfio.IRQ_SET_ACTION_MASK << actionBit;
        IrqSet s = switch (dataBit) {
            case 0 -> IrqSet.none(index, action, start, count);
            case 1 -> IrqSet.bools(index, action, start, bools);
            default -> IrqSet.eventfds(index, action, start, count);
        };
        IrqSet back = roundTrip(s, IrqSet::decode);
        assertThat(back.expectedFdCount()).isEqualTo(dataBit == 2 ? count : 0);
    }

    // ---- region access

    @Property
    void regionAccess(@ForAll long offset, @ForAll int region, @ForAll @IntRange(max = 1 << 20) int count,
                      @ForAll @Size(max = 300) byte[] data) throws Exception {
        Assume.that(!wraps(offset, Math.max(count, data.length)));
        roundTrip(new RegionReadRequest(offset, region, count), RegionReadRequest::decode);
        roundTrip(new RegionWriteReply(offset, region, count), RegionWriteReply::decode);
        roundTrip(new RegionData(offset, region, data), RegionData::decode);
    }

    @Property
    void regionWriteMulti(@ForAll("multiEntries") List<RegionWriteMulti.Entry> entries, @ForAll long done) throws Exception {
        roundTrip(new RegionWriteMulti(entries), RegionWriteMulti::decode);
        roundTrip(new RegionWriteMultiReply(done), RegionWriteMultiReply::decode);
    }

    @Provide
    Arbitrary<List<RegionWriteMulti.Entry>> multiEntries() {
        return Combinators.combine(Arbitraries.longs(), Arbitraries.integers(), Arbitraries.bytes().array(byte[].class).ofMaxSize(8))
                .as(RegionWriteMulti.Entry::new).list().ofMaxSize(RegionWriteMulti.MAX_ENTRIES);
    }

    @Property
    void deviceReset() throws Exception {
        roundTrip(DeviceReset.INSTANCE, DeviceReset::decode);
    }

    // ---- DEVICE_FEATURE and migration

    @Property
    void deviceFeature(@ForAll @IntRange(min = 8) int argsz, @ForAll @IntRange(max = 0xffff) int feature,
                       @ForAll @IntRange(max = 5) int ops, @ForAll @Size(max = 100) byte[] data) throws Exception {
        int[] opFlags = {0, Vfio.DEVICE_FEATURE_GET, Vfio.DEVICE_FEATURE_SET, Vfio.DEVICE_FEATURE_PROBE,
                Vfio.DEVICE_FEATURE_PROBE | Vfio.DEVICE_FEATURE_GET, Vfio.DEVICE_FEATURE_PROBE | Vfio.DEVICE_FEATURE_GET | Vfio.DEVICE_FEATURE_SET};
        roundTrip(new DeviceFeature(argsz, feature | opFlags[ops], data), DeviceFeature::decode);
    }

    @Property
    void featureData(@ForAll long migFlags, @ForAll("states") MigrationState state, @ForAll int fd,
                     @ForAll @IntRange(max = 40) int pgShift, @ForAll("ranges") List<FeatureDmaLoggingControl.Range> ranges,
                     @ForAll @LongRange(min = 1, max = 1L << 30) long length, @ForAll @IntRange(max = 1 << 20) int iovaPage,
                     @ForAll boolean withBitmap) throws Exception {
        roundTrip(new FeatureMigration(migFlags | Vfio.MIGRATION_STOP_COPY), FeatureMigration::decode);
        roundTrip(new FeatureMigDeviceState(state.code(), fd), FeatureMigDeviceState::decode);
        roundTrip(new FeatureDmaLoggingControl(1L << pgShift, ranges), FeatureDmaLoggingControl::decode);
        long pageSize = 1L << (12 + pgShift % 10);
        long iova = (long) iovaPage * 4096;
        byte[] bitmap = withBitmap ? new byte[(int) FeatureDmaLoggingReport.bitmapSize(length, pageSize)] : new byte[0];
        if (bitmap.length > 0) {
            bitmap[bitmap.length - 1] = 1;
        }
        FeatureDmaLoggingReport report = new FeatureDmaLoggingReport(iova, length, pageSize, bitmap);
        roundTrip(report, FeatureDmaLoggingReport::decode);
        // a GET reply wraps the data and grows argsz
        DeviceFeature req = DeviceFeature.get(Vfio.DEVICE_FEATURE_DMA_LOGGING_REPORT, 24 + bitmap.length,
                FeatureDmaLoggingReport.request(iova, length, pageSize));
        DeviceFeature reply = DeviceFeature.getReply(req, report);
        assertThat(FeatureDmaLoggingReport.decode(DeviceFeature.decode(reply.toSegment()).dataSegment())).isEqualTo(report);
    }

    @Provide
    Arbitrary<MigrationState> states() {
        return Arbitraries.of(MigrationState.class);
    }

    @Provide
    Arbitrary<List<FeatureDmaLoggingControl.Range>> ranges() {
        return Combinators.combine(Arbitraries.longs().between(0, Long.MAX_VALUE / 2), Arbitraries.longs().between(1, Long.MAX_VALUE / 2))
                .as(FeatureDmaLoggingControl.Range::new).list().ofMaxSize(6);
    }

    @Property
    void migData(@ForAll @Size(max = 300) byte[] data, @ForAll @IntRange(max = 1 << 20) int size,
                 @ForAll @IntRange(max = 64) int extra) throws Exception {
        roundTrip(new MigDataReadRequest(8 + size + extra, size), MigDataReadRequest::decode);
        roundTrip(new MigData(8 + data.length + extra, data), MigData::decode);
        // libvfio-user pads read replies to the requested size: the padding is ignored.
        MemorySegment padded = MemorySegment.ofArray(new byte[8 + data.length + 5]);
        MigData.of(data).encode(padded);
        assertThat(MigData.decodeAllowingPadding(padded, 1 << 20).data()).isEqualTo(data);
        roundTrip(new MigDataWriteReply(8 + size, size), MigDataWriteReply::decode);
        roundTrip(MigDataWriteReply.EMPTY, MigDataWriteReply::decode);
    }

    @Property
    void precopyInfo(@ForAll @IntRange(min = 24) int argsz, @ForAll int flags, @ForAll long initial, @ForAll long dirty)
            throws Exception {
        roundTrip(new PrecopyInfo(argsz, flags, initial, dirty), PrecopyInfo::decode);
    }

    // ---- whole messages

    @Property
    void wholeMessage(@ForAll @IntRange(max = 0xffff) int id, @ForAll long offset, @ForAll int region,
                      @ForAll @Size(max = 64) @UniqueElements byte[] data) throws Exception {
        Assume.that(!wraps(offset, data.length));
        MemorySegment m = Message.command(id, Command.REGION_WRITE, new RegionData(offset, region, data));
        HeaderRecord h = HeaderRecord.decode(m, 1 << 20);
        assertThat(h.command()).isEqualTo(Command.REGION_WRITE);
        assertThat(Message.decodeRequest(h.command(), Message.payload(m), 1 << 20))
                .isEqualTo(new RegionData(offset, region, data));
    }
}
