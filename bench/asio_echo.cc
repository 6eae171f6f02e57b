// The multi-threaded peer for the echo benchmark: standalone Asio (Debian's libasio-dev), the
// way its own examples write an echo server - one io_context run by --threads threads, one
// connection object per socket chaining async_read_some -> async_write. With --threads=1 it is
// a single-threaded event loop like the raw epoll one; with more, Asio's epoll reactor hands
// ready handlers to whichever thread is free (its usual multi-threaded shape), which is the
// like-for-like anchor for echo_server with several workers. TCP_NODELAY as the other servers.
// Prints "listening on port N"; runs until killed.
//
//   bazel run -c opt //bench:asio_echo -- --port=0 --threads=2
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "asio.hpp"

ABSL_FLAG(int, port, 0, "TCP port (0: pick a free one)");
ABSL_FLAG(int, threads, 1, "threads running the io_context");

namespace {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  explicit Connection(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {}

  void Read() {
    socket_.async_read_some(asio::buffer(buffer_),
                            [self = shared_from_this()](std::error_code ec, size_t n) {
                              if (!ec) self->Write(n);
                            });
  }

 private:
  void Write(size_t n) {
    asio::async_write(socket_, asio::buffer(buffer_, n),
                      [self = shared_from_this()](std::error_code ec, size_t) {
                        if (!ec) self->Read();
                      });
  }

  asio::ip::tcp::socket socket_;
  char buffer_[65536];
};

void AcceptLoop(asio::ip::tcp::acceptor& acceptor) {
  acceptor.async_accept([&acceptor](std::error_code ec, asio::ip::tcp::socket socket) {
    if (!ec) {
      socket.set_option(asio::ip::tcp::no_delay(true));
      std::make_shared<Connection>(std::move(socket))->Read();
    }
    AcceptLoop(acceptor);
  });
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int threads = std::max(1, absl::GetFlag(FLAGS_threads));
  asio::io_context io(threads);
  asio::ip::tcp::acceptor acceptor(
      io, asio::ip::tcp::endpoint(asio::ip::tcp::v4(),
                                  static_cast<unsigned short>(absl::GetFlag(FLAGS_port))));
  std::printf("listening on port %d\n", acceptor.local_endpoint().port());
  std::fflush(stdout);
  AcceptLoop(acceptor);
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : pool) t.join();
}
