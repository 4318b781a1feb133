package org.aoemp.nbd;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;

/**
 * TLS for the NBD handshake (NBD_OPT_STARTTLS): the mode and the server's credentials, read from
 * a directory laid out as nbdkit's {@code --tls-certificates} expects:
 *
 * <ul>
 *   <li>{@code server-cert.pem}: the server's certificate (then any intermediate certificates);</li>
 *   <li>{@code server-key.pem}: its private key, unencrypted, PKCS#8 ({@code BEGIN PRIVATE KEY}) or
 *       RSA PKCS#1 ({@code BEGIN RSA PRIVATE KEY}, what {@code certtool --generate-privkey} writes);</li>
 *   <li>{@code ca-cert.pem} (optional): when present, clients must present a certificate signed
 *       by it (nbdkit's {@code --tls-verify-peer}); when absent, any client may connect.</li>
 * </ul>
 *
 * <p>The JDK's TLS (JSSE) through Netty: TLS 1.3 and 1.2. JSSE has no TLS-PSK, so there is no
 * pre-shared-key mode. Immutable; any thread.
 */
public final class TlsSettings
{
    /** Whether the server offers or requires TLS. */
    public enum Mode
    {
        /** STARTTLS is refused (NBD_REP_ERR_UNSUP); everything is in the clear. */
        OFF,
        /** STARTTLS is accepted; clients that do not ask are served in the clear. */
        ON,
        /** Every option but STARTTLS and ABORT gets NBD_REP_ERR_TLS_REQD until TLS is up. */
        REQUIRE;

        /** {@code off}, {@code on} or {@code require}, any case. */
        public static Mode parse(final String text)
        {
            return switch (text.strip().toLowerCase(Locale.ROOT))
            {
                case "off" -> OFF;
                case "on" -> ON;
                case "require" -> REQUIRE;
                default -> throw new IllegalArgumentException("TLS mode must be off, on or require (got '" + text + "')");
            };
        }

        @Override
        public String toString()
        {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    public static final String CA_CERT = "ca-cert.pem";
    public static final String SERVER_CERT = "server-cert.pem";
    public static final String SERVER_KEY = "server-key.pem";

    /** No TLS. */
    public static final TlsSettings OFF = new TlsSettings(Mode.OFF, null, null, false);

    private final Mode mode;
    private final Path directory;
    private final SslContext context;
    private final boolean verifiesClients;

    private TlsSettings(final Mode mode, final Path directory, final SslContext context, final boolean verifiesClients)
    {
        this.mode = mode;
        this.directory = directory;
        this.context = context;
        this.verifiesClients = verifiesClients;
    }

    /**
     * Reads the credentials for {@code mode} from {@code directory}; with {@link Mode#OFF} nothing
     * is read and the directory may be null.
     *
     * @throws IllegalArgumentException naming the file and what is wrong with it (missing, not
     *                                  readable, not PEM, an encrypted key, a certificate that does
     *                                  not match the key)
     */
    public static TlsSettings load(final Mode mode, final Path directory)
    {
        Objects.requireNonNull(mode, "mode");
        if (mode == Mode.OFF)
        {
            return OFF;
        }
        if (directory == null)
        {
            throw new IllegalArgumentException("TLS " + mode + " needs a certificates directory (--tls-certificates DIR with "
                + SERVER_CERT + " and " + SERVER_KEY + ")");
        }
        if (!Files.isDirectory(directory))
        {
            throw new IllegalArgumentException(directory + ": no such directory (the TLS certificates directory)");
        }
        final List<X509Certificate> chain = certificates(directory.resolve(SERVER_CERT));
        final PrivateKey key = privateKey(directory.resolve(SERVER_KEY));
        if (!belongTogether(key, chain.get(0)))
        {
            throw new IllegalArgumentException(directory.resolve(SERVER_KEY) + " is not the key of the certificate in "
                + directory.resolve(SERVER_CERT) + " (" + chain.get(0).getSubjectX500Principal() + ")");
        }
        final Path ca = directory.resolve(CA_CERT);
        final boolean verify = Files.exists(ca);
        try
        {
            final SslContextBuilder b = SslContextBuilder.forServer(key, chain.toArray(X509Certificate[]::new))
                .sslProvider(SslProvider.JDK)
                .protocols("TLSv1.3", "TLSv1.2");
            if (verify)
            {
                b.trustManager(ClientCaTrust.of(certificates(ca))).clientAuth(ClientAuth.REQUIRE);
            }
            return new TlsSettings(mode, directory, b.build(), verify);
        }
        catch (final IOException | RuntimeException e)
        {
            throw new IllegalArgumentException(directory + ": cannot use " + SERVER_CERT + " with " + SERVER_KEY + ": " + e.getMessage(), e);
        }
    }

    public Mode mode()
    {
        return mode;
    }

    /** The certificates directory; null when TLS is off. */
    public Path directory()
    {
        return directory;
    }

    /** Whether clients must present a certificate signed by {@code ca-cert.pem}. */
    public boolean verifiesClients()
    {
        return verifiesClients;
    }

    /**
     * The handler that takes over the connection after the STARTTLS reply. Its first write (that
     * reply) still goes out in the clear, as the protocol wants.
     */
    SslHandler newHandler(final ByteBufAllocator alloc)
    {
        return new SslHandler(context.newEngine(alloc), true);
    }

    @Override
    public String toString()
    {
        return mode == Mode.OFF ? "TLS off"
            : "TLS " + mode + " (certificates in " + directory + (verifiesClients ? ", client certificates verified against " + CA_CERT : "")
                + ")";
    }

    // ----------------------------------------------------------------------------- PEM files

    private static List<X509Certificate> certificates(final Path file)
    {
        final byte[] bytes = read(file);
        try (InputStream in = new java.io.ByteArrayInputStream(bytes))
        {
            final List<X509Certificate> out = new ArrayList<>();
            for (final java.security.cert.Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in))
            {
                out.add((X509Certificate)c);
            }
            if (out.isEmpty())
            {
                throw new IllegalArgumentException(file + ": no certificate in it (expected -----BEGIN CERTIFICATE-----)");
            }
            return out;
        }
        catch (final CertificateException | IOException e)
        {
            throw new IllegalArgumentException(file + ": not a PEM certificate: " + e.getMessage(), e);
        }
    }

    private static PrivateKey privateKey(final Path file)
    {
        final String pem = new String(read(file), StandardCharsets.US_ASCII);
        if (pem.contains("ENCRYPTED"))
        {
            throw new IllegalArgumentException(file + ": the key is encrypted; store it unencrypted (readable by the server's user only), "
                + "e.g. openssl pkey -in KEY -out " + SERVER_KEY);
        }
        final byte[] pkcs8;
        final String pkcs8Body = pemBody(pem, "PRIVATE KEY");
        if (pkcs8Body != null)
        {
            pkcs8 = Base64.getMimeDecoder().decode(pkcs8Body);
        }
        else
        {
            final String rsa = pemBody(pem, "RSA PRIVATE KEY");
            if (rsa == null)
            {
                throw new IllegalArgumentException(file + ": no -----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY----- in it"
                    + " (convert other keys with: openssl pkcs8 -topk8 -nocrypt -in KEY -out " + SERVER_KEY + ")");
            }
            pkcs8 = Der.pkcs8FromPkcs1Rsa(Base64.getMimeDecoder().decode(rsa));
        }
        for (final String algorithm : new String[] {"RSA", "EC", "Ed25519", "Ed448", "RSASSA-PSS"})
        {
            try
            {
                return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(pkcs8));
            }
            catch (final GeneralSecurityException e)
            {
                // try the next algorithm
            }
        }
        throw new IllegalArgumentException(file + ": not an RSA, EC or EdDSA private key the JDK can read");
    }

    /** Whether {@code key} signs what the certificate's public key verifies: a mismatch fails at start, not at the first client. */
    private static boolean belongTogether(final PrivateKey key, final X509Certificate certificate)
    {
        final String algorithm = switch (key.getAlgorithm())
        {
            case "RSA" -> "SHA256withRSA";
            case "EC" -> "SHA256withECDSA";
            case "RSASSA-PSS" -> "RSASSA-PSS";
            default -> key.getAlgorithm(); // Ed25519, Ed448
        };
        try
        {
            final byte[] probe = "aoe nbd key check".getBytes(StandardCharsets.US_ASCII);
            final Signature signer = Signature.getInstance(algorithm);
            if (algorithm.equals("RSASSA-PSS"))
            {
                signer.setParameter(new java.security.spec.PSSParameterSpec("SHA-256", "MGF1",
                    java.security.spec.MGF1ParameterSpec.SHA256, 32, 1));
            }
            signer.initSign(key);
            signer.update(probe);
            final byte[] signature = signer.sign();
            final Signature verifier = Signature.getInstance(algorithm);
            if (algorithm.equals("RSASSA-PSS"))
            {
                verifier.setParameter(new java.security.spec.PSSParameterSpec("SHA-256", "MGF1",
                    java.security.spec.MGF1ParameterSpec.SHA256, 32, 1));
            }
            verifier.initVerify(certificate.getPublicKey());
            verifier.update(probe);
            return verifier.verify(signature);
        }
        catch (final GeneralSecurityException e)
        {
            return false;
        }
    }

    /** The base64 between {@code -----BEGIN TYPE-----} and {@code -----END TYPE-----}, or null. */
    private static String pemBody(final String pem, final String type)
    {
        final String begin = "-----BEGIN " + type + "-----";
        final String end = "-----END " + type + "-----";
        final int b = pem.indexOf(begin);
        final int e = b < 0 ? -1 : pem.indexOf(end, b);
        return e < 0 ? null : pem.substring(b + begin.length(), e);
    }

    private static byte[] read(final Path file)
    {
        try
        {
            return Files.readAllBytes(file);
        }
        catch (final NoSuchFileException e)
        {
            throw new IllegalArgumentException(file + ": no such file (the TLS directory needs " + SERVER_CERT + " and " + SERVER_KEY + ")");
        }
        catch (final AccessDeniedException e)
        {
            throw new IllegalArgumentException(file + ": permission denied");
        }
        catch (final IOException e)
        {
            throw new IllegalArgumentException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    /** Just enough DER to wrap an RSA PKCS#1 key as PKCS#8, which is what the JDK reads. */
    static final class Der
    {
        /** AlgorithmIdentifier { rsaEncryption (1.2.840.113549.1.1.1), NULL }. */
        private static final byte[] RSA_ALGORITHM = {
            0x30, 0x0d, 0x06, 0x09, 0x2a, (byte)0x86, 0x48, (byte)0x86, (byte)0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00};
        /** INTEGER 0, the PrivateKeyInfo version. */
        private static final byte[] VERSION = {0x02, 0x01, 0x00};

        private Der()
        {
        }

        /** PrivateKeyInfo ::= SEQUENCE { version, algorithm, OCTET STRING { the PKCS#1 key } }. */
        static byte[] pkcs8FromPkcs1Rsa(final byte[] pkcs1)
        {
            final byte[] octets = tlv(0x04, pkcs1);
            final byte[] body = new byte[VERSION.length + RSA_ALGORITHM.length + octets.length];
            System.arraycopy(VERSION, 0, body, 0, VERSION.length);
            System.arraycopy(RSA_ALGORITHM, 0, body, VERSION.length, RSA_ALGORITHM.length);
            System.arraycopy(octets, 0, body, VERSION.length + RSA_ALGORITHM.length, octets.length);
            return tlv(0x30, body);
        }

        /** Tag, definite length (short or long form), value. */
        static byte[] tlv(final int tag, final byte[] value)
        {
            final int n = value.length;
            final int lengthBytes = n < 0x80 ? 0 : n < 0x100 ? 1 : n < 0x10000 ? 2 : n < 0x1000000 ? 3 : 4;
            final byte[] out = new byte[2 + lengthBytes + n];
            out[0] = (byte)tag;
            if (lengthBytes == 0)
            {
                out[1] = (byte)n;
            }
            else
            {
                out[1] = (byte)(0x80 | lengthBytes);
                for (int i = 0; i < lengthBytes; i++)
                {
                    out[2 + i] = (byte)(n >>> (8 * (lengthBytes - 1 - i)));
                }
            }
            System.arraycopy(value, 0, out, 2 + lengthBytes, n);
            return out;
        }
    }
}
