#include "framework/record/recording.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

namespace troupe {

absl::StatusOr<Recording> Recording::FromProto(record::Recording proto) {
  absl::flat_hash_set<uint64_t> keys;
  for (const record::ActorLog& actor : proto.actors()) {
    if (actor.key() == 0 || !keys.insert(actor.key()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("recording: actor key ", actor.key(), " is zero or used twice"));
    }
  }
  for (const record::ActorLog& actor : proto.actors()) {
    if (actor.spawner() != 0 && !keys.contains(actor.spawner())) {
      return absl::InvalidArgumentError(absl::StrCat("recording: actor ", actor.key(),
                                                     " was spawned by unknown actor ",
                                                     actor.spawner()));
    }
    for (int i = 0; i < actor.handled_size(); ++i) {
      const record::Handled& h = actor.handled(i);
      if (h.type() >= static_cast<uint32_t>(proto.types_size())) {
        return absl::InvalidArgumentError(absl::StrCat("recording: actor ", actor.key(),
                                                       " message #", i + 1, " has type index ",
                                                       h.type(), " of ", proto.types_size()));
      }
      if (h.sender() != 0 && !keys.contains(h.sender())) {
        return absl::InvalidArgumentError(absl::StrCat("recording: actor ", actor.key(),
                                                       " message #", i + 1,
                                                       " comes from unknown actor ", h.sender()));
      }
    }
  }
  return Recording(std::move(proto));
}

absl::StatusOr<Recording> Recording::Parse(std::string_view bytes) {
  record::Recording proto;
  if (!proto.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InvalidArgumentError(
        absl::StrCat("recording: ", bytes.size(), " bytes that are not a recording"));
  }
  return FromProto(std::move(proto));
}

absl::StatusOr<Recording> Recording::ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int error = errno;
    std::string what = absl::StrCat("cannot read ", path, ": ", std::strerror(error));
    return error == EACCES ? absl::PermissionDeniedError(what) : absl::NotFoundError(what);
  }
  std::ostringstream bytes;
  bytes << in.rdbuf();
  absl::StatusOr<Recording> recording = Parse(bytes.str());
  if (!recording.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", recording.status().message()));
  }
  return recording;
}

std::string Recording::Serialize() const { return proto_.SerializeAsString(); }

absl::Status Recording::WriteFile(const std::string& path) const {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  const std::string bytes = Serialize();
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

uint64_t Recording::messages() const {
  uint64_t n = 0;
  for (const record::ActorLog& actor : proto_.actors()) n += actor.handled_size();
  return n;
}

uint64_t Recording::inputs() const {
  uint64_t n = 0;
  for (const record::ActorLog& actor : proto_.actors()) {
    for (const record::Handled& h : actor.handled()) n += h.sender() == 0;
  }
  return n;
}

uint64_t Recording::output_bytes() const {
  uint64_t n = 0;
  for (const record::ActorLog& actor : proto_.actors()) n += actor.output().size();
  return n;
}

std::string Recording::Summary() const {
  return absl::StrCat(actors(), " actors, ", messages(), " messages handled (", inputs(),
                      " from outside), ", output_bytes(), " bytes written, ",
                      proto_.ByteSizeLong(), " bytes serialized");
}

}  // namespace troupe
