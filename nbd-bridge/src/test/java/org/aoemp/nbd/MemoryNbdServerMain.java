package org.aoemp.nbd;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.concurrent.CountDownLatch;

import io.netty.buffer.AdaptiveByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import org.aoemp.block.MemoryBlockDevice;

/**
 * Serves one memory disk for manual runs and benchmarks (fio, nbdinfo) until killed.
 *
 * <pre>
 * java [-Dnbd.allocator=server|netty-pooled|adaptive] -cp ... org.aoemp.nbd.MemoryNbdServerMain [port=10809] [size=256M] [name=mem] [auto|nio|epoll] [threads=0]
 * </pre>
 */
public final class MemoryNbdServerMain
{
    private MemoryNbdServerMain()
    {
    }

    public static void main(final String[] args) throws InterruptedException
    {
        final int port = args.length > 0 ? Integer.parseInt(args[0]) : NbdServer.DEFAULT_PORT;
        final long size = args.length > 1 ? parseSize(args[1]) : 256L << 20;
        final String name = args.length > 2 ? args[2] : "mem";
        final NbdServer.Transport transport = args.length > 3 ? NbdServer.Transport.valueOf(args[3].toUpperCase()) : NbdServer.Transport.AUTO;
        final int threads = args.length > 4 ? Integer.parseInt(args[4]) : 0;
        final MemoryBlockDevice device = new MemoryBlockDevice(name, size);
        final NbdServer server = NbdServer.builder()
            .listen(new InetSocketAddress(InetAddress.getLoopbackAddress(), port))
            .export(name, device)
            .transport(transport)
            .ioThreads(threads)
            .allocator(switch (System.getProperty("nbd.allocator", "server"))
            {
                case "server" -> NbdServer.defaultAllocator();
                case "netty-pooled" -> PooledByteBufAllocator.DEFAULT;
                case "adaptive" -> new AdaptiveByteBufAllocator();
                default -> throw new IllegalArgumentException("nbd.allocator: server, netty-pooled or adaptive");
            })
            .start();
        final CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() ->
        {
            server.close();
            device.close();
            stopped.countDown();
        }));
        System.out.println("serving " + server.uri() + " (" + server.uri(name) + "), " + size + " bytes, "
            + (server.usesEpoll() ? "epoll" : "nio"));
        stopped.await();
    }

    static long parseSize(final String s)
    {
        final char unit = Character.toUpperCase(s.charAt(s.length() - 1));
        final int shift = switch (unit)
        {
            case 'K' -> 10;
            case 'M' -> 20;
            case 'G' -> 30;
            case 'T' -> 40;
            default -> 0;
        };
        return Long.parseLong(shift == 0 ? s : s.substring(0, s.length() - 1)) << shift;
    }
}
