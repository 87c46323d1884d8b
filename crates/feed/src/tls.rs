//! TLS for `wss://`: rustls with the ring provider and bundled webpki roots (no OpenSSL, same
//! behaviour on every platform).

/// Installs ring as the process-wide rustls provider. Safe to call more than once.
pub fn install_crypto_provider() {
    // An error only means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
