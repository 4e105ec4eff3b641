package io.jvfio.server;

/**
 * The limits both sides agreed on during VERSION: what the client can receive in one message.
 *
 * @param clientMaxMsgFds         most fds the client accepts in one message
 * @param clientMaxDataXferSize   largest data transfer the client accepts (DMA_READ/WRITE count)
 * @param serverMaxDataXferSize   largest data transfer this server accepts (REGION_READ/WRITE count)
 */
public record NegotiatedLimits(int clientMaxMsgFds, long clientMaxDataXferSize, long serverMaxDataXferSize) {}
