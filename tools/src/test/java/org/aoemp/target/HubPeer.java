package org.aoemp.target;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.ByteBuffer;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.aoemp.protocol.AoeHeader;
import org.aoemp.protocol.AtaHeader;
import org.aoemp.transport.MemoryHub;

/**
 * A hand-driven AoE initiator on a {@link MemoryHub}: builds request frames byte by byte, sends
 * them, and collects every frame it receives, so tests can look at exactly what a target sent.
 */
final class HubPeer implements AutoCloseable
{
    static final int FRAME = 9216;

    final MemoryHub.Nic nic;
    private final LinkedBlockingQueue<ByteBuffer> received = new LinkedBlockingQueue<>();
    private final AtomicInteger tags = new AtomicInteger(0x8000_0100);
    /** Frames {@link #reply} passed over while looking for another tag; only the test thread touches it. */
    private final java.util.ArrayDeque<ByteBuffer> passedOver = new java.util.ArrayDeque<>();

    HubPeer(final MemoryHub hub, final String name, final long mac, final int mtu)
    {
        nic = hub.attach(name, mac, mtu);
        nic.start((frame, length) ->
        {
            final ByteBuffer copy = ByteBuffer.allocate(length);
            copy.put(0, frame, 0, length);
            received.add(copy);
        });
    }

    long mac()
    {
        return nic.mac();
    }

    int nextTag()
    {
        return tags.incrementAndGet();
    }

    /** A frame buffer with a request header to {@code dst} for {@code shelf.slot}. */
    ByteBuffer request(final long dst, final int shelf, final int slot, final int command, final int tag)
    {
        final ByteBuffer f = ByteBuffer.allocate(FRAME);
        new AoeHeader().wrap(f, 0).request(dst, mac(), shelf, slot, command, tag);
        return f;
    }

    /** An ATA request frame; returns its buffer, whose first 36 + data.length bytes are the frame. */
    ByteBuffer ata(final long dst, final int shelf, final int slot, final int tag, final int aflags, final int command,
        final int count, final long lba, final byte[] data)
    {
        final ByteBuffer f = request(dst, shelf, slot, AoeHeader.CMD_ATA, tag);
        final AtaHeader a = new AtaHeader().wrap(f, 0).aflags(aflags).errFeature(0).sectorCount(count).cmdStatus(command)
            .clearReserved();
        if ((aflags & AtaHeader.AFLAG_LBA48) != 0)
        {
            a.lba(lba);
        }
        else
        {
            a.lba28(lba);
        }
        if (data != null)
        {
            f.put(AtaHeader.DATA_OFFSET, data);
        }
        return f;
    }

    void send(final ByteBuffer frame, final int length)
    {
        if (!nic.send(frame, length))
        {
            throw new IllegalStateException("hub refused a frame of " + length + " bytes");
        }
    }

    /** The received frame carrying {@code tag} (others are kept for later calls); fails after 5 s. */
    ByteBuffer reply(final int tag) throws InterruptedException
    {
        for (final var it = passedOver.iterator(); it.hasNext();)
        {
            final ByteBuffer f = it.next();
            if (new AoeHeader().wrap(f, 0).tag() == tag)
            {
                it.remove();
                return f;
            }
        }
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (true)
        {
            final long left = deadline - System.nanoTime();
            final ByteBuffer f = left > 0 ? received.poll(left, TimeUnit.NANOSECONDS) : null;
            assertNotNull(f, "no reply with tag " + Integer.toHexString(tag) + " within 5 s");
            if (new AoeHeader().wrap(f, 0).tag() == tag)
            {
                return f;
            }
            passedOver.add(f);
        }
    }

    /** Fails if a frame with {@code tag} arrives within {@code millis}. */
    void expectNoReply(final int tag, final long millis) throws InterruptedException
    {
        for (final ByteBuffer f : passedOver)
        {
            assertNull(new AoeHeader().wrap(f, 0).tag() == tag ? f : null, "expected no reply with tag " + Integer.toHexString(tag));
        }
        final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        while (true)
        {
            final long left = deadline - System.nanoTime();
            if (left <= 0)
            {
                return;
            }
            final ByteBuffer f = received.poll(left, TimeUnit.NANOSECONDS);
            if (f != null && new AoeHeader().wrap(f, 0).tag() == tag)
            {
                assertNull(f, "expected no reply with tag " + Integer.toHexString(tag));
            }
            if (f != null)
            {
                passedOver.add(f);
            }
        }
    }

    /** Every frame received so far, removed from the queue. */
    java.util.List<ByteBuffer> drain()
    {
        final java.util.List<ByteBuffer> out = new java.util.ArrayList<>(passedOver);
        passedOver.clear();
        received.drainTo(out);
        return out;
    }

    /** The next frame, whatever it is, or null after {@code millis}. */
    ByteBuffer next(final long millis) throws InterruptedException
    {
        final ByteBuffer kept = passedOver.poll();
        return kept != null ? kept : received.poll(millis, TimeUnit.MILLISECONDS);
    }

    @Override
    public void close()
    {
        nic.close();
    }
}
