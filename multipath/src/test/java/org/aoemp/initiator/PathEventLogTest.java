package org.aoemp.initiator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import org.aoemp.block.IoError;
import org.aoemp.testing.Await;
import org.aoemp.testing.ScriptedTarget;
import org.aoemp.testing.ScriptedTarget.Fate;
import org.aoemp.transport.MemoryHub;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What an operator reads in the log when paths and devices fail and come back: one warning when a
 * path stops carrying traffic, one info line when it carries again, a bounded number of lines for
 * a flapping path, an error when the device is dead and an info line when it recovers, and
 * rate-limited retransmit-storm warnings. SLF4J goes to java.util.logging in this module's tests
 * (slf4j-jdk14), where a handler collects the records.
 */
class PathEventLogTest
{
    private static final long INI_A_MAC = 0x02_00_00_00_00_01L;
    private static final long INI_B_MAC = 0x02_00_00_00_00_03L;
    private static final long TARGET_MAC = 0x02_00_00_00_00_02L;
    private static final String TARGET_MAC_TEXT = "02:00:00:00:00:02";
    private static final int DISK = 4 << 20;
    private static final Duration GENEROUS = Duration.ofSeconds(30);
    private static final String DEVICE = "e9.4";
    /** Lines are spaced by the engine's monotonic clock; their records carry wall-clock milliseconds. */
    private static final long CLOCK_SLACK_MILLIS = 20;

    /** Held strongly: java.util.logging keeps loggers weakly, and the level set on it must stay. */
    private static final Logger INITIATOR_LOG = Logger.getLogger("org.aoemp.initiator");

    private final List<LogRecord> records = new CopyOnWriteArrayList<>();
    private final Handler capture = new Handler()
    {
        @Override
        public void publish(final LogRecord r)
        {
            records.add(r);
        }

        @Override
        public void flush()
        {
        }

        @Override
        public void close()
        {
        }
    };
    private Level levelBefore;

    private MemoryHub hub;
    private ScriptedTarget target;
    private Initiator initiator;
    private AoeDevice device;
    private volatile boolean dropIniA;

    @BeforeEach
    void captureLog()
    {
        levelBefore = INITIATOR_LOG.getLevel();
        INITIATOR_LOG.setLevel(Level.INFO);
        capture.setLevel(Level.ALL);
        INITIATOR_LOG.addHandler(capture);
    }

    @AfterEach
    void tearDown()
    {
        if (initiator != null)
        {
            initiator.close();
        }
        if (target != null)
        {
            target.close();
        }
        if (hub != null)
        {
            hub.close();
        }
        INITIATOR_LOG.removeHandler(capture);
        INITIATOR_LOG.setLevel(levelBefore);
    }

    private static DeviceOptions fastRetries()
    {
        return DeviceOptions.defaults().withRto(Duration.ofMillis(20), Duration.ofMillis(5), Duration.ofMillis(200));
    }

    /** The target e9.4 on the hub; the initiator on ini-a and ini-b (two paths), or on ini-a alone. */
    private void open(final DeviceOptions options, final boolean twoPaths) throws Exception
    {
        hub = new MemoryHub();
        target = new ScriptedTarget(hub.attach("tgt0", TARGET_MAC, 1500), 9, 4, DISK, 16);
        final MemoryHub.Nic a = hub.attach("ini-a", INI_A_MAC, 1500);
        hub.interceptor(MemoryHub.Interceptor.dropIf((source, frame) -> dropIniA && source == a));
        initiator = Initiator.start(twoPaths ? List.of(a, hub.attach("ini-b", INI_B_MAC, 1500)) : List.of(a), Duration.ZERO);
        device = initiator.open(new TargetAddress(9, 4), options);
        Await.until(GENEROUS, () -> device.pathStats().size() == (twoPaths ? 2 : 1), "every path found");
    }

    private PathStats path(final String nic)
    {
        return device.pathStats().stream().filter(p -> p.localInterface().equals(nic)).findFirst().orElseThrow();
    }

    /** One read of 64 KiB (32 commands over the paths that carry traffic); true when it succeeded. */
    private boolean read()
    {
        try
        {
            device.readAsync(0, ByteBuffer.allocate(64 << 10)).get(GENEROUS.toSeconds(), TimeUnit.SECONDS);
            return true;
        }
        catch (final Exception e)
        {
            return false;
        }
    }

    /** The log lines (formatted messages) about path {@code nic} of the device, at {@code level} or above. */
    private List<LogRecord> pathLines(final String nic, final Level level)
    {
        return lines(r -> r.getMessage().startsWith(DEVICE + " path " + nic + " -> ") && r.getLevel().intValue() >= level.intValue());
    }

    private List<LogRecord> lines(final Predicate<LogRecord> which)
    {
        return records.stream().filter(which).toList();
    }

    private String all()
    {
        final StringBuilder b = new StringBuilder("\nlog:");
        records.forEach(r -> b.append("\n  ").append(r.getLevel()).append(' ').append(r.getMessage()));
        return b.toString();
    }

    /**
     * Timeouts of at least 100 ms: a path that still works must not look lost when a loaded machine
     * deschedules the JVM for a few milliseconds (a 5 ms floor did, on a benchmark's machine).
     */
    private static DeviceOptions patientRetries()
    {
        return DeviceOptions.defaults().withRto(Duration.ofMillis(200), Duration.ofMillis(100), Duration.ofSeconds(1));
    }

    @Test
    void shouldWarnOnceWhenAPathGoesDownAndInformWhenAProbeBringsItBack() throws Exception
    {
        open(patientRetries(), true);
        final List<LogRecord> found = lines(r -> r.getMessage().startsWith(DEVICE + ": path ini-a -> " + TARGET_MAC_TEXT + " found"));
        assertEquals(1, found.size(), "discovery logged the path" + all());
        assertEquals(Level.INFO, found.get(0).getLevel());
        assertTrue(found.get(0).getMessage().contains("buffers 16, 2 sectors per frame"), found.get(0).getMessage());

        dropIniA = true;
        Await.until(GENEROUS, () -> read() && !pathLines("ini-a", Level.WARNING).isEmpty(), () -> "a warning for ini-a" + all());
        final LogRecord down = pathLines("ini-a", Level.WARNING).get(0);
        assertEquals(Level.WARNING, down.getLevel());
        assertEquals(DEVICE + " path ini-a -> " + TARGET_MAC_TEXT + ": UP -> SUSPECT -> DOWN (3 timeouts in a row)",
            down.getMessage());

        // Past the one-line-a-second limit, so that the line for the return is logged as it happens.
        Await.until(GENEROUS, () -> System.currentTimeMillis() - down.getInstant().toEpochMilli() > PathEventLog.MIN_INTERVAL_MILLIS + 100,
            "time passes");
        assertEquals(1, pathLines("ini-a", Level.INFO).size(), "the probes of a DOWN path log nothing at info" + all());
        dropIniA = false;
        Await.until(GENEROUS, () -> pathLines("ini-a", Level.INFO).size() == 2, () -> "an info line for ini-a's return" + all());
        final LogRecord up = pathLines("ini-a", Level.INFO).get(1);
        assertEquals(Level.INFO, up.getLevel());
        assertTrue(up.getMessage().startsWith(DEVICE + " path ini-a -> " + TARGET_MAC_TEXT + ": DOWN -> PROBING -> UP (probe answered after "),
            up.getMessage());
        assertTrue(read());
    }

    @Test
    void shouldLogABoundedNumberOfLinesForAFlappingPathAndEndWithItsState() throws Exception
    {
        open(fastRetries(), true);
        final MemoryHub.Nic a = hub.nic("ini-a");
        final int flaps = 30;
        for (int i = 0; i < flaps; i++)
        {
            a.setUp(false);
            Await.until(GENEROUS, () -> !path("ini-a").state().carriesTraffic(), "ini-a seen down");
            a.setUp(true);
            Await.until(GENEROUS, () -> path("ini-a").state() == PathState.UP, "ini-a back up");
        }
        assertTrue(path("ini-a").stateChanges() >= 2 * flaps, path("ini-a").toString());
        // Every change that left or reached UP is logged, or counted in a later "not logged one by
        // one" line, which comes at most a second after the change.
        Await.until(GENEROUS, () -> counted(pathLines("ini-a", Level.INFO)) == 2 * flaps,
            () -> "every change logged or counted" + all());
        final List<LogRecord> l = pathLines("ini-a", Level.INFO);
        final long spanMillis = l.getLast().getInstant().toEpochMilli() - l.getFirst().getInstant().toEpochMilli();
        assertTrue(l.size() <= (spanMillis + CLOCK_SLACK_MILLIS) / PathEventLog.MIN_INTERVAL_MILLIS + 1,
            l.size() + " lines in " + spanMillis + " ms: at most one a second" + all());
        final String last = l.getLast().getMessage();
        assertTrue(last.contains("-> UP (probe answered after ") || last.contains(": now UP (last change: probe answered); "), last);
    }

    /** Changes the lines tell of: one per line, or the count a "not logged one by one" line gives. */
    private static int counted(final List<LogRecord> l)
    {
        int counted = 0;
        for (final LogRecord r : l)
        {
            final String m = r.getMessage();
            if (m.contains("not logged one by one"))
            {
                counted += Integer.parseInt(m.substring(m.indexOf("); ") + 3, m.indexOf(" state changes")));
            }
            else
            {
                assertTrue(m.endsWith("(link down)") || m.contains("-> UP (probe answered after "),
                    m);
                counted++;
            }
        }
        return counted;
    }

    @Test
    void shouldLogTheDeviceDeadAfterDeadAfterAndRecoveredWhenAPathAnswers() throws Exception
    {
        open(fastRetries().withDeadAfter(Duration.ofMillis(700)), false);
        target.script((n, cmd, lba, sectors) -> Fate.DROP);
        final ExecutionException e = assertThrows(ExecutionException.class,
            () -> device.readAsync(0, ByteBuffer.allocate(4096)).get(GENEROUS.toSeconds(), TimeUnit.SECONDS));
        assertInstanceOf(IoError.class, e.getCause());
        final List<LogRecord> dead = lines(r -> r.getMessage().startsWith(DEVICE + ": DEAD"));
        assertEquals(1, dead.size(), all());
        assertEquals(Level.SEVERE, dead.get(0).getLevel());
        assertTrue(dead.get(0).getMessage().contains("no path answered for 700 ms while requests waited (dead-after); paths: ini-a -> "
            + TARGET_MAC_TEXT), dead.get(0).getMessage());
        assertEquals(0, lines(r -> r.getMessage().contains("recovered")).size(), all());

        target.script((n, cmd, lba, sectors) -> Fate.SEND);
        Await.until(GENEROUS, () -> !lines(r -> r.getMessage().startsWith(DEVICE + ": recovered")).isEmpty(),
            () -> "a recovered line" + all());
        final LogRecord recovered = lines(r -> r.getMessage().startsWith(DEVICE + ": recovered")).get(0);
        assertEquals(Level.INFO, recovered.getLevel());
        assertTrue(recovered.getMessage().startsWith(DEVICE + ": recovered: ini-a -> " + TARGET_MAC_TEXT + " answered after "),
            recovered.getMessage());
        assertTrue(read());
        assertEquals(1, lines(r -> r.getMessage().startsWith(DEVICE + ": DEAD")).size(), all());
    }

    @Test
    void shouldWarnAboutARetransmitStormAtMostOncePerInterval() throws Exception
    {
        open(fastRetries(), true);
        final long intervalMillis = 300;
        device.engine().runOnEngine(() -> device.engine().timer().stormWarning(TimeUnit.MILLISECONDS.toNanos(intervalMillis), 10));
        target.script((n, cmd, lba, sectors) -> n % 4 == 1 ? Fate.DROP : Fate.SEND);
        final Predicate<LogRecord> storm = r -> r.getMessage().startsWith(DEVICE + ": ") && r.getMessage().contains(" retransmits in the last ");
        Await.until(GENEROUS, () -> read() && lines(storm).size() >= 2, () -> "two storm warnings" + all());
        final List<LogRecord> l = lines(storm);
        for (final LogRecord r : l)
        {
            assertEquals(Level.WARNING, r.getLevel());
            assertTrue(r.getMessage().contains("(more than 10): "), r.getMessage());
            assertTrue(r.getMessage().contains("ini-a -> " + TARGET_MAC_TEXT), r.getMessage());
            assertTrue(r.getMessage().contains("ini-b -> " + TARGET_MAC_TEXT), r.getMessage());
        }
        final long spanMillis = l.getLast().getInstant().toEpochMilli() - l.getFirst().getInstant().toEpochMilli();
        assertTrue(l.size() <= (spanMillis + CLOCK_SLACK_MILLIS) / intervalMillis + 1, l.size() + " warnings in " + spanMillis + " ms" + all());
    }
}
