package org.aoemp.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Where sessions publish, socket names, and the publisher/reader pair without any network. */
class RunDirTest
{
    @TempDir
    Path dir;

    @Test
    void overrideWinsAloneElseRunXdgTmp()
    {
        assertEquals(List.of(Path.of("/x/y")), RunDir.candidates(Map.of(RunDir.ENV, "/x/y", "XDG_RUNTIME_DIR", "/run/user/7")));
        final List<Path> dflt = RunDir.candidates(Map.of("XDG_RUNTIME_DIR", "/run/user/7"));
        assertEquals(Path.of("/run/aoe"), dflt.get(0));
        assertEquals(Path.of("/run/user/7/aoe"), dflt.get(1));
        assertTrue(dflt.get(2).getFileName().toString().startsWith("aoe-"), dflt.toString());
        assertEquals(2, RunDir.candidates(Map.of(RunDir.ENV, " ")).size(), "blank override and no XDG: /run/aoe and tmp");
    }

    @Test
    void socketNamesCarryThePid()
    {
        assertEquals(4242, RunDir.pidOf(RunDir.socketOf(dir, 4242)));
        for (final String bad : List.of("x.sock", "-1.sock", "0.sock", "12", "12.sock.bak", "99999999999999999999.sock"))
        {
            assertEquals(-1, RunDir.pidOf(dir.resolve(bad)), bad);
        }
    }

    @Test
    void aPublishedDocumentIsReadBackAndRemovedOnClose() throws Exception
    {
        final Path run = RunDir.forPublishing(Map.of(RunDir.ENV, dir.resolve("run").toString()));
        assertTrue(Files.isDirectory(run));
        try (StatsPublisher p = StatsPublisher.start(run, "aoe nbd e1.1 -i x", List::of))
        {
            assertTrue(Files.exists(p.socket()));
            final List<LiveSessions.Session> s = LiveSessions.read(List.of(run), Duration.ofSeconds(5));
            assertEquals(1, s.size(), s.toString());
            assertEquals(ProcessHandle.current().pid(), s.get(0).pid());
            assertEquals("aoe nbd e1.1 -i x", s.get(0).command());
            assertEquals(List.of(), s.get(0).devices());
            // Several readers in a row each get a whole document.
            assertEquals(1, LiveSessions.read(List.of(run), Duration.ofSeconds(5)).size());
            assertTrue(statsThreadAlive(), "it answers on its agent thread aoe-stats");
            p.close();
            assertTrue(Files.notExists(p.socket()), "close removes the socket");
            assertTrue(!statsThreadAlive(), "close ends the agent (the runner waits for it)");
        }
        assertEquals(List.of(), LiveSessions.read(List.of(run), Duration.ofSeconds(5)));
    }

    private static boolean statsThreadAlive()
    {
        return Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.getName().equals("aoe-stats") && t.isAlive());
    }

    @Test
    void garbageInTheRunDirectoryIsSkipped() throws Exception
    {
        Files.writeString(dir.resolve("123.sock"), "not a socket");
        Files.writeString(dir.resolve("notes.txt"), "hello");
        assertEquals(List.of(), LiveSessions.read(List.of(dir, dir.resolve("missing")), Duration.ofSeconds(2)));
        assertTrue(Files.exists(dir.resolve("notes.txt")) && Files.exists(dir.resolve("123.sock")), "only stale sockets are removed");
    }
}
