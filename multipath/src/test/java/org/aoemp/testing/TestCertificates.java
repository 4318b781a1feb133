package org.aoemp.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * A throw-away CA with a server and a client certificate, made with openssl at test time, laid
 * out the way nbdkit, libnbd ({@code tls-certificates=DIR}) and the bridge read them:
 *
 * <ul>
 *   <li>{@link #serverDir()}: {@code server-cert.pem}, {@code server-key.pem} and {@code ca-cert.pem}
 *       (so the server verifies clients);</li>
 *   <li>{@link #serverDirWithoutClientCa()}: the same without {@code ca-cert.pem} (any client may connect);</li>
 *   <li>{@link #clientDir()}: {@code ca-cert.pem}, {@code client-cert.pem}, {@code client-key.pem};</li>
 *   <li>{@link #anonymousClientDir()}: only {@code ca-cert.pem} (a client without a certificate).</li>
 * </ul>
 *
 * The server certificate names {@code localhost}, 127.0.0.1 and any extra IP addresses given.
 */
public final class TestCertificates
{
    private static final Duration TIMEOUT = Duration.ofSeconds(60);
    private final Path root;

    private TestCertificates(final Path root)
    {
        this.root = root;
    }

    /** Makes every file under {@code root}; needs the openssl command. */
    public static TestCertificates create(final Path root, final String... extraServerIps) throws IOException
    {
        Prerequisites.requireCommand("openssl", "openssl");
        final TestCertificates c = new TestCertificates(root);
        final Path work = Files.createDirectories(root.resolve("work"));
        Files.createDirectories(c.serverDir());
        Files.createDirectories(c.serverDirWithoutClientCa());
        Files.createDirectories(c.clientDir());
        Files.createDirectories(c.anonymousClientDir());
        final String ca = work.resolve("ca-cert.pem").toString();
        final String caKey = work.resolve("ca-key.pem").toString();
        run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=aoe test CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout", caKey, "-out", ca);
        final StringBuilder san = new StringBuilder("subjectAltName=DNS:localhost,IP:127.0.0.1");
        for (final String ip : extraServerIps)
        {
            san.append(",IP:").append(ip);
        }
        sign(work, "server", "/CN=localhost", san + "\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n",
            ca, caKey);
        sign(work, "client", "/CN=aoe test client", "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n",
            ca, caKey);
        for (final Path dir : new Path[] {c.serverDir(), c.clientDir(), c.anonymousClientDir()})
        {
            Files.copy(Path.of(ca), dir.resolve("ca-cert.pem"));
        }
        for (final Path dir : new Path[] {c.serverDir(), c.serverDirWithoutClientCa()})
        {
            Files.copy(work.resolve("server-cert.pem"), dir.resolve("server-cert.pem"));
            Files.copy(work.resolve("server-key.pem"), dir.resolve("server-key.pem"));
        }
        Files.copy(work.resolve("client-cert.pem"), c.clientDir().resolve("client-cert.pem"));
        Files.copy(work.resolve("client-key.pem"), c.clientDir().resolve("client-key.pem"));
        return c;
    }

    private static void sign(final Path work, final String name, final String subject, final String extensions, final String ca,
        final String caKey) throws IOException
    {
        final String key = work.resolve(name + "-key.pem").toString();
        final String csr = work.resolve(name + ".csr").toString();
        final Path ext = Files.writeString(work.resolve(name + ".ext"), extensions);
        run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-keyout", key, "-out", csr);
        run("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", caKey, "-CAcreateserial", "-days", "2",
            "-extfile", ext.toString(), "-out", work.resolve(name + "-cert.pem").toString());
    }

    private static void run(final String... command) throws IOException
    {
        final ProcessRunner.Result r = ProcessRunner.run(TIMEOUT, command);
        if (!r.ok())
        {
            throw new IOException(String.join(" ", command) + " failed (" + r.exitCode() + "): " + r.stderr());
        }
    }

    public Path serverDir()
    {
        return root.resolve("server");
    }

    public Path serverDirWithoutClientCa()
    {
        return root.resolve("server-any-client");
    }

    public Path clientDir()
    {
        return root.resolve("client");
    }

    public Path anonymousClientDir()
    {
        return root.resolve("anonymous-client");
    }

    /** The files openssl made: {@code ca-cert.pem}, {@code server-key.pem}, {@code client-cert.pem}, ... */
    public Path file(final String name)
    {
        return root.resolve("work").resolve(name);
    }
}
