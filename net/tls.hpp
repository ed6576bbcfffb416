#pragma once
/// The server side of TLS for the HTTP API: one OpenSSL context built from the
/// operator's PEM files with modern settings (docs/security.md#tls).

#include <memory>
#include <string>

namespace boost::asio::ssl {
class context;
}

namespace gotel {

/// Where the server's certificate and key are, and the oldest TLS version served.
struct tls_files {
  std::string cert_file;    ///< server.tls_cert: PEM chain, server certificate first
  std::string key_file;     ///< server.tls_key: PEM private key, not passphrase-protected
  std::string min_version;  ///< server.tls_min_version: "1.2" or "1.3"
};

/// A server context for `files`, or null with `error` naming the setting, the
/// path and OpenSSL's reason (unreadable, not PEM, encrypted, key does not match
/// the certificate). The error never quotes file contents: the key is a secret.
/// Reads both files; call it once at startup. The context is safe to share
/// between connections and threads.
std::shared_ptr<boost::asio::ssl::context> make_tls_context(const tls_files& files,
                                                            std::string& error);

}  // namespace gotel
