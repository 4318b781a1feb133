/**
 * An NBD server that exports {@link org.aoemp.block.BlockDevice}s, so that {@code nbd-client},
 * qemu, nbdcopy or fio can use an AoE disk (or a {@link org.aoemp.block.MemoryBlockDevice}).
 *
 * <h2>Layout</h2>
 * <ul>
 * <li>Codecs, pure functions of bytes: {@link org.aoemp.nbd.HandshakeCodec} (greeting, option
 *     replies, INFO types), {@link org.aoemp.nbd.InfoRequest} (INFO/GO data),
 *     {@link org.aoemp.nbd.TransmissionCodec} (request header, simple reply, command and
 *     transmission flags), {@link org.aoemp.nbd.RequestCheck} (which error a request gets) and
 *     {@link org.aoemp.nbd.NbdErrors} (errno mapping).</li>
 * <li>I/O, one Netty pipeline per connection: {@code FlushConsolidationHandler},
 *     {@code HandshakeHandler} until GO or EXPORT_NAME, then {@code RequestDecoder} and
 *     {@code TransmissionHandler}. {@link org.aoemp.nbd.NbdServer} binds, owns the event loops
 *     and shuts down cleanly.</li>
 * </ul>
 *
 * <h2>Protocol choices</h2>
 * <ul>
 * <li>Fixed newstyle only, NO_ZEROES offered, simple replies only (the Linux kernel accepts
 *     nothing else); STRUCTURED_REPLY, EXTENDED_HEADERS, STARTTLS and meta contexts get
 *     ERR_UNSUP.</li>
 * <li>Advertised: FLUSH, FUA (write then flush), WRITE_ZEROES and CAN_MULTI_CONN, because a
 *     device flush covers the whole device. Not advertised: TRIM (AoE cannot discard), CACHE,
 *     DF, FAST_ZERO, BLOCK_STATUS.</li>
 * <li>READ and WRITE up to 32 MiB. A WRITE that is rejected for any reason, including one
 *     longer than 32 MiB, has its payload skipped as it streams in (never buffered, whatever its
 *     length) and the connection stays usable; only a request without the request magic closes
 *     the connection, since the stream can no longer be trusted.</li>
 * </ul>
 */
package org.aoemp.nbd;
