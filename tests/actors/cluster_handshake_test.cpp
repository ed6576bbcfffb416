// Tests the cluster actor's handshake handlers (actors/cluster.cpp) against a
// message that arrives with no sender. CAF 0.17 delivers a remote message
// with no sender when it has lost its route to the sending node while the
// connection still delivers: a node resumed from SIGSTOP closes its stale
// connection to a peer after the peer's new one came up, and CAF then drops
// the route the new connection uses. The hello handler looked the sender up
// in a hash map keyed by actor address, and hashing a null address crashed
// the process (segfault in CAF's actor_addr::id(); 4 of 18 runs of
// test_cluster.py's Pause under load). A real node with the middleman, on
// 127.0.0.1.

#include "actors/messages.hpp"
#include "actors/node.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>

namespace gotel {
namespace {

using namespace std::chrono_literals;

/// A port on 127.0.0.1 that nobody listens on right now.
int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

TEST(cluster_handshake, a_hello_or_auth_without_a_sender_is_refused_and_the_node_stays_up) {
  std::string tmpl = "/tmp/gotel-handshake-XXXXXX";
  std::string dir = ::mkdtemp(tmpl.data());
  auto cfg = default_config();
  cfg.server.data_dir = dir + "/data";
  cfg.server.listen = "127.0.0.1:0";
  cfg.server.node_id = "n1";
  // n2 is never started: only the handshake handlers are exercised.
  cfg.cluster.nodes = "n1@127.0.0.1:0@127.0.0.1:" + std::to_string(free_port())
                      + ",n2@127.0.0.1:0@127.0.0.1:" + std::to_string(free_port());
  cfg.cluster.secret = "handshake-test-secret";
  ASSERT_EQ(validate(cfg), "");
  std::string error;
  auto n = node::start(cfg, error);
  ASSERT_TRUE(n) << error;
  auto cluster = n->context().cluster;
  ASSERT_TRUE(cluster);
  caf::anon_send(cluster, hello_atom::value, std::string{"n2"});
  caf::anon_send(cluster, auth_atom::value, std::string{"n2"}, std::string(64, '0'));
  // Handled in order: the node is still up and answers a real handshake.
  {
    caf::scoped_actor self{n->system()};
    std::string nonce;
    self->request(cluster, 10s, hello_atom::value, std::string{"n2"})
      .receive([&](std::string& x) { nonce = x; },
               [&](caf::error& e) { ADD_FAILURE() << n->system().render(e); });
    EXPECT_EQ(nonce.size(), 32u);
    bool ok = true;
    self->request(cluster, 10s, auth_atom::value, std::string{"n2"}, std::string(64, '0'))
      .receive([&](bool x) { ok = x; },
               [&](caf::error& e) { ADD_FAILURE() << n->system().render(e); });
    EXPECT_FALSE(ok) << "a wrong credential is refused";
  }  // the scoped actor ends before its system
  cluster = nullptr;
  n.reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace gotel
