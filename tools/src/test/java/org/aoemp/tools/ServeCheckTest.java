package org.aoemp.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.regex.Pattern;

import org.aoemp.testing.BulkIo;
import org.aoemp.testing.Prerequisites;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import picocli.CommandLine;

/**
 * {@code aoe serve --check}: a good file passes (as an unprivileged user, with the listen port
 * taken: it binds nothing), and each kind of mistake is refused with exit status 2 and a message
 * that names the file, the line and the key.
 */
class ServeCheckTest
{
    @TempDir
    Path dir;

    record Run(int exit, String out, String err)
    {
    }

    private static Run aoe(final String... args)
    {
        final StringWriter out = new StringWriter();
        final StringWriter err = new StringWriter();
        final CommandLine cl = AoeCommand.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        final int exit = cl.execute(args);
        return new Run(exit, out.toString(), err.toString());
    }

    private Path config(final String text) throws Exception
    {
        final Path disk = dir.resolve("e7.3.img");
        if (!Files.exists(disk))
        {
            BulkIo.sparseFile(disk, 1 << 20);
        }
        final Path f = dir.resolve("aoe.conf");
        Files.writeString(f, text.replace("DISK", disk.toString()));
        return f;
    }

    private static final String GOOD = """
        # the initiator host and the target host in one file
        [nbd]
        listen = "127.0.0.1:PORT"

        [service]
        stop-timeout = "20s"
        metrics = "127.0.0.1:9810"

        [[export]]
        target = "e7.3"
        interfaces = ["lo"]
        read-only = false
        dead-after = "180s"
        exclusive = true

        [[target]]
        shelf = 7
        slot = 3
        file = "DISK"
        interfaces = ["lo"]
        read-only = false
        mac-mask = ["02:00:00:00:00:01"]
        buffers = 16
        sync = false
        """;

    @Test
    void aGoodFilePassesForAnUnprivilegedUserWithItsListenPortTaken() throws Exception
    {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress()))
        {
            final String text = GOOD.replace("PORT", String.valueOf(taken.getLocalPort()));
            final Run in = aoe("serve", "--check", "--config", config(text).toString());
            assertEquals(0, in.exit(), in.err());
            assertTrue(in.out().contains("is valid: 1 export(s), 1 target(s)"), in.out());
            if (!Prerequisites.isRoot())
            {
                return; // this user is unprivileged already
            }
            Prerequisites.requireCommand("setpriv", "util-linux");
            try (UnprivilegedJvm nobody = new UnprivilegedJvm())
            {
                final Path disk = nobody.dir().resolve("e7.3.img");
                BulkIo.sparseFile(disk, 1 << 20);
                final Path conf = nobody.dir().resolve("aoe.conf");
                Files.writeString(conf, text.replace("DISK", disk.toString()));
                Files.setPosixFilePermissions(conf, PosixFilePermissions.fromString("rw-r--r--"));
                final UnprivilegedJvm.Result r = nobody.run("serve", "--check", "--config", conf.toString());
                assertEquals(0, r.exit(), "as nobody, with the port taken: " + r.output());
                assertTrue(r.output().contains("is valid"), r.output());

                Files.writeString(conf, "[nbd]\nlisten = 10809\n");
                final UnprivilegedJvm.Result bad = nobody.run("serve", "--check", "--config", conf.toString());
                assertEquals(2, bad.exit(), bad.output());
                assertTrue(bad.output().contains(conf + ":2: nbd.listen: expected a string"), bad.output());
            }
        }
    }

    @Test
    @org.aoemp.testing.RealPeer
    void theAccessKeysPassWithRealCertificates() throws Exception
    {
        final org.aoemp.testing.TestCertificates certs = org.aoemp.testing.TestCertificates.create(dir.resolve("pki"));
        final Path f = config("[nbd]\n"
            + "listen = [\"127.0.0.1:10809\", \"unix:/run/aoe/nbd.sock\"]\n"
            + "allow = [\"192.168.1.0/24\", \"fd00::/64\"]\n"
            + "tls = \"require\"\n"
            + "tls-certificates = \"pki/server\"   # relative to this file\n");
        assertTrue(certs.serverDir().startsWith(dir));
        final Run r = aoe("serve", "--check", "--config", f.toString());
        assertEquals(0, r.exit(), r.err());
    }

    @Test
    void anEmptyFileIsValidAndServesNothing() throws Exception
    {
        final Run r = aoe("serve", "--check", "--config", config("# nothing yet\n").toString());
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("0 export(s), 0 target(s)"), r.out());
    }

    /** Each row: the file's text ({@code |} for newlines), then the line and key the message must name, then words of it. */
    @ParameterizedTest(name = "{1}")
    @CsvSource(delimiter = ';', textBlock = """
        [nbd]|colour = "blue";                                              2: nbd.colour;                      unknown key
        [[export]]|target = "e7.3"|speed = 3;                               3: export[1].speed;                 unknown key
        [[export]]|target = 73;                                             2: export[1].target;                expected a string
        [[export]]|target = "e7.3"|read-only = "yes";                       3: export[1].read-only;             expected true or false
        [[export]]|target = "e7.3"|exclusive = 1;                           3: export[1].exclusive;             expected true or false
        [[export]]|target = "e7.3"|interfaces = "lo";                       3: export[1].interfaces;            expected an array
        [[export]]|target = "e7.3"|dead-after = "soon";                     3: export[1].dead-after;            not a duration
        [[export]]|target = "e7.3"|dead-after = 180;                        3: export[1].dead-after;            expected a duration string
        [[export]]|target = "e7.x";                                         2: export[1].target;                not a target address
        [[export]]|target = "e65535.1";                                     2: export[1].target;                shelf must be
        [[export]]|interfaces = ["lo"];                                     1: export[1].target;                missing
        [[export]]|target = "e7.3"||[[export]]|target = "7.3";              5: export[2].target;                duplicate export e7.3 (already exported at line 1)
        [[export]]|target = "e7.3"|interfaces = ["nosuch0"];                3: export[1].interfaces;            interface 'nosuch0' does not exist
        [[target]]|shelf = 65535|slot = 1|file = "DISK"|interfaces = ["lo"];   2: target[1].shelf;           out of range
        [[target]]|shelf = 1|slot = 255|file = "DISK"|interfaces = ["lo"];     3: target[1].slot;            out of range
        [[target]]|shelf = 1|slot = 2|file = "/nonexistent/e1.2.img"|interfaces = ["lo"];  4: target[1].file;  no such file or block device
        [[target]]|shelf = 1|slot = 2|interfaces = ["lo"];                  1: target[1].file;                  missing
        [[target]]|shelf = 1|file = "DISK"|interfaces = ["lo"];             1: target[1].slot;                  missing
        [[target]]|shelf = 1|slot = 2|file = "DISK";                        1: target[1].interfaces;            missing
        [[target]]|shelf = 1|slot = 2|file = "DISK"|interfaces = ["lo"]|buffers = 0;        6: target[1].buffers;   out of range
        [[target]]|shelf = 1|slot = 2|file = "DISK"|interfaces = ["lo"]|mac-mask = ["zz"];  6: target[1].mac-mask;  not a MAC address
        [[target]]|shelf = 1|slot = 2|file = "DISK"|interfaces = ["lo"]||[[target]]|shelf = 1|slot = 2|file = "DISK"|interfaces = ["lo"];  8: target[2].shelf;  duplicate target e1.2
        [service]|stop-timeout = "forever";                                 2: service.stop-timeout;            not a duration
        [nbd]|listen = "localhost";                                         2: nbd.listen;                      expected HOST:PORT
        [nbd]|listen = ["127.0.0.1:10809", 5];                              2: nbd.listen;                      expected strings
        [nbd]|listen = [];                                                  2: nbd.listen;                      an empty array
        [nbd]|listen = "unix:";                                             2: nbd.listen;                      needs a socket path
        [nbd]|allow = ["10.0.0.0/8", "10.0.0.0/33"];                        2: nbd.allow;                       prefix length must be 0..32
        [nbd]|tls = "maybe";                                                2: nbd.tls;                         must be off, on or require
        [nbd]|tls = "require";                                              2: nbd.tls;                         needs a certificates directory
        [nbd]|tls = "on"|tls-certificates = "/nonexistent/pki";             3: nbd.tls-certificates;            no such directory
        [nbd]|tls-certificates = "/nonexistent/pki";                        2: nbd.tls-certificates;            tls is off
        [service]|metrics = "localhost";                                    2: service.metrics;                 expected HOST:PORT
        [service]|metrics = "127.0.0.1:70000";                              2: service.metrics;                 port out of range
        [export]|target = "e7.3";                                           1: export;                          double brackets
        [[export]|target = "e7.3";                                          1: ;                                not valid TOML
        """)
    void eachKindOfMistakeIsRefusedNamingFileLineAndKey(final String text, final String lineAndKey, final String words) throws Exception
    {
        final Path f = config(text.replace('|', '\n') + "\n");
        final Run r = aoe("serve", "--check", "--config", f.toString());
        assertEquals(2, r.exit(), r.out() + r.err());
        final String expected = f + ":" + lineAndKey.strip();
        assertTrue(r.err().contains(expected), "expected '" + expected + "' in:\n" + r.err());
        final String line = r.err().lines().filter(l -> l.contains(expected)).findFirst().orElseThrow();
        assertTrue(line.contains(words.strip()), "expected '" + words.strip() + "' in: " + line);
        assertTrue(Pattern.compile("refused \\(\\d+ problems?\\)").matcher(r.err()).find(), r.err());
    }

    @Test
    void aMissingConfigFileIsRefusedWithExit2() throws Exception
    {
        final Run r = aoe("serve", "--check", "--config", dir.resolve("absent.conf").toString());
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("absent.conf:?: no such file"), r.err());
    }
}
