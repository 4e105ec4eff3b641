package io.jvfio.server;

import io.jvfio.linux.PeerCredentials;
import java.util.Optional;

/**
 * What a device learns when a client opens it: who the client is, what was negotiated, where its
 * DMA goes, and — only when an embedding application supplies one — a link to a hypervisor.
 * Nothing in jvfio requires the link: whatever a device does differently with it must also be
 * visible to a client without one.
 */
public record SessionContext(PeerCredentials peer, NegotiatedLimits limits, DmaView dma,
                             Optional<HypervisorLink> hypervisorLink) {}
