#include "actors/cluster_tls.hpp"

#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <dlfcn.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace gotel {

cluster_transport transport_of(const cluster_config& cfg) {
  if (cfg.tls == "mutual")
    return cluster_transport::tls_mutual;
  if (cfg.tls == "anonymous")
    return cluster_transport::tls_anonymous;
  return cluster_transport::plain;
}

namespace {

/// OpenSSL's queued errors as text ("" if none); clears the queue. The texts
/// name reasons ("bad decrypt", "certificate has expired"), never key bytes.
std::string openssl_errors() {
  std::string out;
  while (auto e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    out += (out.empty() ? "" : "; ") + std::string(buf);
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

/// "" when `path` can be opened for reading, else the reason.
std::string readable(const char* setting, const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f{std::fopen(path.c_str(), "rb"), &std::fclose};
  if (f)
    return "";
  return std::string(setting) + " " + path + ": " + std::strerror(errno);
}

int passphrase_cb(char* buf, int size, int, void* user) {
  auto& pass = *static_cast<const std::string*>(user);
  if (size <= 0 || pass.size() >= static_cast<std::size_t>(size))
    return -1;
  std::memcpy(buf, pass.data(), pass.size());
  return static_cast<int>(pass.size());
}

}  // namespace

std::string check_tls_files(const cluster_config& cfg) {
  for (auto [setting, path] : {std::pair{"cluster.tls_cert", &cfg.tls_cert},
                               std::pair{"cluster.tls_key", &cfg.tls_key},
                               std::pair{"cluster.tls_ca", &cfg.tls_ca}})
    if (auto e = readable(setting, *path); !e.empty())
      return e;
  ERR_clear_error();
  std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)> ctx{SSL_CTX_new(TLS_method()), &SSL_CTX_free};
  if (!ctx)
    return "cannot create an OpenSSL context: " + openssl_errors();
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), cfg.tls_cert.c_str()) != 1)
    return "cluster.tls_cert " + cfg.tls_cert + " is not a usable PEM certificate: "
           + openssl_errors();
  std::unique_ptr<BIO, int (*)(BIO*)> key_file{BIO_new_file(cfg.tls_key.c_str(), "r"), &BIO_free};
  std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> key{
    key_file ? PEM_read_bio_PrivateKey(key_file.get(), nullptr, passphrase_cb,
                                       const_cast<std::string*>(&cfg.tls_key_passphrase))
             : nullptr,
    &EVP_PKEY_free};
  if (!key)
    return "cluster.tls_key " + cfg.tls_key
           + " is not a usable PEM private key (or cluster.tls_key_passphrase is wrong): "
           + openssl_errors();
  if (SSL_CTX_use_PrivateKey(ctx.get(), key.get()) != 1
      || SSL_CTX_check_private_key(ctx.get()) != 1) {
    ERR_clear_error();
    return "cluster.tls_key " + cfg.tls_key + " does not belong to cluster.tls_cert "
           + cfg.tls_cert;
  }
  if (SSL_CTX_load_verify_locations(ctx.get(), cfg.tls_ca.c_str(), nullptr) != 1)
    return "cluster.tls_ca " + cfg.tls_ca + " holds no usable PEM CA certificate: "
           + openssl_errors();
  // Our own certificate must pass the check every peer applies to it.
  X509* cert = SSL_CTX_get0_certificate(ctx.get());
  STACK_OF(X509)* chain = nullptr;
  SSL_CTX_get0_chain_certs(ctx.get(), &chain);
  std::unique_ptr<X509_STORE_CTX, void (*)(X509_STORE_CTX*)> vctx{X509_STORE_CTX_new(),
                                                                  &X509_STORE_CTX_free};
  if (!vctx || X509_STORE_CTX_init(vctx.get(), SSL_CTX_get_cert_store(ctx.get()), cert, chain) != 1)
    return "cannot check cluster.tls_cert: " + openssl_errors();
  if (X509_verify_cert(vctx.get()) != 1)
    return "cluster.tls_cert " + cfg.tls_cert + " does not verify against cluster.tls_ca "
           + cfg.tls_ca + ": "
           + X509_verify_cert_error_string(X509_STORE_CTX_get_error(vctx.get()))
           + " (peers would refuse it)";
  return "";
}

void configure_tls(caf::actor_system_config& scfg, const cluster_config& cfg) {
  // With no file and no passphrase set, CAF's module runs anonymous ECDH; any
  // of them switches it to verified certificates on both sides
  // (SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, "HIGH:!aNULL:!MD5").
  if (transport_of(cfg) == cluster_transport::tls_mutual) {
    scfg.openssl_certificate = cfg.tls_cert;
    scfg.openssl_key = cfg.tls_key;
    scfg.openssl_passphrase = cfg.tls_key_passphrase;
    scfg.openssl_cafile = cfg.tls_ca;
  }
  scfg.load<caf::openssl::manager>();
}

std::string describe(cluster_transport t, const cluster_config& cfg) {
  switch (t) {
    case cluster_transport::tls_mutual:
      return "TLS, peers verified against " + cfg.tls_ca;
    case cluster_transport::tls_anonymous:
      return "TLS with anonymous key exchange (no protection against an active attacker)";
    default:
      return "plain, not encrypted";
  }
}

}  // namespace gotel

// ---------------------------------------------------------------------------
// CAF 0.17.6's OpenSSL transport calls SSL_read/SSL_write/SSL_connect/
// SSL_accept without first clearing OpenSSL's per-thread error queue, and all
// its sessions share one I/O thread. After any failed handshake (a peer with
// the wrong certificate or cluster.tls, a port scanner), the stale error makes
// SSL_get_error() report SSL_ERROR_SSL for the next healthy session that
// merely would block, and CAF closes it: every failed handshake dropped the
// healthy cluster connections (measured in test_cluster_tls.py before this).
// OpenSSL documents that the queue must be empty before these calls, so these
// definitions, which the executable's dynamic symbol table gives precedence
// over libssl's for every library in the process (ELF interposition), clear
// it and call libssl's own. Remove once CAF is fixed.
// ---------------------------------------------------------------------------

namespace {

template <class Fn>
Fn real_ssl(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

}  // namespace

extern "C" {

int SSL_read(SSL* ssl, void* buf, int num) {
  static const auto real = real_ssl<int (*)(SSL*, void*, int)>("SSL_read");
  ERR_clear_error();
  return real(ssl, buf, num);
}

int SSL_write(SSL* ssl, const void* buf, int num) {
  static const auto real = real_ssl<int (*)(SSL*, const void*, int)>("SSL_write");
  ERR_clear_error();
  return real(ssl, buf, num);
}

int SSL_connect(SSL* ssl) {
  static const auto real = real_ssl<int (*)(SSL*)>("SSL_connect");
  ERR_clear_error();
  return real(ssl);
}

int SSL_accept(SSL* ssl) {
  static const auto real = real_ssl<int (*)(SSL*)>("SSL_accept");
  ERR_clear_error();
  return real(ssl);
}

}  // extern "C"
