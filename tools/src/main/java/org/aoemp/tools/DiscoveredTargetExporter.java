package org.aoemp.tools;

import java.util.Map;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;

import org.aoemp.agent.Agent;
import org.aoemp.agent.AgentRunner;
import org.aoemp.agent.BackoffIdleStrategy;
import org.aoemp.block.IoError;
import org.aoemp.initiator.AoeDevice;
import org.aoemp.initiator.DeviceOptions;
import org.aoemp.initiator.Initiator;
import org.aoemp.initiator.TargetAddress;
import org.aoemp.initiator.TargetDirectory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code aoe nbd -i IF...} without target names: exports every target heard after the start
 * too. Targets announce themselves when they start (vblade and {@code aoe target} broadcast a
 * config reply) and the initiator re-queries periodically, so a target started later is heard
 * within one query interval at most; each one heard for the first time is opened and handed to
 * {@code export}. An export stays when its target goes away: the device fails I/O with EIO after
 * dead-after and recovers when the target answers again, as for any export.
 *
 * <p>Threads: the directory's listener (a receive thread) only queues the address; the agent
 * {@code aoe-autoexport} opens it, which waits for IDENTIFY up to the open timeout, so a target
 * that does not answer delays later ones by that much at most. A target that fails to open is
 * tried again when it is heard after {@value #RETRY_AFTER_SECONDS} s.
 */
final class DiscoveredTargetExporter implements AutoCloseable
{
    private static final Logger LOG = LoggerFactory.getLogger(DiscoveredTargetExporter.class);
    static final long RETRY_AFTER_SECONDS = 10;

    /** What to do with a device opened here: export it (on the agent's thread). */
    @FunctionalInterface
    interface Sink
    {
        void export(AoeDevice device) throws Exception;
    }

    private final Initiator initiator;
    private final DeviceOptions options;
    private final Sink sink;
    private final Set<TargetAddress> known = ConcurrentHashMap.newKeySet();
    private final Map<TargetAddress, Long> failedAt = new ConcurrentHashMap<>();
    private final Queue<TargetAddress> heard = new ConcurrentLinkedQueue<>();
    private final TargetDirectory.Listener listener = (address, endpoint) -> onHeard(address);
    private final AgentRunner runner;

    /**
     * @param exported the targets exported already (not opened again)
     */
    DiscoveredTargetExporter(final Initiator initiator, final DeviceOptions options, final Set<TargetAddress> exported, final Sink sink)
    {
        this.initiator = initiator;
        this.options = options;
        this.sink = sink;
        this.known.addAll(exported);
        this.runner = new AgentRunner(new Opener(), BackoffIdleStrategy.parkAtOnce(100, TimeUnit.MILLISECONDS, null), error -> { });
    }

    /** Starts listening, and takes every target the directory knows already (heard before this started). */
    DiscoveredTargetExporter start()
    {
        initiator.directory().addListener(listener);
        for (final TargetDirectory.Target t : initiator.directory().targets())
        {
            onHeard(t.address());
        }
        runner.start();
        return this;
    }

    /** Any thread (a receive thread): be quick. */
    private void onHeard(final TargetAddress address)
    {
        if (known.contains(address))
        {
            return;
        }
        final Long failed = failedAt.get(address);
        if (failed != null && System.nanoTime() - failed < TimeUnit.SECONDS.toNanos(RETRY_AFTER_SECONDS))
        {
            return;
        }
        if (known.add(address))
        {
            heard.add(address);
        }
    }

    private final class Opener implements Agent
    {
        @Override
        public String roleName()
        {
            return "aoe-autoexport";
        }

        @Override
        public int doWork() throws InterruptedException
        {
            int n = 0;
            TargetAddress a;
            while ((a = heard.poll()) != null)
            {
                open(a);
                n++;
            }
            return n;
        }

        private void open(final TargetAddress address) throws InterruptedException
        {
            try
            {
                final AoeDevice device = initiator.open(address, options);
                try
                {
                    sink.export(device);
                }
                catch (final Exception | Error e)
                {
                    device.close();
                    throw e;
                }
                failedAt.remove(address);
                LOG.info("{} appeared after the start: exported ({} bytes)", address, device.size());
            }
            catch (final InterruptedException e)
            {
                throw e;
            }
            catch (final IoError e)
            {
                retryLater(address, e.getMessage());
            }
            catch (final Exception e)
            {
                retryLater(address, e.toString());
            }
        }

        private void retryLater(final TargetAddress address, final String why)
        {
            LOG.warn("{} was heard but cannot be exported: {} (tried again when heard after {} s)", address, why, RETRY_AFTER_SECONDS);
            failedAt.put(address, System.nanoTime());
            known.remove(address);
        }
    }

    @Override
    public void close()
    {
        initiator.directory().removeListener(listener);
        runner.close();
    }
}
