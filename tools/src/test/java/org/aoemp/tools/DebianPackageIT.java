package org.aoemp.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.aoemp.testing.Prerequisites;
import org.aoemp.testing.ProcessRunner;
import org.aoemp.testing.RealPeer;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;

/**
 * Builds the Debian package with {@code packaging/build-deb} once, unpacks it and checks what an
 * installation would get: the launcher runs on the bundled runtime with native access, the units
 * pass {@code systemd-analyze verify}, the conffile is declared, the completion completes, the man
 * page renders and covers every subcommand.
 *
 * <p>An integration test (maven-failsafe-plugin, phase integration-test): it packages the shaded
 * {@code tools/target/aoe.jar}, which exists only after the {@code package} phase; failsafe passes
 * its path as {@code aoe.jar}. Takes about a minute (jlink, jpackage, dpkg-deb with gzip).
 */
@RealPeer
class DebianPackageIT
{
    private static final Duration BUILD_TIMEOUT = Duration.ofMinutes(10);
    private static final Duration RUN_TIMEOUT = Duration.ofMinutes(1);

    @TempDir
    static Path tmp;

    private static Path root;
    private static Path deb;
    private static Path tree;
    private static Path control;

    @BeforeAll
    static void buildAndUnpack() throws IOException
    {
        final Path jdk = Path.of(System.getProperty("java.home"));
        Prerequisites.require(Files.isExecutable(jdk.resolve("bin/jpackage")) && Files.isExecutable(jdk.resolve("bin/jlink")),
            "jpackage and jlink in " + jdk + " (a full JDK 25)");
        Prerequisites.requireCommand("dpkg-deb", "dpkg");
        Prerequisites.requireCommand("objcopy", "binutils");
        Prerequisites.requireCommand("systemd-analyze", "systemd");
        Prerequisites.requireCommand("man", "man-db");
        Prerequisites.requireCommand("nroff", "groff-base");
        Prerequisites.requireCommand("bash", "bash");

        root = projectRoot();
        final Path jar = Path.of(System.getProperty("aoe.jar", root.resolve("tools/target/aoe.jar").toString()));
        if (!Files.isRegularFile(jar))
        {
            fail(jar + " is missing: this test runs in the integration-test phase, after the shaded jar is built "
                + "(mvn -pl tools -am verify -Dit.test=DebianPackageIT)");
        }
        // gzip: several times faster than the default xz; the contents are the same.
        final ProcessRunner.Result build = ProcessRunner.run(BUILD_TIMEOUT, "env", "JAVA_HOME=" + jdk,
            root.resolve("packaging/build-deb").toString(), "--jar", jar.toString(), "--dest", tmp.resolve("out").toString(),
            "--compress", "gzip").orThrow();
        final List<String> lines = build.stdout().lines().toList();
        assertFalse(lines.isEmpty(), "build-deb printed nothing on stdout; stderr: " + build.stderr());
        deb = Path.of(lines.get(lines.size() - 1));
        assertTrue(Files.isRegularFile(deb), "the last line of build-deb is the package: " + deb);
        assertEquals("aoe_" + debianVersion() + "_amd64.deb", deb.getFileName().toString());

        tree = tmp.resolve("tree");
        control = tmp.resolve("control");
        ProcessRunner.run(RUN_TIMEOUT, "dpkg-deb", "-x", deb.toString(), tree.toString()).orThrow();
        ProcessRunner.run(RUN_TIMEOUT, "dpkg-deb", "-e", deb.toString(), control.toString()).orThrow();
    }

    /** The Maven project version as a Debian version: 0.1.0-SNAPSHOT is 0.1.0~SNAPSHOT. */
    private static String debianVersion()
    {
        final String maven = System.getProperty("project.version");
        Assumptions.assumeTrue(maven != null, "project.version is set by failsafe");
        return maven.replace('-', '~');
    }

    private static Path projectRoot()
    {
        final String env = System.getenv("AOE_PROJECT_ROOT");
        Path dir = env != null && !env.isBlank() ? Path.of(env) : Path.of("").toAbsolutePath();
        while (dir != null && !Files.isRegularFile(dir.resolve("packaging/build-deb")))
        {
            dir = dir.getParent();
        }
        if (dir == null)
        {
            fail("packaging/build-deb not found above " + Path.of("").toAbsolutePath());
        }
        return dir;
    }

    private static String read(final Path file) throws IOException
    {
        return Files.readString(file);
    }

    /** The lines that are not shell or unit-file comments (the first line, a #! line, stays). */
    private static String withoutComments(final String text)
    {
        final StringBuilder kept = new StringBuilder();
        text.lines().filter(l -> l.startsWith("#!") || !l.stripLeading().startsWith("#")).forEach(l -> kept.append(l).append('\n'));
        return kept.toString();
    }

    private static ProcessRunner.Result aoe(final String... args)
    {
        // No JAVA_HOME, no JDK on PATH: the launcher must bring its own runtime.
        final List<String> argv = new ArrayList<>(List.of("env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
            tree.resolve("usr/bin/aoe").toString()));
        argv.addAll(List.of(args));
        return ProcessRunner.run(RUN_TIMEOUT, argv.toArray(String[]::new));
    }

    private static Map<String, String> controlFields() throws IOException
    {
        final Map<String, String> fields = new LinkedHashMap<>();
        for (final String line : read(control.resolve("control")).lines().toList())
        {
            final Matcher m = Pattern.compile("^([A-Za-z-]+): ?(.*)$").matcher(line);
            if (m.matches())
            {
                fields.put(m.group(1), m.group(2));
            }
        }
        return fields;
    }

    /** Package metadata: name, version from Maven, dependencies, the conffile, maintainer scripts. */
    @Test
    void metadata() throws IOException
    {
        final Map<String, String> f = controlFields();
        assertEquals("aoe", f.get("Package"));
        assertEquals(debianVersion(), f.get("Version"));
        assertEquals("amd64", f.get("Architecture"));
        assertTrue(f.get("Depends").matches("(.*, )?libc6( \\(>= [0-9.]+\\))?(, .*)?"), "Depends: " + f.get("Depends"));
        assertTrue(f.get("Recommends").contains("libpcap0.8"), "Recommends: " + f.get("Recommends"));
        assertFalse(f.getOrDefault("Maintainer", "").isBlank(), "Maintainer");
        assertFalse(f.getOrDefault("Description", "").isBlank(), "Description");
        assertEquals(List.of("/etc/aoe/aoe.conf"), read(control.resolve("conffiles")).lines().toList(), "conffiles");

        final String postinst = read(control.resolve("postinst"));
        assertTrue(postinst.contains("systemctl --system daemon-reload") && postinst.contains("/run/systemd/system"),
            "postinst reloads systemd when it runs:\n" + postinst);
        for (final String script : List.of("postinst", "prerm", "postrm"))
        {
            final String text = withoutComments(read(control.resolve(script)));
            assertTrue(Files.isExecutable(control.resolve(script)), script + " is executable");
            assertFalse(text.matches("(?s).*systemctl[^\\n]*\\b(enable|start|restart)\\b.*"), script + " enables or starts nothing:\n" + text);
            assertEquals(0, ProcessRunner.run("sh", "-n", control.resolve(script).toString()).exitCode(), script + " parses");
        }
        // Every file matches md5sums: the archive was assembled consistently.
        final ProcessRunner.Result sums = ProcessRunner.run(RUN_TIMEOUT, "sh", "-c", "cd \"$1\" && md5sum --quiet -c \"$2\"", "sh",
            tree.toString(), control.resolve("md5sums").toString());
        assertEquals(0, sums.exitCode(), sums.stdout() + sums.stderr());
    }

    /**
     * /usr/bin/aoe reaches the jpackage launcher, which runs the jar on the bundled Java 25
     * runtime (it runs with an empty environment: no JAVA_HOME, no JDK on PATH) with native
     * access enabled.
     */
    @Test
    void launcherRunsOnTheBundledRuntime() throws IOException
    {
        final Path link = tree.resolve("usr/bin/aoe");
        assertTrue(Files.isSymbolicLink(link), "/usr/bin/aoe is a link");
        assertEquals(tree.resolve("opt/aoe/bin/aoe").toRealPath(), link.toRealPath(), "/usr/bin/aoe -> /opt/aoe/bin/aoe");

        final ProcessRunner.Result version = aoe("--version").orThrow();
        assertEquals(AoeCommand.commandLine().getCommandSpec().version()[0], version.stdout().strip());
        // The packaged jar has the commands of the code under test.
        final List<String> model = ManPage.subcommands(AoeCommand.commandLine().getCommandSpec()).stream()
            .map(CommandLine::getCommandName).toList();
        assertEquals(model, subcommandNames(), "the packaged aoe --help lists the commands of this build");

        final String release = read(tree.resolve("opt/aoe/lib/runtime/release"));
        assertTrue(release.contains("JAVA_VERSION=\"25"), release);
        assertTrue(release.contains("jdk.unsupported"), "jdk.unsupported in the runtime: " + release);
        assertFalse(release.contains("java.desktop"), "no java.desktop in the runtime: " + release);
        assertFalse(Files.exists(tree.resolve("opt/aoe/lib/runtime/include")), "no header files");
        assertFalse(Files.exists(tree.resolve("opt/aoe/lib/runtime/man")), "no man pages");
        final String cfg = read(tree.resolve("opt/aoe/lib/app/aoe.cfg"));
        assertTrue(cfg.contains("--enable-native-access=ALL-UNNAMED"), cfg);

        // A command that opens an AF_PACKET socket through java.lang.foreign: the JDK warns on
        // stderr when native access is not enabled. Root sees "no target answered", others a
        // permission error; both exit 1, neither warns.
        final ProcessRunner.Result discover = aoe("discover", "-i", "lo", "-t", "200ms");
        assertEquals(1, discover.exitCode(), discover.stdout() + discover.stderr());
        assertFalse(discover.stderr().contains("restricted method") || discover.stderr().contains("enable-native-access"),
            discover.stderr());
        assertFalse(discover.stderr().contains("unexpected error"), discover.stderr());
    }

    /** The pcap transport (libpcap through JNA) works on the runtime without java.desktop. */
    @Test
    void pcapTransportRunsWithoutJavaDesktop()
    {
        Prerequisites.requireRoot();
        Prerequisites.require(Files.exists(Path.of("/usr/lib/x86_64-linux-gnu/libpcap.so.0.8")), "libpcap (Debian package libpcap0.8)");
        final ProcessRunner.Result discover = aoe("discover", "--transport", "pcap", "-i", "lo", "-t", "200ms");
        assertEquals(1, discover.exitCode(), discover.stdout() + discover.stderr());
        final String said = discover.stdout() + discover.stderr();
        assertTrue(said.contains("no AoE target answered on lo"), said);
    }

    /** {@code aoe serve --check} accepts the example config: only once this build has {@code serve}. */
    @Test
    void serveChecksTheExampleConfig()
    {
        if (!subcommandNames().contains("serve"))
        {
            final String why = "skipped: this build has no 'aoe serve' yet (aoe --help does not list it), "
                + "so 'aoe serve --check --config /etc/aoe/aoe.conf' cannot run";
            System.err.println("DebianPackageIT.serveChecksTheExampleConfig " + why);
            Assumptions.abort(why);
        }
        final ProcessRunner.Result check = aoe("serve", "--check", "--config", tree.resolve("etc/aoe/aoe.conf").toString());
        assertEquals(0, check.exitCode(), check.stdout() + check.stderr());
    }

    /**
     * The example config: every line commented out (an unedited install serves nothing), and
     * uncommented it names every key of the format; its NBD address is the socket's and the
     * {@code aoe nbd} default.
     */
    @Test
    void exampleConfigIsAllCommentsAndNamesEveryKey() throws IOException
    {
        final List<String> lines = read(tree.resolve("etc/aoe/aoe.conf")).lines().toList();
        final StringBuilder uncommented = new StringBuilder();
        for (final String line : lines)
        {
            assertTrue(line.isBlank() || line.startsWith("#"), "not commented out: " + line);
            if (line.matches("^#[a-z\\[].*"))
            {
                uncommented.append(line.substring(1)).append('\n');
            }
        }
        final String toml = uncommented.toString();
        for (final String table : List.of("[nbd]", "[[export]]", "[[target]]"))
        {
            assertTrue(toml.contains("\n" + table + "\n") || toml.startsWith(table + "\n"), table + " in\n" + toml);
        }
        for (final String key : List.of("listen", "target", "interfaces", "read-only", "dead-after", "shelf", "slot", "file",
            "mac-mask", "buffers", "sync"))
        {
            assertTrue(Pattern.compile("(?m)^" + Pattern.quote(key) + " = ").matcher(toml).find(), key + " in\n" + toml);
        }
        final String nbdDefault = NbdAccess.DEFAULT_LISTEN;  // aoe nbd's --listen when none is given
        assertTrue(toml.contains("listen = \"" + nbdDefault + "\""), "[nbd] listen is aoe nbd's default " + nbdDefault);
        final String socket = withoutComments(read(tree.resolve("lib/systemd/system/aoe.socket")));
        assertTrue(socket.contains("\nListenStream=" + nbdDefault + "\n"), "aoe.socket listens on " + nbdDefault + ":\n" + socket);
    }

    /**
     * The units pass {@code systemd-analyze verify} (syntax, known directives, Documentation=man:aoe(1)
     * found in the package's man pages); ExecStart runs /usr/bin/aoe of the package with the
     * conffile. When the build host has no /usr/bin/aoe, the one complaint that causes is
     * expected (the test checked the package's /usr/bin/aoe runs).
     */
    @Test
    void unitsVerify() throws IOException
    {
        final Path units = tree.resolve("lib/systemd/system");
        final String service = withoutComments(read(units.resolve("aoe.service")));
        assertTrue(service.contains("\nType=notify\n"), "Type=notify");
        assertTrue(service.contains("\nExecStart=/usr/bin/aoe serve --config /etc/aoe/aoe.conf\n"), "ExecStart");
        assertTrue(Files.isExecutable(tree.resolve("usr/bin/aoe")), "ExecStart's binary is in the package");
        assertFalse(service.contains("PrivateNetwork="), "AoE needs the host's interfaces");
        assertTrue(service.matches("(?s).*\\nRestrictAddressFamilies=[^\\n]*\\bAF_PACKET\\b.*"), "raw sockets allowed");

        final ProcessRunner.Result verify = ProcessRunner.run(RUN_TIMEOUT, "env", "MANPATH=" + tree.resolve("usr/share/man"),
            "systemd-analyze", "verify", units.resolve("aoe.socket").toString(), units.resolve("aoe.service").toString());
        final List<String> complaints = new ArrayList<>();
        for (final String line : (verify.stdout() + verify.stderr()).lines().toList())
        {
            final boolean hostHasNoAoe = !Files.exists(Path.of("/usr/bin/aoe"));
            if (!line.isBlank() && !(hostHasNoAoe && line.equals("aoe.service: Command /usr/bin/aoe is not executable: No such file or directory")))
            {
                complaints.add(line);
            }
        }
        assertEquals(List.of(), complaints, "systemd-analyze verify (exit " + verify.exitCode() + ")");
    }

    /** The completion script registers a function for aoe that completes subcommands and their options. */
    @Test
    void bashCompletionCompletes()
    {
        final Path script = tree.resolve("usr/share/bash-completion/completions/aoe");
        assertTrue(Files.isRegularFile(script), script.toString());
        final ProcessRunner.Result complete = ProcessRunner.run(RUN_TIMEOUT, "bash", "-c", """
            source "$1"
            complete -p aoe
            COMP_WORDS=(aoe ta); COMP_CWORD=1; COMP_LINE="aoe ta"; COMP_POINT=${#COMP_LINE}
            _complete_aoe aoe ta aoe; echo "sub: ${COMPREPLY[*]}"
            COMP_WORDS=(aoe target --read); COMP_CWORD=2; COMP_LINE="aoe target --read"; COMP_POINT=${#COMP_LINE}
            _complete_aoe aoe --read target; echo "opt: ${COMPREPLY[*]}"
            """, "bash", script.toString()).orThrow();
        final List<String> out = complete.stdout().lines().toList();
        assertTrue(out.get(0).matches("complete .*-F _complete_aoe( .*)? aoe"), complete.stdout());
        assertTrue(out.contains("sub: target"), complete.stdout() + complete.stderr());
        assertTrue(out.contains("opt: --read-only"), complete.stdout() + complete.stderr());
    }

    /** The man page is where man looks, renders without warnings and covers every subcommand. */
    @Test
    void manPageRendersEverySubcommand()
    {
        final Path page = tree.resolve("usr/share/man/man1/aoe.1.gz");
        assertTrue(Files.isRegularFile(page), page.toString());
        final ProcessRunner.Result man = ProcessRunner.run(RUN_TIMEOUT, "env", "MANWIDTH=80", "LC_ALL=C.UTF-8", "MAN_DISABLE_SECCOMP=1",
            "man", "--warnings", "-l", page.toString()).orThrow();
        assertEquals("", man.stderr(), "troff warnings");
        final String text = man.stdout().replaceAll(".\b", "");   // no overstrike bold, should man use it
        for (final String heading : List.of("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "COMMANDS", "EXIT STATUS"))
        {
            assertTrue(text.contains("\n" + heading + "\n"), heading);
        }
        final CommandSpec spec = AoeCommand.commandLine().getCommandSpec();
        for (final CommandLine sub : ManPage.subcommands(spec))
        {
            assertTrue(text.contains("\n   " + sub.getCommandSpec().qualifiedName() + "\n"), "a section for " + sub.getCommandName());
        }
        assertTrue(text.contains("aoe - userspace ATA-over-Ethernet initiator"), "NAME line");
    }

    /** README and docs are in /usr/share/doc/aoe. */
    @Test
    void documentation()
    {
        assertTrue(Files.isRegularFile(tree.resolve("usr/share/doc/aoe/README.md")), "README.md");
        for (final String doc : List.of("user-guide.md", "architecture.md"))
        {
            assertTrue(Files.isRegularFile(tree.resolve("usr/share/doc/aoe/docs").resolve(doc)), doc);
        }
    }

    private static List<String> subcommandNames()
    {
        final List<String> names = new ArrayList<>();
        final ProcessRunner.Result help = aoe("--help").orThrow();
        boolean commands = false;
        for (final String line : help.stdout().lines().toList())
        {
            if (line.equals("Commands:"))
            {
                commands = true;
            }
            else if (commands && line.matches("^  [a-z][a-z-]*( .*)?$"))
            {
                names.add(line.strip().split("\\s+")[0]);
            }
        }
        assertFalse(names.isEmpty(), "aoe --help lists commands:\n" + help.stdout());
        return names;
    }
}
