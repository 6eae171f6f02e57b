// Blocking work done right: reads files on the executor (never on a worker) while a heartbeat
// actor keeps ticking, then prints each file's word count.
//
//   bazel run //examples/blocking:word_count -- /etc/hostname /usr/share/common-licenses/GPL-3
#include <cctype>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/time/clock.h"
#include "actors/executor/blocking_io.h"
#include "actors/executor/run_blocking.h"
#include "framework/base/notification.h"
#include "framework/system/actor_system.h"

namespace {

struct Count {
  std::string path;
};
using CounterProtocol = troupe::Protocol<Count>;

// Counts words in the files it is told about; the reading happens on the executor.
class WordCounter : public troupe::Actor<WordCounter, CounterProtocol> {
 public:
  WordCounter(int files, troupe::Notification* done) : remaining_(files), done_(done) {}

  troupe::Task<> Handle(Count c) {
    // Named, not written inside the co_await: see the g++ 12 caveat in framework/actor/task.h.
    auto read = [path = c.path] { return troupe::ReadWholeFile(path); };
    absl::StatusOr<std::string> text = co_await troupe::RunBlockingAwait(ctx(), read);
    if (text.ok()) {
      std::printf("%8zu words  %s\n", Words(*text), c.path.c_str());
    } else {
      std::printf("   error  %s: %s\n", c.path.c_str(),
                  std::string(text.status().message()).c_str());
    }
    if (--remaining_ == 0) done_->Notify();
  }

 private:
  static size_t Words(const std::string& text) {
    size_t words = 0;
    bool in_word = false;
    for (unsigned char ch : text) {
      const bool letter = !std::isspace(ch);
      if (letter && !in_word) ++words;
      in_word = letter;
    }
    return words;
  }
  int remaining_;
  troupe::Notification* done_;
};

struct Beat {};
using HeartProtocol = troupe::Protocol<Beat>;
class Heartbeat : public troupe::Actor<Heartbeat, HeartProtocol> {
 public:
  void Handle(Beat) { ++beats_; }
  ~Heartbeat() override { std::printf("heartbeat: %d beats while files were read\n", beats_); }

 private:
  void OnStart() override { ctx().SendPeriodically(absl::Milliseconds(10), self(), Beat{}); }
  int beats_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "word_count [FILE...]: counts the words of each file on the executor (blocking reads never "
      "run on a worker) while a heartbeat actor keeps ticking. Without files: a few system files "
      "and one that does not exist.");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  std::vector<std::string> paths(args.begin() + 1, args.end());
  if (paths.empty()) paths = {"/etc/hostname", "/etc/os-release", "/no/such/file"};
  troupe::Notification done;
  {
    troupe::ActorSystem system;
    auto heart = system.Spawn<Heartbeat>().value();
    auto counter = system.Spawn<WordCounter>(static_cast<int>(paths.size()), &done).value();
    for (const std::string& p : paths) counter.Tell(Count{p});
    done.WaitForNotification();
    absl::SleepFor(absl::Milliseconds(50));
  }
  return 0;
}
