package org.aoemp.nbd;

import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.List;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * Verifies client certificates against {@code ca-cert.pem} with the JDK's PKIX checks, but names
 * no CA in the TLS 1.3 CertificateRequest. GnuTLS clients (libnbd, nbd-client) then still send
 * their certificate: with JSSE's {@code certificate_authorities} list they sent none under
 * TLS 1.3 and were refused, while TLS 1.2 worked. Which certificates are accepted does not change.
 */
final class ClientCaTrust extends X509ExtendedTrustManager
{
    private static final X509Certificate[] NONE = new X509Certificate[0];
    private final X509ExtendedTrustManager pkix;

    private ClientCaTrust(final X509ExtendedTrustManager pkix)
    {
        this.pkix = pkix;
    }

    static ClientCaTrust of(final List<X509Certificate> cas)
    {
        try
        {
            final KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
            store.load(null, null);
            for (int i = 0; i < cas.size(); i++)
            {
                store.setCertificateEntry("ca-" + i, cas.get(i));
            }
            final TrustManagerFactory f = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            f.init(store);
            for (final TrustManager t : f.getTrustManagers())
            {
                if (t instanceof X509ExtendedTrustManager x)
                {
                    return new ClientCaTrust(x);
                }
            }
            throw new IllegalStateException("the JDK offers no X509ExtendedTrustManager");
        }
        catch (final GeneralSecurityException | java.io.IOException e)
        {
            throw new IllegalArgumentException("cannot build a trust store from " + TlsSettings.CA_CERT + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void checkClientTrusted(final X509Certificate[] chain, final String authType, final Socket socket) throws CertificateException
    {
        pkix.checkClientTrusted(chain, authType, socket);
    }

    @Override
    public void checkClientTrusted(final X509Certificate[] chain, final String authType, final SSLEngine engine) throws CertificateException
    {
        pkix.checkClientTrusted(chain, authType, engine);
    }

    @Override
    public void checkClientTrusted(final X509Certificate[] chain, final String authType) throws CertificateException
    {
        pkix.checkClientTrusted(chain, authType);
    }

    @Override
    public void checkServerTrusted(final X509Certificate[] chain, final String authType, final Socket socket) throws CertificateException
    {
        throw new CertificateException("a server's trust manager checks clients only");
    }

    @Override
    public void checkServerTrusted(final X509Certificate[] chain, final String authType, final SSLEngine engine) throws CertificateException
    {
        throw new CertificateException("a server's trust manager checks clients only");
    }

    @Override
    public void checkServerTrusted(final X509Certificate[] chain, final String authType) throws CertificateException
    {
        throw new CertificateException("a server's trust manager checks clients only");
    }

    /** Empty: no CA names in the CertificateRequest (see the class comment). */
    @Override
    public X509Certificate[] getAcceptedIssuers()
    {
        return NONE;
    }
}
