package org.aoemp.initiator;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;

import org.aoemp.agent.Agent;
import org.aoemp.agent.Wakeup;
import org.aoemp.protocol.AoeHeader;
import org.aoemp.protocol.Identify;
import org.aoemp.protocol.MacAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent {@code aoe-identity} of an {@link Initiator}: checks the identity of target MACs
 * heard after a device was opened, and again whenever a MAC that is a path answers discovery
 * (at most every {@link TargetIdentities#RECHECK_INTERVAL_NANOS}; a target that restarts
 * announces itself, so a replaced disk is seen at once). It sends an ATA IDENTIFY to that MAC
 * (up to {@value #ATTEMPTS} times, {@value #ATTEMPT_MILLIS} ms apart) and has the device's
 * {@link TargetIdentities} judge the answer: a MAC with the device's disk becomes a path (again);
 * one with another disk never does, or stops being one; the log says which and why.
 *
 * <p>Threading: {@link #check} from the receive threads (a discovery listener), the rest on the
 * agent's thread. Nothing here is on the data path.
 */
final class IdentityVerifier implements Agent
{
    private static final Logger LOG = LoggerFactory.getLogger(IdentityVerifier.class);
    static final long ATTEMPT_MILLIS = 300;
    static final int ATTEMPTS = 5;
    private static final long ATTEMPT_NANOS = TimeUnit.MILLISECONDS.toNanos(ATTEMPT_MILLIS);
    /**
     * The longest park with no check in progress. A check asked for wakes the agent at once (no
     * lost wake-ups, see {@link Wakeup}), so this is only a safety net; at 1 s it cost a bridge at
     * rest a wake-up a second.
     */
    static final long IDLE_PARK_NANOS = TimeUnit.SECONDS.toNanos(30);

    private final Initiator initiator;
    private final ConcurrentLinkedQueue<Check> requested = new ConcurrentLinkedQueue<>();
    private final List<Check> active = new ArrayList<>();
    /** Woken by a check asked for and by each reply to a check in progress. */
    final Wakeup wakeup = new Wakeup(() -> !requested.isEmpty() || aReplyWaits());

    /** One MAC being asked for its IDENTIFY data on behalf of one device. */
    private static final class Check
    {
        final AoeDevice device;
        final TargetDirectory.Endpoint endpoint;
        Initiator.Exchange exchange;
        long deadlineNanos;
        int attempts;

        Check(final AoeDevice device, final TargetDirectory.Endpoint endpoint)
        {
            this.device = device;
            this.endpoint = endpoint;
        }
    }

    IdentityVerifier(final Initiator initiator)
    {
        this.initiator = initiator;
    }

    @Override
    public String roleName()
    {
        return "aoe-identity";
    }

    /** Asks for {@code endpoint}'s MAC to be checked against {@code device}'s identity. Any thread. */
    void check(final AoeDevice device, final TargetDirectory.Endpoint endpoint)
    {
        requested.add(new Check(device, endpoint));
        wakeup.wake();
    }

    @Override
    public int doWork()
    {
        final long now = System.nanoTime();
        int n = 0;
        Check c;
        while ((c = requested.poll()) != null)
        {
            n++;
            if (!c.device.isClosed() && !isActive(c))
            {
                c.exchange = initiator.openExchange(AoeHeader.CMD_ATA, wakeup::wake);
                send(c, now);
                active.add(c);
            }
        }
        long nextDeadline = now + IDLE_PARK_NANOS;
        for (final Iterator<Check> it = active.iterator(); it.hasNext(); )
        {
            final Check a = it.next();
            final EndpointIdentity answer = answer(a);
            if (answer != null || a.device.isClosed())
            {
                if (answer != null && !a.device.isClosed())
                {
                    apply(a.device, a.endpoint.mac(), answer);
                }
                finish(a, it);
                n++;
            }
            else if (now - a.deadlineNanos >= 0)
            {
                n++;
                if (a.attempts < ATTEMPTS)
                {
                    send(a, now);
                }
                else
                {
                    LOG.debug("{}: {} did not answer IDENTIFY ({} attempts); it stays as it was", a.device.name(),
                        a.endpoint.macString(), ATTEMPTS);
                    finish(a, it);
                    continue;
                }
            }
            nextDeadline = Math.min(nextDeadline, a.deadlineNanos);
        }
        if (n == 0)
        {
            wakeup.limitNextPark(Math.max(1, nextDeadline - now));
        }
        return n;
    }

    @Override
    public void onClose()
    {
        for (final Check a : active)
        {
            initiator.endExchange(a.exchange);
        }
        active.clear();
    }

    /** Agent thread (the wake-up asks before parking): a reply queued for a check in progress. */
    private boolean aReplyWaits()
    {
        for (final Check a : active)
        {
            if (!a.exchange.replies.isEmpty())
            {
                return true;
            }
        }
        return false;
    }

    private boolean isActive(final Check c)
    {
        for (final Check a : active)
        {
            if (a.device == c.device && a.endpoint.mac() == c.endpoint.mac())
            {
                return true;
            }
        }
        return false;
    }

    private void send(final Check c, final long now)
    {
        c.attempts++;
        c.deadlineNanos = now + ATTEMPT_NANOS;
        initiator.sendIdentify(c.endpoint.port(), c.endpoint.mac(), c.device.address(), c.exchange.tag);
    }

    /** The identity in a reply from the checked MAC, or null (none yet, or an error reply: tried again). */
    private static EndpointIdentity answer(final Check c)
    {
        Initiator.Reply r;
        while ((r = c.exchange.replies.poll()) != null)
        {
            final Identify id = r.sourceMac() == c.endpoint.mac() ? Initiator.identifyIn(r) : null;
            if (id != null)
            {
                return new EndpointIdentity(id, c.endpoint.configString());
            }
        }
        return null;
    }

    private void finish(final Check c, final Iterator<Check> it)
    {
        initiator.endExchange(c.exchange);
        it.remove();
    }

    /** Acts on a verdict: paths added, taken out or put back, and the log line an operator needs. */
    private void apply(final AoeDevice device, final long mac, final EndpointIdentity answer)
    {
        final TargetIdentities ids = device.identities();
        final TargetIdentities.Change change = ids.judge(mac, answer);
        final TargetIdentities.Verdict before = change.before() == null ? null : change.before().verdict();
        final EndpointIdentity was = change.before() == null ? null : change.before().identity();
        final String macText = new MacAddress(mac).toString();
        final EndpointIdentity reference = ids.reference();
        switch (change.after().verdict())
        {
            case PATH ->
            {
                if (before == TargetIdentities.Verdict.CHANGED)
                {
                    LOG.info("{}: {} answers with the device's own disk again ({}): its paths carry I/O again", device.name(), macText,
                        reference.describe());
                    device.excludeMac(mac, false);
                }
                else if (before != TargetIdentities.Verdict.PATH)
                {
                    LOG.info("{}: {} answers with the device's disk ({}): a path", device.name(), macText, reference.describe());
                }
                else if (was != null && !was.configString().equals(answer.configString()))
                {
                    LOG.info("{}: {} changed its config string: \"{}\" -> \"{}\"", device.name(), macText, was.configString(),
                        answer.configString());
                }
                initiator.addPathsTo(device, mac);
            }
            case CHANGED ->
            {
                if (before == TargetIdentities.Verdict.PATH)
                {
                    LOG.error("{}: {} now answers with another disk ({}; was {}): replaced or resized under us, so no more I/O goes "
                        + "to it; the device keeps {} bytes and its other paths. To use the new disk, reopen {} (restart aoe nbd or "
                        + "aoe copy; in aoe serve, remove the export, reload, add it back, reload)", device.name(), macText,
                        answer.changesFrom(reference), reference.describe(), device.size(), device.name());
                    device.excludeMac(mac, true);
                }
            }
            case CONFLICT ->
            {
                if (before != TargetIdentities.Verdict.CONFLICT || was == null || !was.sameTarget(answer))
                {
                    LOG.warn("{}: {} also answers as {} but with another disk ({}; the device has {}): not a path, no I/O goes to it. "
                        + "Two targets claim the same shelf.slot; to use that one, reopen with --mac {}", device.name(), macText,
                        device.name(), answer.describe(), reference.describe(), macText);
                }
            }
            case NOT_LISTED ->
            {
                if (before != TargetIdentities.Verdict.NOT_LISTED)
                {
                    LOG.info("{}: {} answers with the device's disk but was not named with --mac: not a path", device.name(), macText);
                }
            }
            case UNVERIFIED ->
            {
                // judge() never returns it
            }
        }
    }
}
