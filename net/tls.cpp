#include "net/tls.hpp"

#include <boost/asio/ssl/context.hpp>

#include <openssl/ssl.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace gotel {

namespace ssl = boost::asio::ssl;

namespace {

/// TLS 1.2 suites: forward-secret AEAD only (Mozilla's "intermediate" list
/// without DHE, which would need DH parameters). TLS 1.3's own suites are all
/// AEAD and keep OpenSSL's defaults.
constexpr const char* tls12_ciphers =
  "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
  "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
  "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

/// "" when `path` can be opened for reading, else why not. OpenSSL's own error
/// for a missing file ("system lib") does not say that the file is missing.
std::string unreadable(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f)
    return std::strerror(errno);
  std::fclose(f);
  return "";
}

}  // namespace

std::shared_ptr<boost::asio::ssl::context> make_tls_context(const tls_files& files,
                                                            std::string& error) {
  const auto cert = "server.tls_cert " + files.cert_file;
  const auto key = "server.tls_key " + files.key_file;
  if (auto why = unreadable(files.cert_file); !why.empty()) {
    error = cert + ": cannot read it: " + why;
    return nullptr;
  }
  if (auto why = unreadable(files.key_file); !why.empty()) {
    error = key + ": cannot read it: " + why;
    return nullptr;
  }

  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2
                   | ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1
                   | ssl::context::no_compression);  // no compression: CRIME
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native,
                                files.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION);
  // The server's order of suites wins; renegotiation is an attack surface no
  // GoTel client needs.
  SSL_CTX_set_options(native, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_cipher_list(native, tls12_ciphers);
  // Idle keep-alive connections from cron hosts are the common case; they need
  // no 34 KiB read and write buffers each while idle.
  SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
  // An encrypted key would make OpenSSL prompt on the terminal and hang a
  // daemon; an empty passphrase makes it fail instead.
  ctx->set_password_callback(
    [](std::size_t, ssl::context::password_purpose) { return std::string{}; });

  boost::system::error_code ec;
  ctx->use_certificate_chain_file(files.cert_file, ec);
  if (ec) {
    error = cert + ": not a PEM certificate chain (" + ec.message() + ")";
    return nullptr;
  }
  ctx->use_private_key_file(files.key_file, ssl::context::pem, ec);
  if (ec) {
    error = key + ": cannot use it as the certificate's private key (" + ec.message()
            + "); it must be an unencrypted PEM key matching server.tls_cert";
    return nullptr;
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    error = key + ": does not belong to the certificate in " + cert;
    return nullptr;
  }
  error.clear();
  return ctx;
}

}  // namespace gotel
