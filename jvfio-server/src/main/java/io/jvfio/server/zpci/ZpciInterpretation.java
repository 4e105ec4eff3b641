package io.jvfio.server.zpci;

import io.jvfio.server.HypervisorLink;

/**
 * A hypervisor link able to interpret zPCI instructions for the guest (as KVM does on s390):
 * the guest then needs the function handle and may use the interpreted store block length.
 */
public interface ZpciInterpretation extends HypervisorLink {
    /** The PCI function handle the guest uses with interpretation enabled. */
    int functionHandle();

    /** Maximum interpreted store block length. */
    int interpretedMaxStoreBlockLength();
}
