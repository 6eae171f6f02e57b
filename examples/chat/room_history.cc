#include "examples/chat/room_history.h"

#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "actors/executor/blocking_io.h"
#include "actors/executor/run_blocking.h"
#include "framework/log/log.h"

namespace troupe::chat {

std::string RoomHistoryPath(const std::string& dir, const std::string& room) {
  return dir.empty() ? "" : absl::StrCat(dir, "/", room, ".log");
}

void LoadRoomHistory(ActorContext& ctx, const std::string& room, const std::string& path,
                     std::function<void(std::vector<std::string>)> then) {
  if (path.empty()) {
    then({});
    return;
  }
  RunBlocking(
      ctx, [path] { return ReadWholeFile(path); },
      [room, then = std::move(then)](absl::StatusOr<std::string> contents) {
        std::vector<std::string> lines;
        if (contents.ok()) {
          for (absl::string_view line : absl::StrSplit(*contents, '\n', absl::SkipEmpty())) {
            lines.push_back(absl::StrCat(line, "\n"));
          }
        } else if (!absl::IsNotFound(contents.status())) {
          Log(absl::LogSeverity::kError, "chat: history not read",
              {{"room", room}, {"why", contents.status().ToString()}});
        }
        then(std::move(lines));
      });
}

RoomHistory::RoomHistory(std::string room, std::string path, std::vector<std::string> earlier)
    : room_(std::move(room)), path_(std::move(path)) {
  for (std::string& line : earlier) lines_.push_back(std::move(line));
  while (lines_.size() > kHistoryLines) lines_.pop_front();
}

void RoomHistory::Add(ActorContext& ctx, std::string line) {
  if (!path_.empty()) {
    unwritten_ += line;
    if (!appending_) StartAppend(ctx);
  }
  lines_.push_back(std::move(line));
  if (lines_.size() > kHistoryLines) lines_.pop_front();
}

void RoomHistory::Flush(absl::AnyInvocable<void(bool)> done) {
  if (!appending_ && unwritten_.empty()) {
    done(true);
    return;
  }
  flush_waiters_.push_back(std::move(done));
}

void RoomHistory::StartAppend(ActorContext& ctx) {
  appending_ = true;
  RunBlocking(
      ctx,
      [path = path_, data = std::exchange(unwritten_, {})] { return AppendToFile(path, data); },
      [this, &ctx](absl::Status status) {
        appending_ = false;
        if (!status.ok()) {
          Log(absl::LogSeverity::kError, "chat: history not saved", {{"room", room_}, {"why", status.ToString()}});
        }
        if (!unwritten_.empty()) {
          StartAppend(ctx);
          return;
        }
        for (auto& waiter : flush_waiters_) waiter(status.ok());
        flush_waiters_.clear();
      });
}

}  // namespace troupe::chat
