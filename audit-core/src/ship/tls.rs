//! [`TlsConfig`]: how a destination checks its server (and, optionally, shows a client
//! certificate), shared by the PostgreSQL and syslog destinations. rustls, with ring.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::destination::DeliveryError;

/// TLS settings of a destination: the server's certificate is always checked, against the CA
/// certificates of a PEM file or, without one, the system's roots.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct TlsConfig {
    /// PEM file of the CA certificates that may sign the server's certificate.
    pub ca_file: Option<PathBuf>,
    /// PEM files of a client certificate chain and its private key, for servers that ask for one.
    pub client_auth: Option<(PathBuf, PathBuf)>,
}

impl TlsConfig {
    /// Checks the server against the system's root certificates.
    pub fn system_roots() -> TlsConfig {
        TlsConfig::default()
    }

    /// Checks the server against the CA certificates in `path` (PEM).
    pub fn ca_file(path: impl AsRef<Path>) -> TlsConfig {
        TlsConfig { ca_file: Some(path.as_ref().to_path_buf()), client_auth: None }
    }

    /// Shows the certificate chain of `cert` (PEM) with the private key of `key` (PEM) to
    /// servers that ask for a client certificate.
    pub fn client_certificate(mut self, cert: impl AsRef<Path>, key: impl AsRef<Path>) -> TlsConfig {
        self.client_auth = Some((cert.as_ref().to_path_buf(), key.as_ref().to_path_buf()));
        self
    }

    /// The rustls configuration, with every file read now (so a bad path is an error at start-up,
    /// naming the file).
    pub(crate) fn client_config(&self) -> Result<Arc<rustls::ClientConfig>, DeliveryError> {
        let mut roots = rustls::RootCertStore::empty();
        match &self.ca_file {
            Some(path) => {
                for cert in CertificateDer::pem_file_iter(path).map_err(|e| file_error(path, e))? {
                    roots.add(cert.map_err(|e| file_error(path, e))?).map_err(|e| file_error(path, e))?;
                }
                if roots.is_empty() {
                    return Err(DeliveryError::new(format!("{}: no CA certificate in it", path.display())));
                }
            }
            None => {
                for cert in rustls_native_certs::load_native_certs().certs {
                    let _ = roots.add(cert);
                }
                if roots.is_empty() {
                    return Err(DeliveryError::new("no system root certificates found: name a `ca_file`"));
                }
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(DeliveryError::new)?
            .with_root_certificates(roots);
        let config = match &self.client_auth {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
                    .map_err(|e| file_error(cert, e))?
                    .collect::<Result<_, _>>()
                    .map_err(|e| file_error(cert, e))?;
                let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| file_error(key, e))?;
                builder.with_client_auth_cert(chain, key_der).map_err(|e| file_error(key, e))?
            }
        };
        Ok(Arc::new(config))
    }
}

fn file_error(path: &Path, error: impl std::fmt::Display) -> DeliveryError {
    DeliveryError::new(format!("{}: {error}", path.display()))
}
