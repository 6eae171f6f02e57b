// ChatTestClient: a line-oriented chat client on a blocking loopback socket, for the chat
// server's tests (gtest assertions on what it reads).
//
// Thread safety: one thread at a time.
#ifndef EXAMPLES_CHAT_CHAT_TEST_CLIENT_H_
#define EXAMPLES_CHAT_CHAT_TEST_CLIENT_H_

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "io/testing/loopback_client.h"

namespace troupe::chat {

class ChatTestClient {
 public:
  explicit ChatTestClient(int port) : fd_(::troupe::testing::ConnectLoopback(port)) {}
  ~ChatTestClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return fd_ >= 0; }
  void Send(const std::string& text) { ASSERT_TRUE(::troupe::testing::SendAll(fd_, text)); }
  // The next line without its newline, or "<timeout>" / "<closed>".
  std::string Line(absl::Duration timeout = absl::Seconds(10)) {
    const absl::Time deadline = absl::Now() + timeout;
    for (;;) {
      const size_t nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return "<timeout>";
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1) <= 0) continue;
      char chunk[65536];
      const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
      if (n <= 0) return "<closed>";
      buffer_.append(chunk, n);
    }
  }
  // Sends `command` and expects `want` as the next line.
  void Expect(const std::string& want, absl::Duration timeout = absl::Seconds(10)) {
    EXPECT_EQ(Line(timeout), want);
  }
  void Login(const std::string& nick, const std::string& room) {
    Send(absl::StrCat("/nick ", nick, "\n/join ", room, "\n"));
    Expect(absl::StrCat("* nick ", nick));
    Expect(absl::StrCat("* joined ", room));
  }
  // Reads until the line `want`; the lines before it. A timeout or a closed connection fails
  // the test.
  std::vector<std::string> WaitFor(const std::string& want,
                                   absl::Duration timeout = absl::Seconds(10)) {
    std::vector<std::string> before;
    const absl::Time deadline = absl::Now() + timeout;
    for (;;) {
      std::string line = Line(std::max(deadline - absl::Now(), absl::Milliseconds(1)));
      if (line == want) return before;
      if (line == "<timeout>" || line == "<closed>") {
        ADD_FAILURE() << "no \"" << want << "\", got " << line << " after "
                      << (before.empty() ? "nothing" : before.back());
        return before;
      }
      before.push_back(std::move(line));
    }
  }
  int fd() const { return fd_; }

 private:
  int fd_;
  std::string buffer_;
};

}  // namespace troupe::chat

#endif  // EXAMPLES_CHAT_CHAT_TEST_CLIENT_H_
