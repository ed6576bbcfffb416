#pragma once
/// The transport of cluster traffic: plain CAF remoting, or CAF's OpenSSL
/// module (libcaf_openssl) with or without certificates. What each mode
/// protects and what it does not: docs/security.md, "Cluster traffic".

#include "cluster-config/config.hpp"

#include <caf/actor_system_config.hpp>

#include <string>

namespace gotel {

enum class cluster_transport {
  plain,           ///< caf::io::middleman: authenticated by our HMAC handshake, not encrypted
  tls_anonymous,   ///< anonymous ECDH (AECDH-AES256-SHA, TLS 1.2): stops eavesdroppers only
  tls_mutual,      ///< TLS with a certificate on both sides, verified against a CA
};

/// The transport `cfg.tls` names ("off", "anonymous", "mutual"; validated by
/// validate() in cluster-config/).
cluster_transport transport_of(const cluster_config& cfg);

/// Loads the certificate, key (with its passphrase) and CA the way CAF's
/// OpenSSL module will for every connection, and checks that the key matches
/// the certificate and that the certificate chains to the CA (peers would
/// refuse it otherwise). "" when usable, else a message naming the setting and
/// the file. CAF loads these files inside its I/O loop and cannot report a
/// failure there except by throwing, so a broken file must be found here, at
/// startup. Messages never contain file contents or the passphrase.
std::string check_tls_files(const cluster_config& cfg);

/// Loads CAF's OpenSSL module into `scfg` (after the middleman) and, for
/// mutual TLS, hands it the files. Call only for a TLS transport.
void configure_tls(caf::actor_system_config& scfg, const cluster_config& cfg);

/// A one-line description for the startup log (mode and CA path; no secrets).
std::string describe(cluster_transport t, const cluster_config& cfg);

}  // namespace gotel
