package io.jvfio.client;

import io.jvfio.linux.Errno;
import io.jvfio.linux.Fd;
import io.jvfio.linux.Linux;
import io.jvfio.protocol.VersionCapabilities;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.Version;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/** A {@link VfioUserClient}'s VERSION exchange: what it offers, what it accepts, the twin socket if agreed. */
final class Negotiation {
    private Negotiation() {}

    /** Proposes version 0.0 with what the client honours; returns the server's answer, its twin socket started. */
    static Version negotiate(CallChannel channel, ServerRequests requests, ClientOptions options) throws IOException {
        // Offer everything we honour. A long request also matters: servers (ours, QEMU-minded ones) never
        // send a VERSION reply longer than the request, and fall back to spec defaults when theirs would be.
        VersionCapabilities ours = VersionCapabilities.DEFAULTS
                .withMaxMsgFds(options.maxMsgFds())
                .withMaxDataXferSize(options.maxDataXferSize())
                .withPgsizes(Linux.PAGE_SIZE)
                .withMaxDmaMaps(VersionCapabilities.DEFAULT_MAX_DMA_MAPS)
                .withMigration(VersionCapabilities.DEFAULT_MIGRATION_PGSIZE, VersionCapabilities.DEFAULT_MIGRATION_MAX_BITMAP_SIZE);
        if (options.offerTwinSocket()) {
            ours = ours.withTwinSocket(true);
        }
        Version proposal = new Version(0, 0, ours);
        VfioUserClient.Reply r = channel.call(Command.VERSION, proposal, List.of(), options.callTimeout(),
                channel.maxIncoming(), options.offerTwinSocket() ? 1 : 0);
        List<Fd> fds = new ArrayList<>(r.fds());
        try {
            Version v = CallChannel.decode(() -> Version.decode(r.payload()), "VERSION reply");
            if (v.major() != proposal.major()) {
                throw new VfioUserException(Errno.EPROTO, "server speaks protocol major " + v.major() + ", this client " + proposal.major());
            }
            if (v.minor() > proposal.minor()) {
                throw new VfioUserException(Errno.EPROTO, "server answered minor " + v.minor() + " to a proposal of " + proposal.minor());
            }
            VersionCapabilities caps = v.capabilitiesOrDefaults();
            if (caps.twinSocketSupported()) {
                if (!options.offerTwinSocket()) {
                    throw new VfioUserException(Errno.EPROTO, "server turned on twin-socket mode, which this client did not offer");
                }
                int index = caps.twinSocketFdIndex().orElse(-1);
                if (index < 0 || index >= fds.size()) {
                    throw new VfioUserException(Errno.EPROTO, "twin_socket reply names fd_index " + index + " but "
                            + fds.size() + " fds came with it");
                }
                requests.startTwin(fds.remove(index));
            }
            return v;
        } finally {
            fds.forEach(Fd::close);
        }
    }
}
